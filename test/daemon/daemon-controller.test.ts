// `ledagent run` with a NovaStar controller (the project's simulator on TCP): the technician's
// `controller …` goes through the agent that holds the link, a schedule loaded with
// `ledagent schedule load` brings its brightness windows to the controller, and a controller that
// drops off and comes back leaves controller.fault and controller.recovered in the ledger.
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callDaemon, type AgentStatus } from "../../agent/commands/index.js";
import { signCanonical } from "../../agent/crypto/index.js";
import type { NovaStarSimulator } from "../../agent/drivers/novastar/simulator/server.js";
import { openLedgerReader } from "../../agent/proofs/index.js";
import type { EventEntry, EventType } from "../../agent/proofs/types.js";
import { tcpSimulator } from "../drivers/helpers.js";
import { CLI, runCli, type CliResult } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";

const tmp = tempDir("ledagent-daemon-controller-");
const config = join(tmp.dir, "config.yaml");
const dataDir = join(tmp.dir, "data");
const runDir = join(tmp.dir, "run");
const opsPublicKey = join(tmp.dir, "ops.pub.pem");
// Polled every second, so a fault is seen within a few.
const env: NodeJS.ProcessEnv = { LEDAGENT_CONFIG: config, LEDAGENT_CONTROLLER_POLL_INTERVAL_S: "1", LEDAGENT_CONTROLLER_TIMEOUT_MS: "300" };
const cli = (args: string[]): Promise<CliResult> => runCli(args, { env });
const ops = generateKeyPairSync("ed25519");

let sim: NovaStarSimulator;
let port = 0;
let agent: ChildProcess;
let exited: Promise<number | null>;
let output = "";

async function until<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const got = await probe().catch(() => null);
    if (got !== null) return got;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}:\n${output}`);
}

async function agentStatus(): Promise<AgentStatus | null> {
  const call = await callDaemon(runDir, "status", {}, { timeoutMs: 3000 });
  return call.daemon === "answered" && call.outcome.ok ? (call.outcome.result as AgentStatus) : null;
}

/** Read beside the running agent (WAL readers never block its writes). */
function ledgerHas(type: EventType): () => Promise<true | null> {
  return async () => {
    const { reader, close } = openLedgerReader({ dataDir, runDir });
    try {
      return reader.lastEvent(type) ? true : null;
    } finally {
      close();
    }
  };
}

function scheduleFile(): string {
  const schedule = {
    kind: "ledagent.schedule/v1",
    screen: "sz-controller-001",
    version: 3,
    issuedAt: "2026-01-01T00:00:00Z",
    timezone: "UTC",
    creatives: [{ id: "house", url: `file://${join(tmp.dir, "absent.mp4")}`, sha256: "a".repeat(64), durationMs: 10_000, approved: true }],
    campaigns: [],
    fill: ["house"],
    // The whole day at 45 %, whenever the test runs.
    brightness: [
      { from: "00:00", to: "12:00", percent: 45 },
      { from: "12:00", to: "00:00", percent: 45 },
    ],
  };
  const file = join(tmp.dir, "schedule.signed.json");
  writeFileSync(file, JSON.stringify({ schedule, sig: signCanonical(schedule, ops.privateKey) }));
  return file;
}

beforeAll(async () => {
  const started = await tcpSimulator();
  sim = started.sim;
  port = Number(new URL(started.url).port);
  writeFileSync(opsPublicKey, ops.publicKey.export({ type: "spki", format: "pem" }), { mode: 0o644 });
  const init = await cli(["init", "--screen", "sz-controller-001", "--data-dir", dataDir, "--run-dir", runDir, "--panel", "64x32", "--headless", "--controller", started.url, "--ops-public-key", opsPublicKey]);
  expect(init.code, init.stderr).toBe(0);
  // Its own process group, so that a test that fails can end its mpv with it.
  agent = spawn(process.execPath, [CLI, "run"], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  agent.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  agent.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  exited = new Promise((resolve) => agent.on("exit", (code) => resolve(code)));
  await until("the agent to answer with its controller online", async () => ((await agentStatus())?.controller?.online ? true : null));
}, 60_000);

afterAll(async () => {
  if (agent.exitCode === null && agent.signalCode === null) process.kill(-(agent.pid as number), "SIGKILL");
  await exited;
  await sim.close();
  tmp.cleanup();
});

describe("ledagent run with a NovaStar controller", () => {
  it("controller commands go through the agent, and the ledger records them", async () => {
    expect(await cli(["controller", "brightness", "35"])).toEqual({ code: 0, stderr: "", stdout: "brightness set to 35 %\n" });
    const status = await cli(["controller", "status", "--json"]);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ online: true, brightness: 35, faults: [] });
    expect((await cli(["controller", "probe"])).stdout).toMatch(/^model {7}MCTRL/m);
    const overview = await cli(["status"]);
    expect(overview.stdout).toMatch(/^controller {2}online, brightness 35 %, blackout off/m);
  }, 60_000);

  it("a loaded schedule's brightness windows reach the controller", async () => {
    const load = await cli(["schedule", "load", scheduleFile()]);
    expect(load).toEqual({ code: 0, stderr: "", stdout: "schedule v3 applied\n" });
    await until("brightness 45 %", async () => ((await agentStatus())?.controller?.brightness === 45 ? true : null));
  }, 60_000);

  it("a controller that drops off and comes back is a fault and a recovery in the ledger; the chain verifies", async () => {
    await sim.close();
    // Down until the poller has seen it (a status read of our own could see it first).
    await until("controller.fault in the ledger", ledgerHas("controller.fault"), 45_000);
    ({ sim } = await tcpSimulator(port));
    await until("controller.recovered in the ledger", ledgerHas("controller.recovered"), 45_000);
    // The new controller came up at full brightness: the schedule's 45 % is sent to it again.
    await until("brightness 45 % again after the recovery", async () => ((await agentStatus())?.controller?.brightness === 45 ? true : null), 30_000);

    agent.kill("SIGTERM");
    expect(await exited).toBe(0);
    const exported = await cli(["proofs", "export"]);
    const verify = await runCli(["proofs", "verify", "--key", join(dataDir, "keys", "device.pub.pem"), "-"], { env, input: exported.stdout });
    expect(verify.code, verify.stderr).toBe(0);
    const events = exported.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as EventEntry)
      .filter((e) => e.kind === "event")
      .map((e) => e.event);
    const types = events.map((e) => e.type);
    expect(events).toContainEqual(expect.objectContaining({ type: "command.executed", name: "brightness.set", args: { percent: 35 }, ok: true }));
    expect(events).toContainEqual(expect.objectContaining({ type: "schedule.applied", version: 3 }));
    expect(events).toContainEqual(expect.objectContaining({ type: "brightness.changed", percent: 45, source: "schedule" }));
    const fault = types.indexOf("controller.fault");
    expect(fault).toBeGreaterThan(types.indexOf("schedule.applied"));
    expect(events[fault]).toMatchObject({ newFaults: expect.arrayContaining(["link.down"]) });
    expect(types.indexOf("controller.recovered", fault)).toBeGreaterThan(fault);
    expect(types.at(-1)).toBe("agent.stopped");
  }, 150_000);
});
