// The end-to-end rig for the MQTT link: a real mosquitto, a small HTTP server handing out creatives
// made with ffmpeg, the project's NovaStar simulator on TCP, and `ledagent run` from dist/ set up
// with `ledagent init`. The tests read what the agent says from the broker (a watcher subscribed to
// the screen's whole subtree) and from the ledger (`ledagent proofs export`, verified each time).
import { execFileSync } from "node:child_process";
import { createHash, type KeyObject } from "node:crypto";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import mqtt, { type IClientPublishOptions, type MqttClient } from "mqtt";
import { expect } from "vitest";
import { callDaemon, type AgentStatus } from "../../agent/commands/index.js";
import { loadPrivateKey, signCanonical } from "../../agent/crypto/index.js";
import { NovaStarSimulator } from "../../agent/drivers/novastar/simulator/server.js";
import { silentLogger } from "../../agent/log.js";
import { connectOps, type OpsClient } from "../../agent/link/ops-client.js";
import type { Entry, EventEntry, EventType, PlayRecord } from "../../agent/proofs/types.js";
import { AgentProcesses, type Agent } from "../daemon/agent-process.js";
import { runCli, type CliResult } from "../helpers/cli.js";
import { startMosquitto, type Mosquitto } from "../helpers/mosquitto.js";
import { tempDir } from "../helpers/tmp.js";

// ---- creatives over HTTP ----

export interface Creative {
  id: string;
  url: string;
  sha256: string;
  durationMs: number;
  approved: boolean;
}

/** Serves files by name; a held name answers only once released (a slow CDN, seen from the agent). */
export class CreativeServer {
  private readonly files = new Map<string, Buffer>();
  private readonly held = new Map<string, Array<() => void>>();
  private readonly hits = new Map<string, number>();

  private constructor(
    private readonly server: Server,
    readonly base: string,
  ) {}

  static async start(): Promise<CreativeServer> {
    let rig: CreativeServer | null = null;
    const server = createServer((req, res) => rig?.serve(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname.slice(1)), res));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    rig = new CreativeServer(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return rig;
  }

  /** A clip of `seconds` at the panel's size from one of ffmpeg's test sources, served as `<id>.mp4`. */
  clip(dir: string, id: string, source: string, seconds = 2): Creative {
    const file = join(dir, `${id}.mp4`);
    execFileSync("ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i", `${source}=size=64x32:rate=10`, "-t", String(seconds), "-pix_fmt", "yuv420p", file]);
    const bytes = readFileSync(file);
    this.files.set(`${id}.mp4`, bytes);
    return { id, url: `${this.base}/${id}.mp4`, sha256: createHash("sha256").update(bytes).digest("hex"), durationMs: seconds * 1000, approved: true };
  }

  hold(id: string): void {
    this.held.set(`${id}.mp4`, []);
  }

  release(id: string): void {
    const waiting = this.held.get(`${id}.mp4`) ?? [];
    this.held.delete(`${id}.mp4`);
    for (const go of waiting) go();
  }

  /** Requests for `<id>.mp4` so far, answered or held. */
  requests(id: string): number {
    return this.hits.get(`${id}.mp4`) ?? 0;
  }

  async close(): Promise<void> {
    for (const id of [...this.held.keys()]) this.release(id.replace(/\.mp4$/, ""));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(name: string, res: ServerResponse): void {
    this.hits.set(name, (this.hits.get(name) ?? 0) + 1);
    const answer = (): void => {
      const bytes = this.files.get(name);
      if (!bytes) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-type": "video/mp4", "content-length": bytes.length }).end(bytes);
    };
    const queue = this.held.get(name);
    if (queue) queue.push(answer);
    else answer();
  }
}

// ---- what the broker carries ----

export interface Seen {
  /** Its place in arrival order: `since` bounds for later waits. */
  n: number;
  topic: string;
  /** The topic under led/v1/<screen>/ (the whole topic when it lies elsewhere). */
  leaf: string;
  text: string;
  retain: boolean;
  correlationData: Buffer | null;
}

/** One subscriber to led/v1/<screen>/# (MQTT 5, clean session) that keeps everything it saw. */
export class BrokerWatch {
  readonly seen: Seen[] = [];

  private constructor(
    private readonly client: MqttClient,
    private readonly prefix: string,
  ) {
    client.on("message", (topic, payload, packet) => {
      const raw = packet.properties?.correlationData;
      this.seen.push({ n: this.seen.length, topic, leaf: topic.startsWith(prefix) ? topic.slice(prefix.length) : topic, text: payload.toString("utf8"), retain: packet.retain, correlationData: raw ? Buffer.from(raw) : null });
    });
  }

  static async open(url: string, screen: string, extraTopics: string[] = []): Promise<BrokerWatch> {
    const client = await mqtt.connectAsync(url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
    await client.subscribeAsync([`led/v1/${screen}/#`, ...extraTopics], { qos: 1 });
    return new BrokerWatch(client, `led/v1/${screen}/`);
  }

  /** Where the next message will be: pass it as `since` to look only at what comes after now. */
  mark(): number {
    return this.seen.length;
  }

  on(leaf: string, since = 0): Seen[] {
    return this.seen.slice(since).filter((m) => m.leaf === leaf);
  }

  /** The first message on `leaf` from `since` on whose JSON `accept` takes. */
  async next<T>(leaf: string, accept: (json: T, m: Seen) => boolean, opts: { since?: number; timeoutMs?: number; what?: string } = {}): Promise<T & { seen: Seen }> {
    const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
    for (;;) {
      for (const m of this.on(leaf, opts.since ?? 0)) {
        const json = parseJson(m.text) as T | null;
        if (json !== null && accept(json, m)) return { ...json, seen: m };
      }
      if (Date.now() > deadline) throw new Error(`no ${opts.what ?? leaf} message within ${opts.timeoutMs ?? 20_000} ms; saw on ${leaf}: ${this.on(leaf, opts.since ?? 0).map((m) => m.text).join("\n")}`);
      await sleep(50);
    }
  }

  publish(topic: string, payload: string | Buffer, opts: IClientPublishOptions = { qos: 1 }): Promise<unknown> {
    return this.client.publishAsync(topic, payload, opts);
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/** The retained message on a topic as a new subscriber gets it, or null when there is none. */
export async function retainedOn(url: string, topic: string, waitMs = 1000): Promise<string | null> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
  try {
    const got = new Promise<string>((resolve) => client.on("message", (t, payload, packet) => t === topic && packet.retain && resolve(payload.toString("utf8"))));
    await client.subscribeAsync(topic, { qos: 1 });
    return await Promise.race([got, sleep(waitMs).then(() => null)]);
  } finally {
    await client.endAsync(true);
  }
}

/**
 * A collector of the smallest kind: it acks every proofs batch through its last entry, once
 * switched on. Switched off it only listens, which to the agent is a collector that is not there.
 */
export class AckResponder {
  acking = false;
  readonly acked: Array<{ batch: string; through: number }> = [];
  private last: { batch: string; through: number } | null = null;

  private constructor(private readonly client: MqttClient, private readonly prefix: string) {
    client.on("message", (topic, payload) => {
      const batch = parseJson(payload.toString("utf8")) as { batch?: string; entries?: Array<{ seq: number }> } | null;
      const through = batch?.entries?.at(-1)?.seq;
      if (topic !== `${prefix}proofs` || typeof batch?.batch !== "string" || through === undefined) return;
      this.last = { batch: batch.batch, through };
      if (this.acking) this.ack();
    });
  }

  static async open(url: string, screen: string): Promise<AckResponder> {
    const client = await mqtt.connectAsync(url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
    await client.subscribeAsync(`led/v1/${screen}/proofs`, { qos: 1 });
    return new AckResponder(client, `led/v1/${screen}/`);
  }

  /** Switched on: the batch the agent is waiting on is acked now, not at its next resend. */
  switchOn(): void {
    this.acking = true;
    if (this.last) this.ack();
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }

  private ack(): void {
    const last = this.last;
    if (!last) return;
    this.acked.push(last);
    void this.client.publishAsync(`${this.prefix}proofs/ack`, JSON.stringify(last), { qos: 1 });
  }
}

/** An exported ledger, and the parts of it the tests look at. */
export class LedgerView {
  constructor(readonly entries: Entry[]) {}

  /** The events of one type, each with its entry's seq. */
  events(type: EventType): Array<Record<string, unknown> & { seq: number }> {
    return this.entries.filter((e): e is EventEntry => e.kind === "event" && e.event.type === type).map((e) => ({ ...e.event, seq: e.seq }));
  }

  plays(): PlayRecord[] {
    return this.entries.flatMap((e) => (e.kind === "play" ? [e.play] : []));
  }
}

// ---- the rig ----

export interface RigOptions {
  screen: string;
  /** A NovaStar simulator on TCP as the screen's controller (default none). */
  controller?: boolean;
  /** More LEDAGENT_* settings for the agent. */
  env?: NodeJS.ProcessEnv;
}

/** A schedule document as spec/schedule-format.md has it (only what these tests use). */
export interface ScheduleDoc {
  kind: "ledagent.schedule/v1";
  screen: string;
  version: number;
  issuedAt: string;
  timezone: string;
  creatives: Creative[];
  campaigns: Array<{ id: string; customer: string; creatives: string[]; start: string; end: string; playsPerHour: number }>;
  fill: string[];
}

/** What a rig is made of; built by LinkRig.create. */
interface RigParts {
  screen: string;
  dir: string;
  cleanup: () => void;
  broker: Mosquitto;
  creatives: CreativeServer;
  sim: NovaStarSimulator | null;
  opsKey: KeyObject;
  /** Another ops key: what a forger signs with. */
  otherKey: KeyObject;
  env: NodeJS.ProcessEnv;
}

export class LinkRig {
  readonly screen: string;
  readonly dir: string;
  readonly broker: Mosquitto;
  readonly creatives: CreativeServer;
  readonly sim: NovaStarSimulator | null;
  readonly opsKey: KeyObject;
  readonly otherKey: KeyObject;
  readonly dataDir: string;
  readonly runDir: string;
  readonly config: string;
  readonly opsKeyFile: string;
  readonly env: NodeJS.ProcessEnv;
  readonly agents: AgentProcesses;
  agent: Agent | null = null;
  private opsClient: OpsClient | null = null;

  private constructor(private readonly parts: RigParts) {
    ({ screen: this.screen, dir: this.dir, broker: this.broker, creatives: this.creatives, sim: this.sim, opsKey: this.opsKey, otherKey: this.otherKey } = parts);
    this.dataDir = join(parts.dir, "data");
    this.runDir = join(parts.dir, "run");
    this.config = join(parts.dir, "config.yaml");
    this.opsKeyFile = join(parts.dir, "ops", "ops.key");
    this.env = { LEDAGENT_CONFIG: this.config, ...parts.env };
    this.agents = new AgentProcesses({ config: this.config, runDir: this.runDir });
  }

  /** Broker, creative server, controller, ops keys and `ledagent init`; no agent running yet. */
  static async create(opts: RigOptions): Promise<LinkRig> {
    const { dir, cleanup } = tempDir("ledagent-link-");
    const [broker, creatives] = await Promise.all([startMosquitto(), CreativeServer.start()]);
    let sim: NovaStarSimulator | null = null;
    let simUrl = "none";
    if (opts.controller) {
      sim = new NovaStarSimulator({ log: silentLogger() });
      simUrl = await sim.listenTcp("127.0.0.1", 0);
    }
    const keys = await Promise.all(["ops", "other"].map((d) => runCli(["ops", "keys", "init", "--dir", join(dir, d)])));
    for (const k of keys) expect(k.code, k.stderr).toBe(0);
    const [opsKey, otherKey] = ["ops", "other"].map((d) => loadPrivateKey(join(dir, d, "ops.key")).privateKey);
    const env = { LEDAGENT_CONTROLLER_POLL_INTERVAL_S: "1", ...opts.env };
    const rig = new LinkRig({ screen: opts.screen, dir, cleanup, broker, creatives, sim, opsKey: opsKey!, otherKey: otherKey!, env });
    const init = await rig.cli([
      "init", "--screen", opts.screen, "--data-dir", rig.dataDir, "--run-dir", rig.runDir, "--panel", "64x32", "--headless",
      "--ops-public-key", join(dir, "ops", "ops.pub.pem"), "--mqtt-url", broker.url, "--controller", simUrl,
    ]);
    expect(init.code, init.stderr).toBe(0);
    return rig;
  }

  cli(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
    return runCli(args, { env: this.env, ...opts });
  }

  /** `ledagent ops cmd NAME …` against this rig's broker and screen, signed with the ops key. */
  opsCmd(name: string, args: string[] = [], flags: string[] = []): Promise<CliResult> {
    return this.cli(["ops", "cmd", name, ...args, "--screen", this.screen, "--key", this.opsKeyFile, "--url", this.broker.url, ...flags], { timeoutMs: 60_000 });
  }

  /** An ops client of this process (MQTT 5, response topic and correlation data), kept open. */
  async ops(): Promise<OpsClient> {
    this.opsClient ??= await connectOps({ url: this.broker.url });
    return this.opsClient;
  }

  topic(leaf: string): string {
    return `led/v1/${this.screen}/${leaf}`;
  }

  /** `ledagent run`, answering on its socket with its MQTT link up. */
  async startAgent(): Promise<Agent> {
    const agent = this.agents.start();
    this.agent = agent;
    await this.agents.reachable(agent);
    await this.until("the MQTT link up", async () => ((await this.status())?.host?.linkConnected ? true : null), 20_000);
    return agent;
  }

  /** SIGTERM (a clean stop) and its exit code. */
  async stopAgent(): Promise<number | null> {
    const agent = this.agent;
    if (!agent) return null;
    this.agent = null;
    return (await this.agents.terminate(agent)).code;
  }

  async status(): Promise<AgentStatus | null> {
    const call = await callDaemon(this.runDir, "status", {}, { timeoutMs: 3000 }).catch(() => null);
    return call?.daemon === "answered" && call.outcome.ok ? (call.outcome.result as AgentStatus) : null;
  }

  /** The whole ledger, exported and verified under the device key. */
  async ledger(): Promise<LedgerView> {
    const exported = await this.cli(["proofs", "export"]);
    expect(exported.code, exported.stderr).toBe(0);
    const verify = await this.cli(["proofs", "verify", "--key", join(this.dataDir, "keys", "device.pub.pem"), "-"], { input: exported.stdout });
    expect(verify.code, verify.stderr).toBe(0);
    return new LedgerView(exported.stdout.trim().split("\n").map((l) => JSON.parse(l) as Entry));
  }

  /** A schedule for this screen: `fill` plays between the campaign's `ads` (one every 6 s). */
  schedule(version: number, fill: Creative, ads: Creative[], extra: Creative[] = []): ScheduleDoc {
    const now = Date.now();
    return {
      kind: "ledagent.schedule/v1", screen: this.screen, version, issuedAt: new Date(now - 60_000).toISOString(), timezone: "UTC",
      creatives: [fill, ...ads, ...extra],
      campaigns: [{ id: `camp${version}`, customer: "acme", creatives: ads.map((a) => a.id), start: new Date(now - 60_000).toISOString(), end: new Date(now + 3_600_000).toISOString(), playsPerHour: 600 }],
      fill: [fill.id],
    };
  }

  sign(doc: unknown, key: KeyObject = this.opsKey): string {
    return JSON.stringify({ schedule: doc, sig: signCanonical(doc, key) });
  }

  async until<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = await probe().catch(() => null);
      if (got !== null) return got;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${this.agent?.output().slice(-4000) ?? ""}`);
      await sleep(150);
    }
  }

  async close(): Promise<void> {
    await this.opsClient?.close().catch(() => undefined);
    await this.agents.killAll();
    await Promise.allSettled([this.broker.close(), this.creatives.close(), this.sim?.close()]);
    this.parts.cleanup();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}
