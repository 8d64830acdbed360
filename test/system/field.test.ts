// A screen in the field, every part in its own process as a fleet runs them: mosquitto, the
// NovaStar simulator on a virtual serial cable (`ledagent simulate novastar --pty`), the reference
// collector (`ledagent ops collect`), and the agent (`ledagent run`), all the built CLI. Ops push
// a signed schedule with `ledagent ops push-schedule`; verified proofs arrive at the collector.
// Then the agent is killed with -9 (its whole process group, as systemd kills the unit's cgroup)
// several times while a paid item is on screen, and started again each time. At the end the
// collector holds the device's chain, entry for entry: no gaps, no problems, nothing twice.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentStatus } from "../../agent/commands/index.js";
import { callDaemon } from "../../agent/commands/index.js";
import { AgentProcesses, type Agent } from "../daemon/agent-process.js";
import { CLI, runCli, type CliResult } from "../helpers/cli.js";
import { startMosquitto, type Mosquitto } from "../helpers/mosquitto.js";
import { readRows } from "../helpers/db-rows.js";
import { tempDir } from "../helpers/tmp.js";
import { CreativeServer, type Creative } from "../link/link-rig.js";

const SCREEN = "sz-field-001";
const KILLS = 3;
const tmp = tempDir("ledagent-field-");
const dir = tmp.dir;
const config = join(dir, "config.yaml");
const dataDir = join(dir, "data");
const runDir = join(dir, "run");
const collectorDb = join(dir, "collector.db");
const keysDir = join(dir, "screens");
const env: NodeJS.ProcessEnv = { LEDAGENT_CONFIG: config, LEDAGENT_CONTROLLER_POLL_INTERVAL_S: "1" };

let broker: Mosquitto;
let creatives: CreativeServer;
let simulator: ChildProcess;
let collector: ChildProcess;
let collectorLog = "";
const agents = new AgentProcesses({ config, runDir });
let agent: Agent | null = null;

const cli = (args: string[], timeoutMs = 60_000): Promise<CliResult> => runCli(args, { env, timeoutMs });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => T | null | Promise<T | null>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got !== null) return got;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\nagent: ${agent?.output().slice(-3000) ?? ""}\ncollector: ${collectorLog.slice(-2000)}`);
    await sleep(100);
  }
}

/** A child of the built CLI whose first stdout line (or a match of it) is awaited. */
async function startChild(args: string[], ready: RegExp): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const onData = (d: Buffer): void => void (out += d.toString());
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  const match = await until(`ledagent ${args.slice(0, 2).join(" ")} to be ready`, () => ready.exec(out) ?? (child.exitCode !== null ? Promise.reject(new Error(out)) : null), 20_000);
  return { child, match };
}

const rows = (file: string, sql: string, ...params: string[]) => readRows<{ seq: number; hash: string }>(file, sql, ...params);
const deviceRows = () => rows(join(dataDir, "ledagent.db"), "SELECT seq, hash FROM ledger_entries ORDER BY seq");
const collectorRows = () => rows(collectorDb, "SELECT seq, hash FROM entries WHERE screen = ? ORDER BY seq", SCREEN);
const collectorHead = (): number => collectorRows().at(-1)?.seq ?? 0;

async function status(): Promise<AgentStatus | null> {
  const call = await callDaemon(runDir, "status", {}, { timeoutMs: 3000 }).catch(() => null);
  return call?.daemon === "answered" && call.outcome.ok ? (call.outcome.result as AgentStatus) : null;
}

async function startAgent(): Promise<Agent> {
  agent = agents.start(env);
  await agents.reachable(agent);
  return agent;
}

/** Paid plays (and fill between them) recorded in the device's ledger so far. */
async function plays(): Promise<Array<{ seq: number; campaign: string; status: string }>> {
  const exported = await cli(["proofs", "export"]);
  expect(exported.code, exported.stderr).toBe(0);
  return exported.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { kind: string; seq: number; play?: { campaign: string; status: string } })
    .flatMap((e) => (e.kind === "play" && e.play ? [{ seq: e.seq, campaign: e.play.campaign, status: e.play.status }] : []));
}

beforeAll(async () => {
  [broker, creatives] = await Promise.all([startMosquitto(), CreativeServer.start()]);
  const sim = await startChild(["simulate", "novastar", "--pty"], /(serial:\/\/\/\S+)/);
  simulator = sim.child;
  const keys = await cli(["ops", "keys", "init", "--dir", join(dir, "ops")]);
  expect(keys.code, keys.stderr).toBe(0);
  const init = await cli([
    "init", "--screen", SCREEN, "--data-dir", dataDir, "--run-dir", runDir, "--panel", "64x32", "--headless", "--config", config,
    "--ops-public-key", join(dir, "ops", "ops.pub.pem"), "--mqtt-url", broker.url, "--controller", sim.match[1],
  ]);
  expect(init.code, init.stderr).toBe(0);
  const pub = await cli(["keys", "show"]);
  expect(pub.code, pub.stderr).toBe(0);
  mkdirSync(keysDir);
  writeFileSync(join(keysDir, `${SCREEN}.pub.pem`), pub.stdout);
  const c = await startChild(["ops", "collect", "--url", broker.url, "--keys", keysDir, "--db", collectorDb], /collecting /);
  collector = c.child;
  collector.stdout?.on("data", (d: Buffer) => (collectorLog += d.toString()));
}, 60_000);

afterAll(async () => {
  await agents.killAll();
  for (const child of [collector, simulator]) child?.kill("SIGTERM");
  await Promise.allSettled([broker?.close(), creatives?.close()]);
  tmp.cleanup();
});

describe("the field: separate processes, kill -9 mid-play", () => {
  it(`schedule pushed, proofs verified at the collector, ${KILLS} kill -9 mid-play, a gap-free chain at the end`, async () => {
    await startAgent();
    const fill: Creative = creatives.clip(dir, "house", "smptebars", 2);
    const ads = [creatives.clip(dir, "acme", "testsrc", 2), creatives.clip(dir, "brew", "rgbtestsrc", 2)];
    const now = Date.now();
    const schedule = {
      kind: "ledagent.schedule/v1", screen: SCREEN, version: 1, issuedAt: new Date(now - 60_000).toISOString(), timezone: "UTC",
      creatives: [fill, ...ads],
      campaigns: ads.map((a) => ({ id: `${a.id}-c`, customer: `${a.id}-co`, creatives: [a.id], start: new Date(now - 60_000).toISOString(), end: new Date(now + 3_600_000).toISOString(), playsPerHour: 300 })),
      fill: [fill.id],
    };
    const docFile = join(dir, "schedule.json");
    writeFileSync(docFile, JSON.stringify(schedule));
    const push = await cli(["ops", "push-schedule", docFile, "--key", join(dir, "ops", "ops.key"), "--url", broker.url, "--timeout", "90"], 120_000);
    expect(push.code, push.stderr).toBe(0);
    expect(JSON.parse(push.stdout)).toMatchObject({ version: 1, state: "applied" });

    // Verified proofs arrive: the collector stores a paid play the device recorded.
    const firstPaid = await until("a paid play", async () => (await plays()).find((p) => p.campaign !== "fill" && p.status === "completed") ?? null, 60_000);
    await until("the collector to hold the first paid play", () => (collectorHead() >= firstPaid.seq ? true : null), 30_000);
    expect(collectorLog).not.toMatch(/bad-signature|forged|conflict|gap/);

    for (let kill = 1; kill <= KILLS; kill++) {
      // Mid-play: a paid item has shown its first frame and has not ended.
      await until("a paid item on screen", async () => {
        const s = await status();
        const now = s?.playout?.nowPlaying;
        return now && now.campaign !== null && Date.now() - Date.parse(now.since) < 1000 ? true : null;
      }, 60_000);
      agents.killGroup(agent as Agent);
      await (agent as Agent).exited;
      const seqBefore = deviceRows().at(-1)?.seq ?? 0;
      await startAgent();
      // It plays again after the restart, and the plays are recorded after what was there.
      await until(`a completed play after kill ${kill}`, async () => ((await plays()).some((p) => p.seq > seqBefore && p.status === "completed") ? true : null), 60_000);
    }

    // Everything the device recorded reaches the collector: proofs.sync answers once acked.
    const sync = await cli(["ops", "cmd", "proofs.sync", "--screen", SCREEN, "--key", join(dir, "ops", "ops.key"), "--url", broker.url], 150_000);
    expect(sync.code, sync.stdout + sync.stderr).toBe(0);
    const acked = (JSON.parse(sync.stdout) as { result: { through: number } }).result.through;
    // A clean stop, so that nothing more reaches the collector while the two sides are compared.
    expect((await agents.terminate(agent as Agent)).code).toBe(0);
    const device = deviceRows();
    const held = collectorRows();
    expect(held.length).toBeGreaterThanOrEqual(acked);
    // Entry for entry the device's chain: seq 1.. without a gap, each with the device's hash.
    expect(held.map((r) => r.seq)).toEqual(held.map((_, i) => i + 1));
    expect(held).toEqual(device.slice(0, held.length));
    const report = await cli(["ops", "collect", "--report", "--json", "--db", collectorDb]);
    expect(report.code, report.stderr).toBe(0);
    expect(JSON.parse(report.stdout)).toMatchObject({ screen: SCREEN, entries: held.length, headSeq: held.length, gaps: [], problems: [] });
    // The device's own ledger verifies under its key, and records each start after a kill.
    const exported = await cli(["proofs", "export"]);
    const verify = await runCli(["proofs", "verify", "--key", join(dataDir, "keys", "device.pub.pem"), "-"], { env, input: exported.stdout });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const starts = exported.stdout.split("\n").filter((l) => l.includes('"agent.started"'));
    expect(starts.length).toBe(KILLS + 1);
  }, 420_000);
});
