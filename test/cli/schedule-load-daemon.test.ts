// `ledagent schedule load` while a daemon runs: the file goes to the daemon's schedule.load (a
// fake executor behind a real control socket here) and the CLI prints what the daemon did, the
// same lines as when it applies the file itself; it never applies it beside the daemon.
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { registerScheduleCommands } from "../../agent/cli/schedule.js";
import { ControlSocketServer, type CommandContext, type CommandExecutor, type CommandOutcome } from "../../agent/commands/index.js";
import { createKeyFiles } from "../../agent/crypto/index.js";
import { runCliInProcess, type CliResult } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";

const tmp = tempDir("ledagent-cli-load-daemon-");
const dataDir = join(tmp.dir, "data");
const runDir = join(tmp.dir, "run");
const configFile = join(tmp.dir, "config.yaml");
const envelopeFile = join(tmp.dir, "schedule.json");
const ENVELOPE_TEXT = '{"schedule":{"version":9},"sig":"c2ln"}\n';

class FakeDaemon implements CommandExecutor {
  readonly calls: Array<{ name: string; args: unknown; origin: CommandContext["origin"] }> = [];
  answer: CommandOutcome = { ok: true, result: null };

  async execute(name: string, args: unknown, ctx: CommandContext): Promise<CommandOutcome> {
    this.calls.push({ name, args, origin: ctx.origin });
    return this.answer;
  }
}

const daemon = new FakeDaemon();
let server: ControlSocketServer | null = null;

const load = (): Promise<CliResult> => runCliInProcess(registerScheduleCommands, ["--config", configFile, "schedule", "load", envelopeFile]);

beforeAll(async () => {
  createKeyFiles(join(dataDir, "keys", "device.key"), join(dataDir, "keys", "device.pub.pem"));
  // No opsPublicKey and no ledger: the CLI could not apply anything itself, so every line below came from the daemon.
  writeFileSync(configFile, `screenId: sz-daemon-001\ndataDir: ${dataDir}\nrunDir: ${runDir}\npanel: { width: 64, height: 32 }\n`);
  writeFileSync(envelopeFile, ENVELOPE_TEXT);
  server = new ControlSocketServer({ registry: daemon, runDir });
  await server.start();
});
afterEach(() => {
  daemon.calls.length = 0;
});
afterAll(async () => {
  await server?.stop();
  tmp.cleanup();
});

describe("ledagent schedule load through a running daemon", () => {
  it("sends the file's text and its source to schedule.load, and prints the daemon's outcome as the direct path does", async () => {
    daemon.answer = { ok: true, result: { state: "applied", version: 9, previousVersion: 5 } };
    const r = await load();
    expect(r).toEqual({ code: 0, stdout: "schedule v9 applied (was v5)\n", stderr: "" });
    expect(daemon.calls).toEqual([{ name: "schedule.load", args: { envelope: ENVELOPE_TEXT, source: `file:${envelopeFile}` }, origin: { kind: "local", user: expect.any(String) } }]);
    daemon.answer = { ok: true, result: { state: "applied", version: 9, previousVersion: null, completed: true } };
    expect((await load()).stdout).toBe("schedule v9 applied; the ledger had recorded it already, the stored schedule was behind and is now complete\n");
    daemon.answer = { ok: true, result: { state: "unchanged", version: 9 } };
    expect(await load()).toEqual({ code: 0, stdout: "schedule v9 is already in force; nothing changed\n", stderr: "" });
  });

  it("a rejection fails with the daemon's reasons, as when the CLI rejects it itself", async () => {
    daemon.answer = { ok: true, result: { state: "rejected", version: 9, reasons: ["bad signature: not signed by the ops key"], moreReasons: 2 } };
    expect(await load()).toEqual({ code: 1, stdout: "", stderr: "ledagent: schedule rejected: bad signature: not signed by the ops key; and 2 more\n" });
  });

  it("a refusal prints the daemon's message and exits 1; an answer that is no schedule outcome is not trusted", async () => {
    daemon.answer = { ok: false, error: { code: "failed", message: "schedule v9 not applied: the ledger could not record it (disk full)" } };
    expect(await load()).toEqual({ code: 1, stdout: "", stderr: "ledagent: schedule v9 not applied: the ledger could not record it (disk full)\n" });
    daemon.answer = { ok: true, result: { state: "applied", version: "nine" } };
    const odd = await load();
    expect([odd.code, odd.stderr]).toEqual([1, "ledagent: schedule load: the daemon answered with something that is not a schedule outcome\n"]);
    expect(daemon.calls).toHaveLength(2);
  });
});

describe("ledagent schedule load with a daemon that does not answer", () => {
  it("fails naming why, and never applies the file beside it", async () => {
    const mute = join(tmp.dir, "mute");
    const muteConfig = join(tmp.dir, "mute.yaml");
    writeFileSync(muteConfig, `screenId: sz-daemon-001\ndataDir: ${dataDir}\nrunDir: ${mute}\npanel: { width: 64, height: 32 }\n`);
    mkdirSync(mute);
    // Something holds the socket but hangs up on every request: a daemon there, not reachable.
    const hangUp = createServer((socket) => socket.resume().end());
    await new Promise<void>((resolve) => hangUp.listen(join(mute, "control.sock"), resolve));
    try {
      const r = await runCliInProcess(registerScheduleCommands, ["--config", muteConfig, "schedule", "load", envelopeFile]);
      expect([r.code, r.stdout, r.stderr]).toEqual([1, "", "ledagent: schedule load: the daemon closed the connection before answering schedule.load\n"]);
    } finally {
      await new Promise<void>((resolve) => hangUp.close(() => resolve()));
    }
  });
});
