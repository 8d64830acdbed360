// The parts of a proof sync under faults, each in its own process as a fleet runs them: a real
// mosquitto, `ledagent run` playing a schedule on headless mpv with a ledger backlog written
// beforehand, and `ledagent ops collect` (one or two). The rig strikes while the collector holds
// some of the backlog but not all, and reads both SQLite files to say what each side holds.
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { expect } from "vitest";
import type { BatchReport, ScreenReport } from "../../agent/collector/index.js";
import { callDaemon, type AgentStatus } from "../../agent/commands/index.js";
import { createKeyFiles, loadPrivateKey, signCanonical } from "../../agent/crypto/index.js";
import { agentPaths } from "../../agent/paths.js";
import { openLedger } from "../../agent/proofs/open.js";
import type { InFlightBatch } from "../../agent/proofs/outbox.js";
import { openDatabase } from "../../agent/store/index.js";
import { samplePlay } from "../../bench/ledger.js";
import { benchConfig, benchSchedule, makeClip, PANEL, SCREEN, type BenchClip } from "../../bench/playout-rig.js";
import { AgentProcesses, type Agent } from "../daemon/agent-process.js";
import { CLI, runCli, type CliResult } from "../helpers/cli.js";
import { startMosquitto, type Mosquitto } from "../helpers/mosquitto.js";

export { SCREEN };

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it gives a value; `why` says what was seen when it never did. */
export async function until<T>(what: string, probe: () => T | null | Promise<T | null>, timeoutMs: number, why: () => string = () => ""): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got !== null) return got;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${why()}`);
    await sleep(50);
  }
}

/** Clips for every rig of a file: made once, fitted by each device's own daemon. */
export interface Clips {
  paid: BenchClip[];
  fill: BenchClip[];
}

export function makeClips(dir: string): Clips {
  return { paid: [makeClip(dir, "alpha", 2, "testsrc"), makeClip(dir, "beta", 2, "rgbtestsrc")], fill: [makeClip(dir, "lobby", 3, "smptebars")] };
}

/** `ledagent ops collect --json` in its own process: each batch's report as it printed it. */
export class CollectorProcess {
  readonly reports: BatchReport[] = [];
  private log = "";

  private constructor(private readonly child: ChildProcess) {
    let partial = "";
    child.stdout?.on("data", (d: Buffer) => {
      const lines = (partial + d.toString()).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        const report = parseJson<BatchReport>(line);
        if (report) this.reports.push(report);
        else if (line.trim()) this.log += `(stdout) ${line}\n`;
      }
    });
    child.stderr?.on("data", (d: Buffer) => (this.log = (this.log + d.toString()).slice(-20_000)));
  }

  /** Resolves once it is subscribed (it says so on stderr). */
  static async start(args: string[]): Promise<CollectorProcess> {
    const c = new CollectorProcess(spawn(process.execPath, [CLI, "ops", "collect", ...args, "--json"], { stdio: ["ignore", "pipe", "pipe"] }));
    await until("the collector to subscribe", () => (c.log.includes("collecting ") ? true : c.exited() ? false : null), 20_000, () => c.log);
    if (c.exited()) throw new Error(`the collector exited: ${c.log}`);
    return c;
  }

  exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  output(): string {
    return this.log;
  }

  /** Every report of one batch id, in arrival order. */
  reportsOf(batch: string): BatchReport[] {
    return this.reports.filter((r) => r.batch === batch);
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.exited()) this.child.kill(sig);
  }

  async kill(sig: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (this.exited()) return;
    const gone = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.kill(sig);
    await gone;
  }
}

/** A subscriber to the screen's proofs topic: every batch the agent got to the broker, in order. */
export class ProofsWatch {
  readonly batches: Array<{ batch: string; fromSeq: number; throughSeq: number }> = [];

  private constructor(private readonly client: MqttClient) {
    client.on("message", (_topic, payload) => {
      const b = parseJson<{ batch?: string; entries?: Array<{ seq: number }> }>(payload.toString("utf8"));
      const [first, last] = [b?.entries?.[0], b?.entries?.at(-1)];
      // Anything else on the topic is no batch of the agent's; the checks on the collector's side name it.
      if (typeof b?.batch === "string" && first && last) this.batches.push({ batch: b.batch, fromSeq: first.seq, throughSeq: last.seq });
    });
  }

  static async open(url: string): Promise<ProofsWatch> {
    const client = await mqtt.connectAsync(url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
    await client.subscribeAsync(`led/v1/${SCREEN}/proofs`, { qos: 1 });
    return new ProofsWatch(client);
  }

  seen(batch: string): number {
    return this.batches.filter((b) => b.batch === batch).length;
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

interface Row {
  seq: number;
  hash: string;
}

function parseJson<T>(text: string): T | null {
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}

function readRows<T>(file: string, sql: string, ...params: string[]): T[] {
  const db = openDatabase(file, { mustExist: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

export class SyncRig {
  readonly dataDir: string;
  readonly runDir: string;
  readonly configFile: string;
  readonly keysDir: string;
  readonly collectorDb: string;
  readonly opsKeyFile: string;
  readonly agents: AgentProcesses;
  readonly collectors: CollectorProcess[] = [];
  /** The ledger's head once the backlog was written, before the daemon first ran. */
  backlogHead = 0;
  agent: Agent | null = null;

  private constructor(
    readonly dir: string,
    readonly broker: Mosquitto,
  ) {
    this.dataDir = join(dir, "device");
    this.runDir = join(this.dataDir, "run");
    this.configFile = join(dir, "config.yaml");
    this.keysDir = join(dir, "screens");
    this.collectorDb = join(dir, "collector.db");
    this.opsKeyFile = join(dir, "ops.key");
    this.agents = new AgentProcesses({ config: this.configFile, runDir: this.runDir });
  }

  /** Broker, device keys and config, its schedule loaded, and `backlog` play entries in its ledger. */
  static async create(dir: string, clips: Clips, backlog: number): Promise<SyncRig> {
    const broker = await startMosquitto({ globalLines: ["allow_anonymous true", "max_queued_messages 10000"] });
    const rig = new SyncRig(dir, broker);
    try {
      await rig.setUpDevice(clips);
      rig.backlogHead = rig.writeBacklog(backlog);
    } catch (err) {
      await broker.close();
      throw err;
    }
    return rig;
  }

  private async setUpDevice(clips: Clips): Promise<void> {
    const config = benchConfig(this.dataDir);
    const paths = agentPaths(config);
    mkdirSync(this.runDir, { recursive: true });
    mkdirSync(this.keysDir);
    createKeyFiles(paths.deviceKey, paths.devicePublicKey);
    copyFileSync(paths.devicePublicKey, join(this.keysDir, `${SCREEN}.pub.pem`));
    const opsPub = join(this.dir, "ops.pub.pem");
    createKeyFiles(this.opsKeyFile, opsPub);
    const file = {
      screenId: SCREEN, dataDir: this.dataDir, runDir: this.runDir, logLevel: "warn", panel: PANEL, player: { headless: true },
      controller: { driver: "none" }, mqtt: { url: this.broker.url }, opsPublicKey: opsPub, telemetryIntervalS: 60,
    };
    writeFileSync(this.configFile, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
    const schedule = benchSchedule({ version: 1, ...clips, playsPerHour: 600 });
    const envelope = join(this.dir, "schedule.signed.json");
    writeFileSync(envelope, JSON.stringify({ schedule, sig: signCanonical(schedule, loadPrivateKey(this.opsKeyFile).privateKey) }));
    expectOk(await this.cli(["schedule", "load", envelope]));
  }

  /** `count` play entries in one transaction, as weeks offline leave them; returns the head. */
  private writeBacklog(count: number): number {
    const opened = openLedger(benchConfig(this.dataDir), { longLived: true });
    try {
      opened.ledger.db.transaction(() => {
        for (let i = 0; i < count; i++) opened.ledger.append({ kind: "play", play: samplePlay(i) });
      })();
      return opened.ledger.head()?.seq ?? 0;
    } finally {
      opened.close();
    }
  }

  cli(args: string[], timeoutMs = 30_000): Promise<CliResult> {
    return runCli([...args, "--config", this.configFile], { timeoutMs });
  }

  /** A collector on this rig's broker and database; `extra` adds --group, --client-id. */
  async startCollector(extra: string[] = []): Promise<CollectorProcess> {
    const c = await CollectorProcess.start(["--url", this.broker.url, "--keys", this.keysDir, "--db", this.collectorDb, ...extra]);
    this.collectors.push(c);
    return c;
  }

  /** `ledagent run`, answering on its control socket with its MQTT link up. */
  async startAgent(env: NodeJS.ProcessEnv = {}): Promise<Agent> {
    const agent = this.agents.start(env);
    this.agent = agent;
    await this.agents.reachable(agent, 45_000);
    await until("the agent's MQTT link up", async () => ((await this.status())?.host?.linkConnected ? true : null), 30_000, () => agent.output().slice(-3000));
    return agent;
  }

  async status(): Promise<AgentStatus | null> {
    const call = await callDaemon(this.runDir, "status", {}, { timeoutMs: 5000 }).catch(() => null);
    return call?.daemon === "answered" && call.outcome.ok ? (call.outcome.result as AgentStatus) : null;
  }

  /** The head seq the collector's database holds for the screen (0 before the first batch). */
  collectorHead(): number {
    const rows = readRows<{ head: number | null }>(this.collectorDb, "SELECT max(seq) AS head FROM entries WHERE screen = ?", SCREEN);
    return rows[0]?.head ?? 0;
  }

  /**
   * Waits until the collector holds at least `min` entries of the backlog, and returns what it
   * holds: the moment to strike. Fails when it already holds the whole backlog (no longer mid-sync).
   */
  async midSync(min: number): Promise<number> {
    const held = await until(`the collector to hold seq ${min}`, () => {
      const head = this.collectorHead();
      return head >= min ? head : null;
    }, 60_000, () => this.diagnostics());
    expect(held, "struck after the backlog had drained: not mid-sync").toBeLessThan(this.backlogHead);
    return held;
  }

  /** The collector's head once it stopped moving for `quietMs`: what it had taken in was stored. */
  async settledCollectorHead(quietMs = 1000): Promise<number> {
    let last = this.collectorHead();
    let since = Date.now();
    return until("the collector's head to settle", () => {
      const head = this.collectorHead();
      if (head !== last) [last, since] = [head, Date.now()];
      return Date.now() - since >= quietMs ? head : null;
    }, 30_000, () => this.diagnostics());
  }

  /** The batch in flight as the device's outbox recorded it (read from its database). */
  inFlight(): InFlightBatch | null {
    const [s] = readRows<{ id: string | null; fromSeq: number; throughSeq: number }>(
      agentPaths(benchConfig(this.dataDir)).database,
      "SELECT batch_id AS id, batch_from AS fromSeq, batch_through AS throughSeq FROM proof_outbox WHERE id = 1",
    );
    return s?.id ? { id: s.id, fromSeq: s.fromSeq, throughSeq: s.throughSeq } : null;
  }

  deviceRows(): Row[] {
    return readRows<Row>(agentPaths(benchConfig(this.dataDir)).database, "SELECT seq, hash FROM ledger_entries ORDER BY seq");
  }

  collectorRows(): Row[] {
    return readRows<Row>(this.collectorDb, "SELECT seq, hash FROM entries WHERE screen = ? ORDER BY seq", SCREEN);
  }

  /** `ledagent ops cmd proofs.sync`: the agent re-sends now and answers once the collector acked its head. */
  async proofsSync(): Promise<number> {
    const r = await runCli(["ops", "cmd", "proofs.sync", "--screen", SCREEN, "--key", this.opsKeyFile, "--url", this.broker.url, "--timeout", "90"], { timeoutMs: 100_000 });
    expectOk(r);
    const reply = JSON.parse(r.stdout) as { ok: boolean; result: { through: number } };
    return reply.result.through;
  }

  /** `ledagent ops collect --report --json` on the collector's database. */
  async report(): Promise<ScreenReport> {
    const r = await runCli(["ops", "collect", "--report", "--json", "--db", this.collectorDb]);
    expectOk(r);
    const reports = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as ScreenReport);
    expect(reports.map((s) => s.screen)).toEqual([SCREEN]);
    return reports[0];
  }

  /**
   * The end state every fault must come back to: the agent syncs to its head, and the collector
   * holds exactly the device's ledger, each seq 1..head once with the device's hash, no gap, no problem.
   */
  async expectExactCopy(): Promise<{ through: number; entries: number }> {
    // A command sent while the agent is away waits in its session only if the broker has that
    // session: one killed before it saved the agent's session (autosave) drops the command.
    await until("the agent's MQTT link up", async () => ((await this.status())?.host?.linkConnected ? true : null), 30_000, () => this.diagnostics());
    const through = await this.proofsSync();
    expect(through).toBeGreaterThanOrEqual(this.backlogHead);
    await until("the agent's outbox to reach its head (unsynced 0)", async () => ((await this.status())?.sync?.unsynced === 0 ? true : null), 30_000, () => this.diagnostics());
    // The playout goes on recording, and syncing: each read below sees at least what the one before it saw.
    const report = await this.report();
    const stored = this.collectorRows();
    const device = this.deviceRows();
    expect({ entries: report.entries, gaps: report.gaps, problems: report.problems }).toEqual({ entries: report.headSeq, gaps: [], problems: [] });
    expect(report.headSeq).toBeGreaterThanOrEqual(through);
    expect(report.headHash).toBe(device[report.headSeq - 1]?.hash);
    expect(stored.length).toBeGreaterThanOrEqual(report.headSeq);
    const wrong = stored.filter((r, i) => r.seq !== i + 1 || device[i]?.seq !== r.seq || device[i].hash !== r.hash);
    expect(wrong.slice(0, 5), "collector entries that are not the device's entry at their place").toEqual([]);
    return { through, entries: stored.length };
  }

  /** What each process said last, for a failure message. */
  diagnostics(): string {
    return [
      `collector holds seq ${this.collectorHead()} of the backlog's ${this.backlogHead}`,
      ...this.collectors.map((c, i) => `collector ${i}: ${c.output().slice(-1500)}`),
      `agent: ${this.agent?.output().slice(-3000) ?? "(none)"}`,
      `broker: ${this.broker.output().slice(-1500)}`,
    ].join("\n");
  }

  async close(): Promise<void> {
    await this.agents.killAll();
    for (const c of this.collectors) await c.kill();
    await this.broker.close();
  }
}

function expectOk(r: CliResult): void {
  expect(r.code, `${r.stderr}\n${r.stdout}`).toBe(0);
}
