// Shared by the real-mpv player tests: clips ffmpeg makes here, a headless Player in its own
// run directory, and a log of the player's events. Each test file imports its own copy (vitest
// runs every file in its own process) and removes `tmp` when it is done.
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { silentLogger } from "../../../agent/log.js";
import { Player, type DiscardedEvent, type EndedEvent, type PlayItem, type StartedEvent } from "../../../agent/playback/player/index.js";
import { tempDir } from "../../helpers/tmp.js";

export const tmp = tempDir("ledagent-player-");
export const clip = (name: string) => join(tmp.dir, name);

export function makeClip(name: string, seconds: number): void {
  execFileSync("ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i", `testsrc=size=64x32:rate=30`, "-t", String(seconds), "-pix_fmt", "yuv420p", clip(name)]);
}

export function makeStill(name: string): void {
  execFileSync("ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x32", "-frames:v", "1", clip(name)]);
}

export type Seen = { type: string; id: string; at?: number; detail?: string };

export interface PlayerLog {
  seen: Seen[];
  ended: EndedEvent[];
  started: StartedEvent[];
  discarded: DiscardedEvent[];
}

export function watch(player: Player): PlayerLog {
  const log: PlayerLog = { seen: [], ended: [], started: [], discarded: [] };
  player.on("started", (e) => {
    log.started.push(e);
    log.seen.push({ type: "started", id: e.item.id, at: e.at.monoMs });
  });
  player.on("ended", (e) => {
    log.ended.push(e);
    log.seen.push({ type: "ended", id: e.item.id, at: e.at.monoMs, detail: e.reason });
  });
  player.on("discarded", (e) => {
    log.discarded.push(e);
    log.seen.push({ type: "discarded", id: e.item.id, detail: e.why });
  });
  return log;
}

/** The log as lines ("started a", "ended a eof", "discarded b cleared"), for whole-sequence checks. */
export function lines(seen: readonly Seen[]): string[] {
  return seen.map((s) => `${s.type} ${s.id}${s.detail ? ` ${s.detail}` : ""}`);
}

export async function until(what: string, test: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function newPlayer(name: string): Player {
  const dir = mkdtempSync(join(tmp.dir, `run-${name}-`));
  return new Player({
    mpvPath: "mpv", runDir: dir, panel: { width: 64, height: 32 }, output: { x: 0, y: 0 },
    headless: true, audio: false, log: silentLogger(), restartDelayMs: 100,
  });
}

export const video = (id: string, name = "one.mp4"): PlayItem => ({ id, file: clip(name), kind: "video" });
