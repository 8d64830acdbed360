// The live orders, `status` and `controller …` as a technician types them, against a control
// socket served by the real registry over stand-in parts: what reaches the parts, what is printed,
// and the exit codes (1 refused or no agent, 2 bad usage).
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CommandRegistry, ControlSocketServer } from "../../agent/commands/index.js";
import { registerControllerCommands } from "../../agent/cli/controller.js";
import { registerOrderCommands } from "../../agent/cli/orders.js";
import { registerStatusCommand } from "../../agent/cli/status.js";
import type { Command } from "commander";
import { FakeController, FakePlayout, NOW } from "../commands/fakes.js";
import { runCliInProcess, type CliResult } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";

const tmp = tempDir("ledagent-orders-cli-");
const withAgent = join(tmp.dir, "with-agent.yaml");
const noAgent = join(tmp.dir, "no-agent.yaml");
const runDir = join(tmp.dir, "run");

function register(program: Command): void {
  registerStatusCommand(program);
  registerOrderCommands(program);
  registerControllerCommands(program);
}

const ledagent = (...args: string[]): Promise<CliResult> => runCliInProcess(register, ["--config", withAgent, ...args]);
const NOT_RUNNING = "ledagent: the agent is not running: start it with `ledagent run` or systemctl start ledagent\n";

let playout: FakePlayout;
let controller: FakeController;
let server: ControlSocketServer;

beforeAll(() => {
  const common = `screenId: test\ndataDir: ${join(tmp.dir, "data")}\ntimezone: Asia/Shanghai\npanel: { width: 64, height: 32 }\n`;
  writeFileSync(withAgent, `${common}runDir: ${runDir}\n`);
  writeFileSync(noAgent, `${common}runDir: ${join(tmp.dir, "nobody")}\n`);
});
afterAll(() => tmp.cleanup());

beforeEach(async () => {
  playout = new FakePlayout();
  controller = new FakeController();
  const registry = new CommandRegistry({ playout, controller, now: () => NOW });
  server = new ControlSocketServer({ registry, runDir });
  await server.start();
});
afterEach(() => server.stop());

describe("live orders through the agent", () => {
  it("suspend sends the reason, the --until read in the configured zone, the campaigns and blackout", async () => {
    const r = await ledagent("suspend", "--reason", "typhoon signal 8", "--until", "2026-12-01T10:00", "--campaign", "cola-dec", "--campaign", "pepsi-dec", "--blackout");
    expect(r).toEqual({ code: 0, stderr: "", stdout: "suspended campaigns cola-dec, pepsi-dec until 2026-12-01 10:00:00 +08:00, screen blacked out\n" });
    expect(playout.calls).toEqual([
      {
        op: "suspend",
        arg: { reason: "typhoon signal 8", until: "2026-12-01T02:00:00.000Z", campaigns: ["cola-dec", "pepsi-dec"], blackout: true, origin: { kind: "local", user: expect.any(String) } },
        origin: { kind: "local", user: expect.any(String) },
      },
    ]);
  });

  it("a refusal prints the agent's message and exits 1; args the agent finds bad exit 2", async () => {
    expect(await ledagent("resume")).toEqual({ code: 1, stdout: "", stderr: "ledagent: no live suspension to resume\n" });
    const past = await ledagent("suspend", "--reason", "storm", "--until", "2026-11-30");
    expect(past).toEqual({ code: 2, stdout: "", stderr: "ledagent: until: 2026-11-29T16:00:00.000Z is not in the future\n" });
  });

  it("resume after a suspension says for how long", async () => {
    expect((await ledagent("suspend", "--reason", "storm")).stdout).toBe("suspended the whole screen until `ledagent resume`\n");
    expect(await ledagent("resume")).toEqual({ code: 0, stderr: "", stdout: "resumed after 0 s suspended\n" });
  });

  it("takedown: immediate unless --no-immediate; --lift ends the order", async () => {
    expect((await ledagent("takedown", "--campaign", "cola-dec")).stdout).toBe("campaign cola-dec taken off air now (order since 2026-12-01 08:00:00 +08:00)\n");
    expect((await ledagent("takedown", "--creative", "pepsi-15", "--no-immediate")).stdout).toBe("creative pepsi-15 taken off air once what is on screen ends (order since 2026-12-01 08:00:00 +08:00)\n");
    expect((await ledagent("takedown", "--campaign", "cola-dec", "--lift")).stdout).toBe("takedown of campaign cola-dec lifted: it may air again\n");
    expect(playout.calls.map((c) => [c.op, c.arg])).toEqual([
      ["takedown", expect.objectContaining({ target: { campaign: "cola-dec" }, immediate: true })],
      ["takedown", expect.objectContaining({ target: { creative: "pepsi-15" }, immediate: false })],
      ["lift", { campaign: "cola-dec" }],
    ]);
    expect(await ledagent("takedown", "--campaign", "nope", "--lift")).toEqual({ code: 1, stdout: "", stderr: "ledagent: no takedown of that to lift\n" });
  });

  it("takedown needs exactly one target, and no --no-immediate with --lift (bad usage, nothing sent)", async () => {
    expect(await ledagent("takedown")).toEqual({ code: 2, stdout: "", stderr: "ledagent: takedown: give exactly one of --campaign K or --creative C\n" });
    expect((await ledagent("takedown", "--campaign", "a", "--creative", "b")).code).toBe(2);
    expect(await ledagent("takedown", "--campaign", "a", "--lift", "--no-immediate")).toEqual({ code: 2, stdout: "", stderr: "ledagent: takedown: --no-immediate does not go with --lift (a lift only ends the order)\n" });
    expect(playout.calls).toEqual([]);
  });

  it("play sends the file as an absolute path; pattern checks its name and seconds first", async () => {
    expect((await ledagent("play", "clips/test.mp4", "--times", "3")).code).toBe(0);
    expect(playout.calls[0]).toMatchObject({ op: "testPlay", arg: { file: resolve("clips/test.mp4"), times: 3 } });
    expect(await ledagent("pattern", "grid", "--seconds", "5")).toEqual({ code: 0, stderr: "", stdout: "test pattern grid on screen for 5 s\n" });
    expect(playout.calls[1]).toMatchObject({ op: "showPattern", arg: { name: "grid", seconds: 5 } });
    expect(await ledagent("pattern", "plaid")).toEqual({ code: 2, stdout: "", stderr: "ledagent: pattern: \"plaid\" is not one of bars, grid, white, red, green, blue, gradient\n" });
    expect((await ledagent("pattern", "grid", "--seconds", "0")).code).toBe(2);
    expect((await ledagent("play", "x.mp4", "--times", "101")).code).toBe(2);
    expect(playout.calls).toHaveLength(2);
  });

  it("status prints the agent's state for people, and --json the raw result", async () => {
    playout.takedowns = [{ campaign: "cola-dec", creative: null, since: "2026-12-01T00:00:00.000Z" }];
    const r = await ledagent("status");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^schedule {4}v7$/m);
    expect(r.stdout).toMatch(/^taken down {2}campaign cola-dec since 2026-12-01 08:00:00 \+08:00$/m);
    expect(r.stdout).toMatch(/^controller {2}online, brightness 80 %, blackout off, 31 °C, no faults$/m);
    expect(r.stdout).toMatch(/^ledger {6}not open$/m);
    const json = JSON.parse((await ledagent("status", "--json")).stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ playout: { scheduleVersion: 7 }, controller: { online: true, brightness: 80 }, ledger: null });
  });
});

describe("controller commands go through the running agent", () => {
  it("brightness, blackout, pattern, status and probe reach the agent's controller, not a second link", async () => {
    // The config says driver none: a direct path would refuse; the agent's controller answers.
    expect(await ledagent("controller", "brightness", "35")).toEqual({ code: 0, stderr: "", stdout: "brightness set to 35 %\n" });
    expect((await ledagent("controller", "blackout", "on")).code).toBe(0);
    expect((await ledagent("controller", "pattern", "red")).code).toBe(0);
    expect(controller.calls).toEqual(["brightness 35", "blackout true", "pattern red"]);
    const status = await ledagent("controller", "status", "--json");
    expect(JSON.parse(status.stdout)).toMatchObject({ online: true, brightness: 35, blackout: true });
    expect((await ledagent("controller", "status")).stdout).toMatch(/^controller {2}tcp:\/\/127\.0\.0\.1:5200 \(fake\)$/m);
    expect((await ledagent("controller", "probe")).stdout).toMatch(/^model {7}MCTRL600 family \(id 01 11\)$/m);
  });

  it("a controller refusal from the agent is one line and exit 1; a bad percent is bad usage before anything is sent", async () => {
    controller.failWith = "timeout";
    expect(await ledagent("controller", "blackout", "off")).toEqual({ code: 1, stdout: "", stderr: "ledagent: blackout false: timeout\n" });
    expect((await ledagent("controller", "brightness", "101")).code).toBe(2);
    expect(controller.calls).toEqual(["blackout false"]);
  });
});

describe("with no agent running", () => {
  const direct = (...args: string[]): Promise<CliResult> => runCliInProcess(register, ["--config", noAgent, ...args]);

  it("the live orders and status exit 1 saying how to start it", async () => {
    for (const args of [["status"], ["suspend", "--reason", "storm"], ["resume"], ["takedown", "--campaign", "a"], ["play", "/tmp/x.mp4"], ["pattern", "grid"]]) {
      expect(await direct(...args)).toEqual({ code: 1, stdout: "", stderr: NOT_RUNNING });
    }
  });

  it("controller commands work on the controller directly (here: none is configured, as the direct path says)", async () => {
    expect(await direct("controller", "status")).toEqual({
      code: 1,
      stdout: "",
      stderr: "ledagent: no controller configured (controller.driver is none): set controller.driver and controller.port in the config\n",
    });
  });
});
