// Playout figures: the daemon's playout on real parts (ledger, signed schedule, creatives
// pipeline with the system's ffmpeg, mpv headless).
//  1. gap and drift while the ledger is busy, against a plain mpv playlist of the same items;
//  2. resident memory of a process running only the playout, over 500 short plays
//     (bench/playout-memory.ts);
//  3. cold and warm start to the first frame from the cache (bench/playout-start.ts).
// Progress goes to stderr; the figures (stdout) are the report's lines.
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { Airing } from "../agent/playback/playout/airing.js";
import type { EndedEvent } from "../agent/playback/player/index.js";
import type { PlayEntry } from "../agent/proofs/types.js";
import { AREA, forkChild, met, progress } from "./playout-common.js";
import type { LoadReport } from "./playout-load-child.js";
import { memoryFigures } from "./playout-memory.js";
import { buildPlayoutRig, benchSchedule, fillCache, makeClip, SCREEN, type BenchClip } from "./playout-rig.js";
import { startFigures } from "./playout-start.js";
import { percentile, plainPlaylist, startBlocking } from "./player.js";
import type { BenchReport } from "./report.js";

/** Items measured, after WARM_UP items whose drift is left out (the gauge learns the machine). */
const ITEMS = 112;
const WARM_UP = 10;
/** Two 2 s campaigns at this rate each leave 2 s between pairs of paid items: fill cut to ~2 s. */
const PLAYS_PER_HOUR = 600;
const TARGET = { gapP99: 10, driftP99: 20 };
/** The drift accumulates when the last third's mean is this much above or below the first's. */
const ACCUMULATION_MS = 10;

const ms = (n: number): string => `${n.toFixed(1)} ms`;
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

interface BusyRun {
  started: Airing[];
  ended: Map<string, EndedEvent>;
  plays: PlayEntry[];
  /** The playout's own ledger writes, ms each. */
  writeMs: number[];
}

/** The playout on real parts until ITEMS plays were recorded; the caller keeps the ledger busy. */
async function playoutRun(dataDir: string, clips: { paid: BenchClip[]; fill: BenchClip[] }, onReady: () => void): Promise<BusyRun> {
  const rig = buildPlayoutRig(dataDir);
  const run: BusyRun = { started: [], ended: new Map(), plays: [], writeMs: rig.writeMs };
  const done = new Promise<void>((resolve) => {
    rig.playout.on("started", (a) => run.started.push(a));
    rig.player.on("ended", (e) => run.ended.set(e.item.id, e));
    rig.playout.on("play", (entry) => {
      run.plays.push(entry);
      if (run.plays.length % 20 === 0) progress(`figure 1: ${run.plays.length}/${ITEMS} plays`);
      if (run.plays.length >= ITEMS) resolve();
    });
  });
  try {
    const applied = rig.apply(benchSchedule({ version: 1, ...clips, playsPerHour: PLAYS_PER_HOUR }));
    if (applied.state !== "applied") throw new Error(`schedule not applied: ${JSON.stringify(applied)}`);
    // From the cache, as the daemon starts: a fill still being fitted at start would hold the
    // screen black until the next item, which is not what this figure is about.
    await fillCache(rig, [...clips.paid, ...clips.fill]);
    onReady();
    await rig.playout.start();
    await done;
  } finally {
    await rig.close();
  }
  return run;
}

/** End of each item to the first frame of the one after it, from the player's mpv stamps. */
function gapsOf(run: BusyRun): number[] {
  return run.started.slice(0, -1).flatMap((a, i) => {
    const end = run.ended.get(a.id);
    const next = run.started[i + 1];
    return end && end.reason === "eof" && next.startedAt ? [next.startedAt.monoMs - end.at.monoMs] : [];
  });
}

/** The same items in the same order on mpv's command line, fills with the same cut (per-file end). */
function playlistArgs(started: Airing[]): string[] {
  return started.flatMap((a) => (a.item.lengthMs === undefined ? [a.item.file] : ["--{", `--end=${(a.item.lengthMs / 1000).toFixed(3)}`, a.item.file, "--}"]));
}

async function busyLedgerFigures(report: BenchReport, dir: string): Promise<void> {
  progress("figure 1: making clips");
  const clips = {
    paid: [makeClip(dir, "alpha", 2, "testsrc"), makeClip(dir, "beta", 2, "rgbtestsrc")],
    fill: [makeClip(dir, "house", 3, "smptebars"), makeClip(dir, "home", 3, "testsrc2")],
  };
  const dataDir = join(dir, "busy");
  // What keeps the ledger busy; started once the ledger exists, stopped after the baseline.
  const side: { load: ReturnType<typeof forkChild> | null; blocking: ReturnType<typeof startBlocking> | null } = { load: null, blocking: null };
  try {
    progress(`figure 1: playout of ${ITEMS} items with the ledger busy (about ${Math.round((ITEMS * 2) / 60)} min)`);
    const loadStarted = performance.now();
    const run = await playoutRun(dataDir, clips, () => {
      side.load = forkChild("./playout-load-child.js", [dataDir, SCREEN]);
      side.blocking = startBlocking(dir);
    });
    const blockedDuringPlayout = side.blocking?.stop() ?? { blocks: 0, blockedMs: 0, longestMs: 0 };
    side.blocking = null;
    const loadAvgPlayout = loadavg()[0];
    progress(`figure 1: plain mpv playlist of the same ${run.started.length} items, the same load`);
    side.blocking = startBlocking(dir);
    const baseline = await plainPlaylist(dir, playlistArgs(run.started));
    side.blocking.stop();
    side.blocking = null;
    if (!side.load) throw new Error("the load child was never started");
    const loaded = await stopLoad(side.load);
    side.load = null;
    const loadSeconds = (performance.now() - loadStarted) / 1000;

    const gaps = gapsOf(run);
    const over = (g: number[]): string => `${g.filter((x) => x > TARGET.gapP99).length} over ${TARGET.gapP99} ms`;
    const cut = run.started.filter((a) => a.item.lengthMs !== undefined).length;
    const mix = `${run.started.filter((a) => a.kind === "paid").length} paid 2 s, ${run.started.length - run.started.filter((a) => a.kind === "paid").length} fill (${cut} cut)`;
    const used = `${run.started.length} items: ${mix}; 2 campaigns × ${PLAYS_PER_HOUR}/h of 2 s clips, fill of 3 s clips, ${clipSize()}`;
    const busy = `ledger busy: a second process appending notes to the same ledger (${loaded.appends} in ${loadSeconds.toFixed(0)} s, ${(loaded.appends / loadSeconds).toFixed(0)}/s) and the event loop blocked ${(blockedDuringPlayout.blockedMs / 1000).toFixed(1)} s in ${blockedDuringPlayout.blocks} blocks of 10–60 ms (busy loop or write + fsync, bench/player.ts startBlocking), longest ${blockedDuringPlayout.longestMs.toFixed(0)} ms; load average ${loadAvgPlayout.toFixed(1)} on ${cpus().length} cores`;
    report.figure(AREA, "gap end → next first frame p50, plain mpv playlist", percentile(baseline, 50), "ms", `the baseline: the same items in the same order, fills cut by per-file end; ${baseline.length} transitions; p99 ${ms(percentile(baseline, 99))}, max ${ms(Math.max(...baseline))}, ${over(baseline)}; same load`);
    const gapP99 = percentile(gaps, 99);
    report.figure(AREA, "gap end → next first frame p50, playout (ledger busy)", percentile(gaps, 50), "ms", `${gaps.length} transitions; ${used}`);
    report.figure(AREA, "gap end → next first frame p99, playout (ledger busy)", gapP99, "ms", `max ${ms(Math.max(...gaps))}, ${over(gaps)}; target ≤ ${TARGET.gapP99} ms: ${met(gapP99 <= TARGET.gapP99)}; ${busy}`);
    driftFigures(report, run);
    const writes = run.writeMs;
    const slow = writes.filter((w) => w > 100).length;
    report.figure(AREA, "playout's own ledger writes p99 (ledger busy)", percentile(writes, 99), "ms", `p50 ${ms(percentile(writes, 50))}, max ${ms(Math.max(...writes))}, ${slow} of ${writes.length} over 100 ms; each is synchronous, so it holds the playout's event loop while SQLite waits for the other writer`);
    const statuses = countBy(run.plays.map((p) => p.play.status));
    report.figure(AREA, "plays recorded during the busy run", run.plays.length, "plays", Object.entries(statuses).map(([s, n]) => `${n} ${s}`).join(", "));
  } finally {
    side.blocking?.stop();
    if (side.load) await stopLoad(side.load).catch(() => undefined);
  }
}

function clipSize(): string {
  return "H.264 384×192 at 30 fps, fitted by the pipeline (ultrafast), headless mpv";
}

function countBy(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}

/** Paid items after the warm-up: first frame (wall clock, mpv's stamp) − planned start. */
function driftFigures(report: BenchReport, run: BusyRun): void {
  const drift = run.started.slice(WARM_UP).filter((a) => a.kind === "paid" && a.startedAt).map((a) => (a.startedAt?.wallMs ?? 0) - a.plannedMs);
  if (drift.length < 6) throw new Error(`only ${drift.length} paid items after the warm-up`);
  const abs = drift.map(Math.abs);
  const third = Math.floor(drift.length / 3);
  const first = mean(drift.slice(0, third));
  const last = mean(drift.slice(-third));
  const p99 = percentile(abs, 99);
  const accumulates = Math.abs(last - first) > ACCUMULATION_MS;
  report.figure(AREA, "drift |first frame − planned| p50, paid items (ledger busy)", percentile(abs, 50), "ms", `${drift.length} paid items after the first ${WARM_UP} items; signed: min ${ms(Math.min(...drift))}, max ${ms(Math.max(...drift))}, mean ${ms(mean(drift))}`);
  report.figure(AREA, "drift |first frame − planned| p99, paid items (ledger busy)", p99, "ms", `max ${ms(Math.max(...abs))}; target ≤ ${TARGET.driftP99} ms: ${met(p99 <= TARGET.driftP99)}`);
  const medians = `medians ${ms(percentile(drift.slice(0, third), 50))} and ${ms(percentile(drift.slice(-third), 50))}`;
  report.figure(AREA, "drift mean, last third − first third (paid items)", last - first, "ms", `first third ${ms(first)}, last third ${ms(last)} (${third} items each; ${medians}); target: no accumulation (|difference| ≤ ${ACCUMULATION_MS} ms): ${met(!accumulates)}`);
}

async function stopLoad(load: ReturnType<typeof forkChild>): Promise<LoadReport> {
  await load.first;
  const reported = new Promise<LoadReport>((resolve, reject) => {
    load.child.on("message", (m) => {
      if ((m as LoadReport).type === "done") resolve(m as LoadReport);
    });
    load.child.once("exit", (code) => reject(new Error(`the load child exited with ${code} without a report`)));
  });
  load.child.send("stop");
  return reported;
}

export async function bench(report: BenchReport): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "ledagent-bench-playout-"));
  const began = performance.now();
  try {
    await busyLedgerFigures(report, dir);
    await memoryFigures(report, dir);
    await startFigures(report, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    progress(`done in ${((performance.now() - began) / 60_000).toFixed(1)} min`);
  }
}
