// Player figures: the gap between one item's end and the next one's first frame, from mpv's own
// events, over consecutive short items queued by the Player while Node's event loop is blocked
// at random (busy loops and synchronous fsyncs of tens of ms), against a plain mpv playlist of
// the same clips that mpv plays by itself (the baseline), measured in the same run and under
// the same blocking. Both are timed by the same reader thread, so the comparison is fair.
import { execFileSync } from "node:child_process";
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../agent/log.js";
import { MpvClient, type Stamp } from "../agent/playback/player/client.js";
import { startMpv, type MpvOptions } from "../agent/playback/player/mpv-process.js";
import { Player, type PlayItem } from "../agent/playback/player/index.js";
import type { BenchReport } from "./report.js";

const AREA = "player";
const ITEMS = 100;
// 2 s items would make this bench take 7 minutes for both sides; the transition costs the same
// whatever the length, so 0.5 s items stand in for them (and the figure says so).
const ITEM_SECONDS = 0.5;
const PANEL = { width: 384, height: 192 };
const SOURCES = ["testsrc", "testsrc2", "smptebars", "rgbtestsrc"];
const TARGET_P99_MS = 10;
// Items handed to mpv ahead of the one on screen. Playout keeps one ahead of 2 s items; with
// 0.5 s items a stall of the whole process (seen at half a second on a loaded machine) could
// outlast one item, so the bench keeps three ahead: it measures mpv's transition, not a
// queue that ran dry.
const AHEAD = 3;

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function makeClips(dir: string): string[] {
  return SOURCES.map((source, i) => {
    const file = join(dir, `clip-${i}.mp4`);
    const input = `${source}=size=${PANEL.width}x${PANEL.height}:rate=30`;
    execFileSync("ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i", input, "-t", String(ITEM_SECONDS), "-c:v", "libx264", "-pix_fmt", "yuv420p", file]);
    return file;
  });
}

/** Blocks the event loop at random: 10–60 ms of busy loop or of write + fsync, every 20–200 ms. */
export function startBlocking(dir: string): { stop: () => { blocks: number; blockedMs: number; longestMs: number } } {
  const fd = openSync(join(dir, "fsync.dat"), "w");
  const page = Buffer.alloc(4096, 7);
  let timer: NodeJS.Timeout;
  let blocks = 0;
  let blockedMs = 0;
  let longestMs = 0;
  const block = (): void => {
    const ms = 10 + Math.random() * 50;
    const start = performance.now();
    const fsyncs = blocks % 2 === 1;
    while (performance.now() - start < ms) {
      if (fsyncs) {
        writeSync(fd, page);
        fsyncSync(fd);
      }
    }
    const took = performance.now() - start;
    blocks++;
    blockedMs += took;
    longestMs = Math.max(longestMs, took);
    timer = setTimeout(block, 20 + Math.random() * 180);
  };
  timer = setTimeout(block, 50);
  return {
    stop: () => {
      clearTimeout(timer);
      closeSync(fd);
      return { blocks, blockedMs, longestMs };
    },
  };
}

/** Gaps from a stream of events: each end-file to the next first frame. */
function gapsOf(events: Array<{ name: string; at: Stamp }>): number[] {
  const gaps: number[] = [];
  let lastEnd: number | null = null;
  for (const e of events) {
    if (e.name === "end-file") lastEnd = e.at.monoMs;
    else if (e.name === "playback-restart" && lastEnd !== null) {
      gaps.push(e.at.monoMs - lastEnd);
      lastEnd = null;
    }
  }
  return gaps;
}

const clocks = { monotonicMs: () => performance.now(), wallMs: () => Date.now() };

/** mpv plays the whole list from its command line; Node only listens. */
export async function plainPlaylist(dir: string, files: string[]): Promise<number[]> {
  const options: MpvOptions = {
    socketPath: join(dir, "baseline.sock"), panel: PANEL, output: { x: 0, y: 0 }, headless: true, audio: false,
    extraArgs: ["--pause=yes", ...files],
  };
  const { child, transport } = await startMpv("mpv", options);
  const client = new MpvClient(transport, clocks);
  const events: Array<{ name: string; at: Stamp }> = [];
  let ends = 0;
  const done = new Promise<void>((resolve) => {
    client.on("event", (name, fields, at) => {
      events.push({ name, at });
      if (name === "end-file" && ++ends === files.length) resolve();
      else if (name === "idle" && ends > 0) resolve();
    });
  });
  await client.command(["set_property", "pause", false]);
  await done;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  await client.command(["quit"]).catch(() => undefined);
  await exited;
  return gapsOf(events);
}

/** The Player, keeping AHEAD items queued, as playout will keep the next one. */
async function playerRun(dir: string, files: string[]): Promise<{ gaps: number[]; durations: number[]; notEof: number }> {
  const player = new Player({
    mpvPath: "mpv", runDir: dir, panel: PANEL, output: { x: 0, y: 0 }, headless: true, audio: false, log: silentLogger(),
  });
  await player.start();
  const items: PlayItem[] = files.map((file, i) => ({ id: `item-${i}`, file, kind: "video" }));
  const started = new Map<string, number>();
  const ended: Array<{ id: string; at: number }> = [];
  const durations: number[] = [];
  let next = 0;
  let notEof = 0;
  const queueNext = (): void => {
    if (next < items.length) player.queue(items[next++]).catch((err: Error) => console.error(`${AREA}: queue failed: ${err.message}`));
  };
  const done = new Promise<void>((resolve) => {
    player.on("started", (e) => {
      started.set(e.item.id, e.at.monoMs);
      queueNext();
    });
    player.on("ended", (e) => {
      if (e.reason !== "eof") notEof++;
      ended.push({ id: e.item.id, at: e.at.monoMs });
      if (e.startedAt) durations.push(e.at.monoMs - e.startedAt.monoMs);
      if (ended.length === items.length) resolve();
    });
  });
  for (let i = 0; i <= AHEAD; i++) queueNext();
  await done;
  await player.close();
  const gaps = ended.slice(0, -1).flatMap((e, i) => {
    const nextStart = started.get(items[i + 1].id);
    return nextStart === undefined ? [] : [nextStart - e.at];
  });
  return { gaps, durations, notEof };
}

export async function bench(report: BenchReport): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "ledagent-bench-player-"));
  try {
    const clips = makeClips(dir);
    const files = Array.from({ length: ITEMS }, (_, i) => clips[i % clips.length]);
    const used = `${ITEMS} consecutive ${ITEM_SECONDS} s H.264 items, ${PANEL.width}×${PANEL.height}, headless`;

    const baselineBlocking = startBlocking(dir);
    const baseline = await plainPlaylist(dir, files);
    baselineBlocking.stop();

    const blocking = startBlocking(dir);
    const run = await playerRun(dir, files);
    const blocked = blocking.stop();

    const p99 = percentile(run.gaps, 99);
    const over = (gaps: number[]): string => `${gaps.filter((g) => g > TARGET_P99_MS).length} over ${TARGET_P99_MS} ms`;
    report.figure(AREA, "gap end → next first frame p50, plain mpv playlist", percentile(baseline, 50), "ms", `the baseline; ${baseline.length} transitions; ${used}`);
    report.figure(AREA, "gap end → next first frame p99, plain mpv playlist", percentile(baseline, 99), "ms", `max ${Math.max(...baseline).toFixed(1)} ms, ${over(baseline)}`);
    report.figure(AREA, "gap end → next first frame p50, Player (queued)", percentile(run.gaps, 50), "ms", `${run.gaps.length} transitions`);
    report.figure(AREA, "gap end → next first frame p99, Player (queued)", p99, "ms", `max ${Math.max(...run.gaps).toFixed(1)} ms, ${over(run.gaps)}; target ≤ ${TARGET_P99_MS} ms: ${p99 <= TARGET_P99_MS ? "met" : "MISSED"}`);
    report.figure(AREA, "event loop blocked during the Player run", blocked.blockedMs / 1000, "s", `${blocked.blocks} blocks of 10–60 ms (busy loop or write + fsync), longest ${blocked.longestMs.toFixed(0)} ms; load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores`);
    report.figure(AREA, "item length first frame → end p50, Player", percentile(run.durations, 50), "ms", `clip ${ITEM_SECONDS * 1000} ms; ${run.notEof} items did not end at eof`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
