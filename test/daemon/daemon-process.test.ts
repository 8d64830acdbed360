// `ledagent run` as systemd runs it: the built CLI in its own process (npm test builds dist/; by
// hand, `npx tsc -p tsconfig.build.json`), a headless mpv, no controller, no schedule. What the
// ledger holds afterwards is exported and verified here with the code behind `ledagent proofs
// export | proofs verify` (their own tests run the commands): two command starts per check
// would cost this file about ten seconds.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventEntry } from "../../agent/proofs/types.js";
import { callDaemon } from "../../agent/commands/index.js";
import { runCli, type CliResult } from "../helpers/cli.js";
import { AgentProcesses, type Agent } from "./agent-process.js";
import { tempDir } from "../helpers/tmp.js";
import { verifiedLedgerLines } from "../helpers/verified-ledger.js";

const tmp = tempDir("ledagent-daemon-");
const config = join(tmp.dir, "config.yaml");
const dataDir = join(tmp.dir, "data");
const runDir = join(tmp.dir, "run");
const env: NodeJS.ProcessEnv = { LEDAGENT_CONFIG: config };
const cli = (args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<CliResult> => runCli(args, { env: { ...env, ...extraEnv } });

const agents = new AgentProcesses({ config, runDir });
const startAgent = (extraEnv: NodeJS.ProcessEnv = {}): Agent => agents.start(extraEnv);
const reachable = (agent: Agent, timeoutMs?: number): Promise<void> => agents.reachable(agent, timeoutMs);
const terminate = (agent: Agent, signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }> => agents.terminate(agent, signal);

/** The whole ledger, exported and verified with the device's public key (as a third party would). */
async function verifiedEvents(): Promise<EventEntry[]> {
  const lines = await verifiedLedgerLines({ dataDir, runDir }, join(dataDir, "keys", "device.pub.pem"));
  return lines.map((line) => JSON.parse(line) as EventEntry).filter((e) => e.kind === "event");
}

beforeAll(async () => {
  const init = await cli(["init", "--screen", "sz-daemon-001", "--data-dir", dataDir, "--run-dir", runDir, "--panel", "64x32", "--headless"]);
  expect(init.code, init.stderr).toBe(0);
});

/** kill -9 of the agent and what it started, as systemd does to the unit's cgroup when its main process dies. */
const killGroup = (agent: Agent): void => agents.killGroup(agent);

afterAll(async () => {
  await agents.killAll();
  tmp.cleanup();
});

describe("ledagent run", () => {
  it("a config error exits 1 naming the key, before anything starts", async () => {
    const bad = await cli(["run", "--config", config], { LEDAGENT_PANEL_WIDTH: "0", LEDAGENT_CONFIG: undefined });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe("ledagent: bad config: panel.width: 0: expected >=8\n");
    // Nothing started: no run directory, no ledger.
    expect(existsSync(runDir)).toBe(false);
    expect(existsSync(join(dataDir, "ledagent.db"))).toBe(false);
  });

  it("with no agent running, status exits 1 saying how to start it", async () => {
    expect(await cli(["status"])).toEqual({ code: 1, stdout: "", stderr: "ledagent: the agent is not running: start it with `ledagent run` or systemctl start ledagent\n" });
  });

  it("serves status on its control socket, lets note write beside it, refuses a second agent, and stops on SIGTERM within 5 s", async () => {
    const agent = startAgent();
    await reachable(agent);

    const status = await cli(["status"]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^on screen {3}nothing$/m);
    expect(status.stdout).toMatch(/^schedule {4}none loaded$/m);
    expect(status.stdout).toMatch(/^controller {2}offline: no controller configured$/m);
    expect(status.stdout).toMatch(/^ledger {6}head seq 1$/m);
    const json = await cli(["status", "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ playout: { scheduleVersion: null, suspension: null, takedowns: [] }, ledger: { headSeq: 1 }, controller: { online: false } });

    const note = await cli(["note", "replaced receiving card 3"]);
    expect(note).toMatchObject({ code: 0, stdout: "noted as seq 2\n" });

    const second = await cli(["run"]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/^ledagent: run directory did not start: another daemon answers on .*control\.sock: is ledagent already running\?\n$/);

    const { code, ms } = await terminate(agent);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(5000);
    expect(existsSync(join(runDir, "control.sock"))).toBe(false);

    const events = await verifiedEvents();
    expect(events.map((e) => e.event.type)).toEqual(["agent.started", "technician.note", "agent.stopped"]);
    expect(events[0].event).toEqual({ type: "agent.started", version: expect.any(String), pid: agent.child.pid });
    expect(events[2].event).toEqual({ type: "agent.stopped", reason: "SIGTERM" });
  }, 90_000);

  it("after a kill -9 the next start records agent.started unclean with the last seq, and the chain verifies", async () => {
    const crashed = startAgent();
    await reachable(crashed);
    const before = (await verifiedEvents()).at(-1) as EventEntry;
    expect(before.event).toMatchObject({ type: "agent.started", pid: crashed.child.pid });
    killGroup(crashed);
    await crashed.exited;

    const next = startAgent();
    await reachable(next);
    expect((await terminate(next)).code).toBe(0);
    const events = await verifiedEvents();
    const restarted = events.find((e) => e.event.type === "agent.started" && e.event.pid === next.child.pid) as EventEntry;
    expect(restarted.event).toEqual({ type: "agent.started", version: expect.any(String), pid: next.child.pid, unclean: true, lastSeq: before.seq });
    expect(restarted.seq).toBe(before.seq + 1);
    expect(events.at(-1)?.event).toEqual({ type: "agent.stopped", reason: "SIGTERM" });
  }, 90_000);

  it("agent.restart stops cleanly and exits 75 for systemd to start it again", async () => {
    const agent = startAgent();
    await reachable(agent);
    const call = await callDaemon(runDir, "agent.restart", { reason: "new firmware on the sending card" }, { timeoutMs: 5000 });
    expect(call).toEqual({ daemon: "answered", outcome: { ok: true, result: { restarting: true } } });
    expect((await agent.exited).code).toBe(75);
    const events = await verifiedEvents();
    expect(events.slice(-2).map((e) => e.event)).toEqual([
      expect.objectContaining({ type: "command.executed", name: "agent.restart", ok: true }),
      { type: "agent.stopped", reason: "restart", detail: "new firmware on the sending card" },
    ]);
    // The next start is not unclean: the previous run ended with agent.stopped.
    const again = startAgent();
    await reachable(again);
    expect((await terminate(again, "SIGINT")).code).toBe(0);
    const last = await verifiedEvents();
    expect(last.at(-2)?.event).toEqual({ type: "agent.started", version: expect.any(String), pid: again.child.pid });
    expect(last.at(-1)?.event).toEqual({ type: "agent.stopped", reason: "SIGINT" });
  }, 90_000);
});
