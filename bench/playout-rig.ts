// A Playout on real parts for the playout bench and its child processes: a ledger on disk, a
// signed schedule applied to a real store, the creatives pipeline with the system's ffmpeg
// fitting clips made here, and mpv headless. No controller (the `none` driver), as on a screen
// whose controller is not wired up: plays are stamped unverified by design.
// (test/playback/playout/rig.ts builds the same for the tests; dist/ holds no test code, so the
// bench builds its own from the agent's parts.)
import { execFileSync } from "node:child_process";
import { createHash, generateKeyPairSync } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { validateConfig, type Config } from "../agent/config.js";
import { createKeyFiles, signCanonical } from "../agent/crypto/index.js";
import { silentLogger } from "../agent/log.js";
import { agentPaths } from "../agent/paths.js";
import { CreativePipeline, resolveMediaTools } from "../agent/playback/creatives/index.js";
import { Player } from "../agent/playback/player/index.js";
import { Playout, type PlayoutLedger } from "../agent/playback/playout/index.js";
import { applyEnvelope, ScheduleStore, type ApplyResult } from "../agent/playback/schedule/index.js";
import { openLedger } from "../agent/proofs/open.js";
import { openDatabase } from "../agent/store/index.js";

export const SCREEN = "bench-screen";
export const PANEL = { width: 384, height: 192, fps: 30 };

export interface BenchClip {
  id: string;
  file: string;
  sha256: string;
  durationMs: number;
}

/** An H.264 clip of an ffmpeg test source, `seconds` long, at the panel's size and rate. */
export function makeClip(dir: string, id: string, seconds: number, source: string): BenchClip {
  const file = join(dir, `${id}.mp4`);
  const input = `${source}=size=${PANEL.width}x${PANEL.height}:rate=${PANEL.fps}`;
  execFileSync("ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i", input, "-t", String(seconds), "-c:v", "libx264", "-pix_fmt", "yuv420p", file]);
  return { id, file, sha256: createHash("sha256").update(readFileSync(file)).digest("hex"), durationMs: seconds * 1000 };
}

/** The config a daemon on this data directory would run with: headless mpv, no controller. */
export function benchConfig(dataDir: string): Config {
  return validateConfig({ screenId: SCREEN, dataDir, runDir: join(dataDir, "run"), logLevel: "warn", panel: PANEL, player: { headless: true }, controller: { driver: "none" } });
}

/** The config as a YAML file for `ledagent run` (JSON is YAML). */
export function configYaml(config: Config): string {
  return JSON.stringify({ screenId: config.screenId, dataDir: config.dataDir, runDir: config.runDir, logLevel: config.logLevel, panel: PANEL, player: { headless: true }, controller: { driver: "none" } }, null, 2) + "\n";
}

export interface ScheduleBody {
  version: number;
  paid: BenchClip[];
  fill: BenchClip[];
  /** Each paid clip is one campaign of its own, at this rate. */
  playsPerHour: number;
}

/**
 * A schedule whose campaigns start now (so nothing is owed from before), one per paid clip, all
 * in one category, so the planner keeps them apart and fill comes between them.
 */
export function benchSchedule(body: ScheduleBody): Record<string, unknown> {
  const now = Date.now();
  const entry = (c: BenchClip): Record<string, unknown> => ({ id: c.id, url: pathToFileURL(c.file).href, sha256: c.sha256, durationMs: c.durationMs, approved: true });
  return {
    kind: "ledagent.schedule/v1",
    screen: SCREEN,
    version: body.version,
    issuedAt: new Date(now - 60_000).toISOString(),
    timezone: "UTC",
    suspensions: [],
    creatives: [...body.paid, ...body.fill].map(entry),
    campaigns: body.paid.map((c) => ({
      id: `${c.id}-campaign`, customer: `${c.id}-co`, category: "drink", creatives: [c.id],
      start: new Date(now).toISOString(), end: new Date(now + 4 * 3_600_000).toISOString(), playsPerHour: body.playsPerHour,
    })),
    fill: body.fill.map((c) => c.id),
  };
}

export interface PlayoutRig {
  config: Config;
  playout: Playout;
  player: Player;
  creatives: CreativePipeline;
  ledger: ReturnType<typeof openLedger>["ledger"];
  /** How long each of the playout's ledger writes (a play, an event) kept its event loop, ms. */
  writeMs: number[];
  /** Signs the schedule with this process's ops key and applies it, as `schedule load` would. */
  apply(schedule: Record<string, unknown>): ApplyResult;
  /** Stops the playout (mpv too) and closes the ledger and the cache. */
  close(): Promise<void>;
}

export interface RigOptions {
  /** x264 preset of the fit; the daemon's is "medium", and the cache keys renditions by it. */
  preset?: string;
}

/** The ledger as the playout sees it, each write timed: a write is synchronous and durable on return. */
function timedWrites(ledger: PlayoutLedger, into: number[]): PlayoutLedger {
  const timed = <T>(write: () => T): T => {
    const began = performance.now();
    try {
      return write();
    } finally {
      into.push(performance.now() - began);
    }
  };
  return {
    append: (input) => timed(() => ledger.append(input)),
    event: (type, detail) => timed(() => ledger.event(type, detail)),
    plays: (range) => ledger.plays(range),
    events: (range) => ledger.events(range),
    lastEvent: (type) => ledger.lastEvent(type),
  };
}

/** Fits every creative of the schedule into the cache, as a daemon starting from its cache finds them. */
export async function fillCache(rig: PlayoutRig, clips: BenchClip[]): Promise<Map<string, string>> {
  const renditions = new Map<string, string>();
  for (const c of clips) {
    const prepared = await rig.creatives.prepare({ id: c.id, url: pathToFileURL(c.file).href, sha256: c.sha256, durationMs: c.durationMs });
    renditions.set(c.id, prepared.rendition.path);
  }
  return renditions;
}

export function buildPlayoutRig(dataDir: string, opts: RigOptions = {}): PlayoutRig {
  const config = benchConfig(dataDir);
  const paths = agentPaths(config);
  mkdirSync(config.runDir, { recursive: true });
  if (!existsSync(paths.deviceKey)) createKeyFiles(paths.deviceKey, paths.devicePublicKey);
  const ops = generateKeyPairSync("ed25519");
  const opened = openLedger(config, { longLived: true });
  const db = openDatabase(paths.database);
  const log = silentLogger();
  const tools = resolveMediaTools({ env: { PATH: process.env.PATH }, ffmpegStaticPath: () => null });
  const creatives = new CreativePipeline({ config, db, creativesDir: paths.creativesDir, tools, log, preset: opts.preset ?? "ultrafast" });
  const player = new Player({ mpvPath: "mpv", runDir: config.runDir, panel: config.panel, output: { x: 0, y: 0 }, headless: true, audio: false, log });
  const store = new ScheduleStore({ path: paths.scheduleFile });
  const writeMs: number[] = [];
  const playout = new Playout({ screenId: SCREEN, controllerConfigured: false, ledger: timedWrites(opened.ledger, writeMs), schedules: store, player, creatives, screen: null, runDir: config.runDir, log });
  const deps = { store, opsPublicKey: ops.publicKey, screenId: SCREEN, ledger: opened.ledger, now: () => new Date() };
  return {
    config,
    playout,
    player,
    creatives,
    ledger: opened.ledger,
    writeMs,
    apply: (schedule) => applyEnvelope(deps, { schedule, sig: signCanonical(schedule, ops.privateKey) }, "bench", "local"),
    async close() {
      await playout.stop();
      opened.close();
      db.close();
    },
  };
}
