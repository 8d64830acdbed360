// A playout on real parts: a ledger on disk, a signed schedule applied to a real store, the
// creatives pipeline with the system's ffmpeg fitting clips made here, and mpv headless. Only the
// screen (the controller's view) is a stand-in the test sets.
import { execFileSync } from "node:child_process";
import { expect } from "vitest";
import { createHash, generateKeyPairSync } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { validateConfig, type Config } from "../../../agent/config.js";
import { createKeyFiles, signCanonical } from "../../../agent/crypto/index.js";
import { silentLogger } from "../../../agent/log.js";
import { agentPaths } from "../../../agent/paths.js";
import { CreativePipeline, resolveMediaTools } from "../../../agent/playback/creatives/index.js";
import { Player } from "../../../agent/playback/player/index.js";
import { Playout } from "../../../agent/playback/playout/index.js";
import { applyEnvelope, ScheduleStore, type ApplyResult } from "../../../agent/playback/schedule/index.js";
import { systemClock, type ClockSource } from "../../../agent/proofs/clock.js";
import { openLedger } from "../../../agent/proofs/open.js";
import type { PlayEntry } from "../../../agent/proofs/types.js";
import type { ScreenState } from "../../../agent/drivers/types.js";
import { openDatabase, type Db } from "../../../agent/store/index.js";

export const SCREEN = "test-screen";
export const ops = generateKeyPairSync("ed25519");

export interface Clip {
  id: string;
  file: string;
  sha256: string;
  durationMs: number;
}

/** A short clip ffmpeg makes: `seconds` long, at a small size (the fit scales it to the panel). */
export function makeClip(dir: string, id: string, seconds: number, source = "testsrc"): Clip {
  const file = join(dir, `${id}.mp4`);
  execFileSync("ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i", `${source}=size=80x40:rate=10`, "-t", String(seconds), "-pix_fmt", "yuv420p", file]);
  return { id, file, sha256: createHash("sha256").update(readFileSync(file)).digest("hex"), durationMs: seconds * 1000 };
}

export function creativeEntry(clip: Clip, approved = true): Record<string, unknown> {
  return { id: clip.id, url: pathToFileURL(clip.file).href, sha256: clip.sha256, durationMs: clip.durationMs, approved };
}

export interface Rig {
  config: Config;
  /** The wall clock every part of this rig runs on (UTC ms): the real one, shifted by `offsetMs`. */
  now(): number;
  /** Steps that wall clock by `ms` for every part at once (NTP stepping it); needs `offsetMs`. */
  stepClock(ms: number): void;
  playout: Playout;
  player: Player;
  /** The rig's creatives pipeline: a test may prepare creatives ahead, so they are cached at start. */
  creatives: CreativePipeline;
  plays: PlayEntry[];
  screen: { state: ScreenState };
  store: ScheduleStore;
  ledger: ReturnType<typeof openLedger>["ledger"];
  apply(schedule: Record<string, unknown>): ApplyResult;
  close(): Promise<void>;
}

export function testConfig(dataDir: string): Config {
  return validateConfig({ screenId: SCREEN, dataDir, runDir: join(dataDir, "run"), panel: { width: 64, height: 32, fps: 10 }, player: { headless: true } });
}

export interface RigOptions {
  controller?: boolean;
  /**
   * Runs the ledger, the player, the playout and the schedule store on a wall clock this far from
   * the real one (ms), so a test can start just before a clock hour ends. Default: the real clock.
   */
  offsetMs?: number;
  /** Reuses what a previous rig left in `dataDir` (keys, ledger, schedule store, creatives cache). */
  reuse?: boolean;
}

/** The system clock shifted by `offsetMs()`, for the ledger's entries. */
function shiftedClock(offsetMs: () => number): ClockSource {
  const base = systemClock();
  return { now: () => new Date(base.now().getTime() + offsetMs()), monoMs: () => base.monoMs(), bootId: () => base.bootId(), synced: () => base.synced() };
}

export function buildRig(dataDir: string, opts: RigOptions = {}): Rig {
  const config = testConfig(dataDir);
  const paths = agentPaths(config);
  mkdirSync(config.runDir, { recursive: true });
  if (!opts.reuse) createKeyFiles(paths.deviceKey, paths.devicePublicKey);
  const offset = opts.offsetMs;
  let shift = offset ?? 0;
  const now = (): number => Date.now() + shift;
  const opened = openLedger(config, offset === undefined ? { longLived: true } : { longLived: true, clock: shiftedClock(() => shift) });
  const db: Db = openDatabase(paths.database);
  const log = silentLogger();
  const creatives = new CreativePipeline({ config, db, creativesDir: paths.creativesDir, tools: resolveMediaTools({ env: { PATH: process.env.PATH }, ffmpegStaticPath: () => null }), log, preset: "ultrafast" });
  const player = new Player({ mpvPath: "mpv", runDir: config.runDir, panel: config.panel, output: { x: 0, y: 0 }, headless: true, audio: false, log, restartDelayMs: 100, ...(offset === undefined ? {} : { wallMs: now }) });
  const store = new ScheduleStore({ path: paths.scheduleFile });
  const screen = { state: { verified: true, online: true, brightness: 80, blackout: false } as ScreenState };
  const controller = opts.controller ?? true;
  const playout = new Playout({
    screenId: SCREEN,
    controllerConfigured: controller,
    ledger: opened.ledger,
    schedules: store,
    player,
    creatives,
    screen: controller ? { screenState: () => ({ ...screen.state }) } : null,
    runDir: config.runDir,
    log,
    ...(offset === undefined ? {} : { clock: { wallMs: now, monoMs: () => performance.now() } }),
  });
  const plays: PlayEntry[] = [];
  playout.on("play", (e) => plays.push(e));
  return {
    config,
    now,
    stepClock(ms) {
      if (offset === undefined) throw new Error("build the rig with offsetMs to step its clock");
      shift += ms;
    },
    playout,
    player,
    creatives,
    plays,
    screen,
    store,
    ledger: opened.ledger,
    apply: (schedule) => applyEnvelope({ store, opsPublicKey: ops.publicKey, screenId: SCREEN, ledger: opened.ledger, now: () => new Date(now()) }, { schedule, sig: signCanonical(schedule, ops.privateKey) }, "test", "local"),
    async close() {
      await playout.stop();
      opened.close();
      db.close();
    },
  };
}

/** A schedule for this screen, live from an hour ago for two hours, in UTC. */
export function schedule(version: number, body: { creatives: Record<string, unknown>[]; campaigns: Record<string, unknown>[]; fill: string[]; suspensions?: unknown[] }): Record<string, unknown> {
  return { kind: "ledagent.schedule/v1", screen: SCREEN, version, issuedAt: new Date(Date.now() - 60_000).toISOString(), timezone: "UTC", suspensions: [], ...body };
}

export function campaign(id: string, creatives: string[], over: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Date.now();
  return { id, customer: `${id}-co`, creatives, start: new Date(now - 3_600_000).toISOString(), end: new Date(now + 3_600_000).toISOString(), playsPerHour: 360, ...over };
}

export async function until(what: string, test: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface ScenarioOptions extends RigOptions {
  /** The rig's data directory. */
  dir: string;
  /** The schedule's creatives: a clip (approved, served from its file) or an entry as written. */
  creatives: (Clip | Record<string, unknown>)[];
  /** The schedule's campaigns; a function when they depend on the rig (its clock, for a flight). */
  campaigns: Record<string, unknown>[] | ((rig: Rig) => Record<string, unknown>[]);
  /** House content (default: "house"). */
  fill?: string[];
  suspensions?: unknown[];
  /**
   * Clips fitted before playing starts (after the schedule is applied), so the first plan finds
   * them ready (a creative not ready at its turn has fill stand in, and its play is owed).
   * Default: none, fitted as they come.
   */
  prepare?: Clip[];
  /** Once started, waited on until this many plays were recorded (default 0). */
  plays?: number;
}

const isClip = (c: Clip | Record<string, unknown>): c is Clip => typeof c.file === "string" && typeof c.sha256 === "string" && typeof c.durationMs === "number" && !("url" in c);

/**
 * A rig playing one signed schedule (version 1): the setup each scenario shares. The rig is
 * closed again if any step of it fails, so no mpv outlives a failed setup.
 */
export async function scenarioRig(o: ScenarioOptions): Promise<Rig> {
  const rig = buildRig(o.dir, { controller: o.controller, offsetMs: o.offsetMs, reuse: o.reuse });
  try {
    const campaigns = typeof o.campaigns === "function" ? o.campaigns(rig) : o.campaigns;
    const body = { creatives: o.creatives.map((c) => (isClip(c) ? creativeEntry(c) : c)), campaigns, fill: o.fill ?? ["house"], ...(o.suspensions ? { suspensions: o.suspensions } : {}) };
    const result = rig.apply(schedule(1, body));
    expect(result.state, JSON.stringify(result)).toBe("applied");
    // Applied first, then fitted: the campaigns' windows run from the apply, as they always have in
    // these scenarios (make-good's count of what is owed depends on it).
    for (const clip of o.prepare ?? []) await prepare(rig, clip);
    await rig.playout.start();
    const plays = o.plays ?? 0;
    if (plays > 0) await until(plays === 1 ? "a first play" : `${plays} plays`, () => rig.plays.length >= plays, 30_000);
    return rig;
  } catch (err) {
    await rig.close().catch(() => undefined);
    throw err;
  }
}

/** Fits a clip into the rig's creatives cache ahead of its turn. */
export async function prepare(rig: Rig, clip: Clip): Promise<void> {
  await rig.creatives.prepare({ id: clip.id, url: pathToFileURL(clip.file).href, sha256: clip.sha256, durationMs: clip.durationMs });
}
