// `ledagent demo`: the whole agent on one machine, every part the real one. An embedded MQTT
// broker (aedes), the NovaStar simulator on loopback TCP, demo creatives served over HTTP, a demo
// ops key signing a schedule pushed over MQTT, the daemon playing it on mpv, and the reference
// collector verifying and storing every proof batch. It tells what happens as it happens (plays,
// verified batches) and, at the stop, what was delivered and what the collector holds.
import { EventEmitter } from "node:events";
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo, type Server } from "node:net";
import { join } from "node:path";
import { Aedes } from "aedes";
import { lockSync } from "proper-lockfile";
import { Collector, CollectorStore, ScreenKeys, type BatchReport, type ScreenReport } from "../collector/index.js";
import { validateConfig, type Config } from "../config.js";
import { createKeyFiles, loadPrivateKey, signCanonical } from "../crypto/index.js";
import { Daemon } from "../daemon.js";
import { NovaStarSimulator } from "../drivers/novastar/simulator/server.js";
import { connectOps, type OpsClient } from "../link/ops-client.js";
import type { ScheduleStatus } from "../link/schedule-state.js";
import type { Logger } from "../log.js";
import { agentPaths } from "../paths.js";
import type { DeliveryRow } from "../playback/delivery/delivery.js";
import { deliveryFromLedger } from "../playback/delivery/from-ledger.js";
import { ScheduleStore } from "../playback/schedule/index.js";
import type { PlayEntry } from "../proofs/types.js";
import { demoMedia, type DemoMedia } from "./media.js";
import { MediaServer } from "./media-server.js";
import { demoSchedule } from "./schedule.js";

export const DEMO_SCREEN = "demo-screen-001";
/** Small enough to fit quickly, the shape of a typical roadside panel. */
export const DEMO_PANEL = { width: 384, height: 192, fps: 30 };

export interface DemoOptions {
  /** Where the demo keeps its media (kept between runs) and its state (made afresh each run). */
  dir: string;
  headless: boolean;
  ffmpeg: string;
  /** The daemon's and the collector's log (the demo's own lines are its events). */
  log: Logger;
  timezone: string;
}

export interface DemoEvents {
  step: [string];
  play: [PlayEntry];
  batch: [BatchReport];
}

export interface DemoSummary {
  /** The device's ledger head when it stopped. */
  deviceHeadSeq: number | null;
  collector: ScreenReport | null;
  delivery: DeliveryRow[];
  config: string;
}

interface Running {
  broker: { aedes: Aedes; server: Server };
  simulator: NovaStarSimulator;
  media: MediaServer;
  collectorStore: CollectorStore;
  collector: Collector;
  daemon: Daemon | null;
  /** The ops client while it waits for the schedule's status. */
  ops: OpsClient | null;
}

/** The start was cut short by a stop. */
export class DemoStopped extends Error {
  constructor() {
    super("stopped before it had started");
    this.name = "DemoStopped";
  }
}

export class Demo extends EventEmitter<DemoEvents> {
  private readonly running: Partial<Running> = {};
  private config: Config | null = null;
  private configFile = "";
  private startedAt = 0;
  private starting: Promise<unknown> | null = null;
  private stopRequested = false;
  private unlock: (() => void) | null = null;

  constructor(private readonly options: DemoOptions) {
    super();
  }

  /**
   * Starts every part and pushes the schedule; resolves once the screen has it on air. A stop
   * meanwhile ends it (DemoStopped) at the next step, and stop() takes down what it started.
   */
  start(): Promise<ScheduleStatus> {
    // Whatever a step threw once the stop was asked for (a closed connection, say) is the stop's doing.
    const starting = this.startParts().catch((err: unknown) => {
      throw this.stopRequested ? new DemoStopped() : err;
    });
    this.starting = starting.catch(() => undefined);
    return starting;
  }

  /** Throws DemoStopped once a stop was asked for: called between the start's steps. */
  private checkStop(): void {
    if (this.stopRequested) throw new DemoStopped();
  }

  private async startParts(): Promise<ScheduleStatus> {
    const { dir } = this.options;
    this.startedAt = Date.now();
    mkdirSync(dir, { recursive: true });
    this.unlock = lockDemoDir(dir);
    const state = join(dir, "state");
    rmSync(state, { recursive: true, force: true });
    mkdirSync(state, { recursive: true, mode: 0o700 });
    const media = await demoMedia(this.options.ffmpeg, join(dir, "media"), {
      onMade: (id) => this.emit("step", `made demo creative ${id} with ffmpeg`),
      stopped: () => this.stopRequested,
    });
    this.checkStop();
    const r = this.running;
    r.broker = await startBroker();
    const brokerUrl = `mqtt://127.0.0.1:${(r.broker.server.address() as AddressInfo).port}`;
    r.simulator = new NovaStarSimulator({ log: this.options.log.child({ part: "simulator" }) });
    const controllerUrl = await r.simulator.listenTcp("127.0.0.1", 0);
    r.media = await MediaServer.start(media);
    this.emit("step", `broker ${brokerUrl} (aedes), NovaStar simulator ${controllerUrl}, creatives at ${r.media.baseUrl}`);

    this.checkStop();
    const config = this.writeDevice(state, brokerUrl, controllerUrl);
    await this.startCollector(state, brokerUrl);
    this.checkStop();
    const daemon = new Daemon({ config, log: this.options.log, lifecycle: { restart: () => undefined } });
    r.daemon = daemon;
    const report = await daemon.start();
    this.checkStop();
    if (report.failed.length > 0) this.emit("step", `agent running without: ${report.failed.map((f) => `${f.name} (${f.error})`).join("; ")}`);
    daemon.parts.playout?.on("play", (entry) => this.emit("play", entry));
    this.emit("step", `agent ${DEMO_SCREEN} running: panel ${DEMO_PANEL.width}x${DEMO_PANEL.height}, ${config.player.headless ? "headless mpv" : "mpv window"}`);
    return this.pushSchedule(brokerUrl, media, r.media.baseUrl);
  }

  /** Syncs what it can, stops everything, and says what was delivered and proved. */
  async stop(): Promise<DemoSummary> {
    this.stopRequested = true;
    const r = this.running;
    // A stop before the schedule came on air: nobody waits for its status any more.
    await r.ops?.close();
    // The start goes no further than the step it is on; what it started is stopped below.
    await this.starting;
    await r.ops?.close();
    const config = this.config;
    let deviceHeadSeq: number | null = null;
    if (r.daemon) {
      const registry = r.daemon.parts.commands;
      // The plays so far reach the collector before the link goes down.
      if (registry && r.daemon.parts.proofSync) await withTimeout(registry.execute("proofs.sync", {}, { origin: { kind: "local", user: "demo" } }), 10_000);
      deviceHeadSeq = r.daemon.parts.ledger?.head()?.seq ?? null;
      await r.daemon.stop("SIGINT");
      r.daemon = null;
    }
    await r.collector?.stop();
    const collector = r.collectorStore?.report(DEMO_SCREEN) ?? null;
    r.collectorStore?.close();
    await r.media?.close();
    await r.simulator?.close();
    if (r.broker) await closeBroker(r.broker);
    const delivery = config ? this.delivery(config) : [];
    this.unlock?.();
    this.unlock = null;
    return { deviceHeadSeq, collector, delivery, config: this.configFile };
  }

  /** The device's config, its key, and the ops key it trusts; the collector's copy of its public key. */
  private writeDevice(state: string, brokerUrl: string, controllerUrl: string): Config {
    const ops = join(state, "ops");
    mkdirSync(ops, { mode: 0o700 });
    createKeyFiles(join(ops, "ops.key"), join(ops, "ops.pub.pem"));
    const raw = {
      screenId: DEMO_SCREEN,
      dataDir: join(state, "device"),
      runDir: join(state, "run"),
      timezone: this.options.timezone,
      logLevel: "info",
      panel: DEMO_PANEL,
      mqtt: { url: brokerUrl },
      opsPublicKey: join(ops, "ops.pub.pem"),
      controller: { driver: "novastar", port: controllerUrl, pollIntervalS: 2 },
      player: { headless: this.options.headless },
      telemetryIntervalS: 60,
    };
    const config = validateConfig(raw);
    const paths = agentPaths(config);
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    createKeyFiles(paths.deviceKey, paths.devicePublicKey);
    mkdirSync(join(state, "screens"));
    copyFileSync(paths.devicePublicKey, join(state, "screens", `${DEMO_SCREEN}.pub.pem`));
    // JSON is YAML: `ledagent … --config` reads it after the demo (proofs export, report delivery).
    this.configFile = join(state, "config.yaml");
    writeFileSync(this.configFile, `${JSON.stringify(raw, null, 2)}\n`, { mode: 0o600 });
    this.config = config;
    return config;
  }

  private async startCollector(state: string, brokerUrl: string): Promise<void> {
    const store = CollectorStore.open(join(state, "collector.db"));
    this.running.collectorStore = store;
    const collector = new Collector({
      options: { url: brokerUrl, clientId: "demo-collector" },
      store,
      keys: new ScreenKeys(join(state, "screens")),
      log: this.options.log.child({ part: "collector" }),
      onBatch: (report) => this.emit("batch", report),
    });
    this.running.collector = collector;
    await collector.start();
  }

  private async pushSchedule(brokerUrl: string, media: DemoMedia[], baseUrl: string): Promise<ScheduleStatus> {
    const opsKey = loadPrivateKey(join(this.options.dir, "state", "ops", "ops.key")).privateKey;
    const schedule = demoSchedule({ screen: DEMO_SCREEN, version: 1, now: Date.now(), baseUrl, media, timezone: this.options.timezone });
    const envelope = JSON.stringify({ schedule, sig: signCanonical(schedule, opsKey) });
    const ops = await connectOps({ url: brokerUrl });
    this.running.ops = ops;
    if (this.stopRequested) {
      await ops.close();
      throw new DemoStopped();
    }
    try {
      this.emit("step", "ops: pushing the signed schedule v1 (retained, over MQTT)");
      return await ops.pushSchedule(envelope, DEMO_SCREEN, 1, {
        timeoutMs: 180_000,
        onPending: () => this.emit("step", "agent: schedule v1 verified; fetching and fitting its creatives to the panel"),
      });
    } finally {
      this.running.ops = null;
      await ops.close();
    }
  }

  private delivery(config: Config): DeliveryRow[] {
    const current = new ScheduleStore({ path: agentPaths(config).scheduleFile }).current();
    if (!current) return [];
    return deliveryFromLedger(config, current, { from: this.startedAt - 60_000, to: Date.now() });
  }
}

/** One demo per directory: a second would delete the first one's state under it. */
function lockDemoDir(dir: string): () => void {
  try {
    return lockSync(dir, { realpath: false, stale: 30_000, update: 10_000 });
  } catch (err) {
    if ((err as { code?: string }).code === "ELOCKED") throw new Error(`another demo is running on ${dir}: stop it, or give this one another --dir`);
    throw err;
  }
}

async function startBroker(): Promise<{ aedes: Aedes; server: Server }> {
  const aedes = await Aedes.createBroker();
  const server = createServer(aedes.handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return { aedes, server };
}

async function closeBroker(b: { aedes: Aedes; server: Server }): Promise<void> {
  await new Promise<void>((resolve) => b.aedes.close(() => resolve()));
  await new Promise<void>((resolve) => b.server.close(() => resolve()));
}

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
