// The player against a real mpv, headless (--vo=null --ao=null, decoding in real time), with
// clips ffmpeg makes here. Time bounds are generous: the machine is shared.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../../agent/log.js";
import { Player } from "../../../agent/playback/player/index.js";
import { clip, lines, makeClip, makeStill, newPlayer, tmp, until, video, watch } from "./mpv-harness.js";

beforeAll(() => {
  makeClip("one.mp4", 1);
  makeClip("two.mp4", 2);
  makeClip("long.mp4", 8);
  makeStill("still.png");
  writeFileSync(clip("corrupt.mp4"), Buffer.alloc(4096, 0x5a));
});
afterAll(() => tmp.cleanup());

function mpvRunning(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("Player with a real mpv", () => {
  it("plays queued items in order, each started then ended at eof, with plausible durations and no gap", async () => {
    const player = newPlayer("order");
    const log = watch(player);
    await player.start();
    try {
      await player.queue(video("v1"));
      await player.queue({ id: "s1", file: clip("still.png"), kind: "still", durationMs: 700 });
      await player.queue(video("v2"));
      await until("three ends", () => log.ended.length === 3);
      expect(log.seen.map((s) => `${s.type} ${s.id}${s.detail ? ` ${s.detail}` : ""}`)).toEqual([
        "started v1", "ended v1 eof", "started s1", "ended s1 eof", "started v2", "ended v2 eof",
      ]);
      const durations = log.ended.map((e) => e.at.monoMs - (e.startedAt?.monoMs ?? NaN));
      expect(durations[0]).toBeGreaterThan(700);
      expect(durations[0]).toBeLessThan(1600);
      expect(durations[1]).toBeGreaterThan(500);
      expect(durations[1]).toBeLessThan(1300);
      // The queued transition happens inside mpv: end of one to first frame of the next.
      for (let i = 0; i < 2; i++) expect(log.started[i + 1].at.monoMs - log.ended[i].at.monoMs).toBeLessThan(250);
      expect(Math.abs(log.started[0].at.wallMs - Date.now())).toBeLessThan(15_000);
      expect(player.pending()).toEqual([]);
      // Finished entries are pruned as the next one starts: only the last is left.
      expect(await player.playlistLength()).toBeLessThanOrEqual(1);
    } finally {
      await player.close();
    }
  });

  it("a cut (lengthMs) stops a video there and mpv calls it eof; a still's lengthMs is its time on screen", async () => {
    const player = newPlayer("cut");
    const log = watch(player);
    await player.start();
    try {
      await expect(player.queue({ ...video("zero", "two.mp4"), lengthMs: 0 })).rejects.toThrow(/^item zero: lengthMs must be a positive finite number/);
      expect(player.pending()).toEqual([]);
      await player.queue({ ...video("cut", "two.mp4"), lengthMs: 600 });
      await player.queue({ id: "s", file: clip("still.png"), kind: "still", durationMs: 2000, lengthMs: 500 });
      await player.queue(video("after"));
      await until("three ends", () => log.ended.length === 3);
      expect(lines(log.seen)).toEqual(["started cut", "ended cut eof", "started s", "ended s eof", "started after", "ended after eof"]);
      const durations = log.ended.map((e) => e.at.monoMs - (e.startedAt?.monoMs ?? NaN));
      expect(durations[0]).toBeGreaterThan(600 - 250);
      expect(durations[0]).toBeLessThan(600 + 250);
      expect(durations[1]).toBeGreaterThan(500 - 250);
      expect(durations[1]).toBeLessThan(500 + 250);
      // A cut is an ordinary end inside mpv: the next item follows as quickly as after a clip's own end.
      expect(log.started[1].at.monoMs - log.ended[0].at.monoMs).toBeLessThan(250);
    } finally {
      await player.close();
    }
  });

  it("play() interrupts what plays (ended: stop) and drops what was queued", async () => {
    const player = newPlayer("interrupt");
    const log = watch(player);
    await player.start();
    try {
      await player.queue(video("long", "long.mp4"));
      await player.queue(video("next"));
      await until("long started", () => log.started.length === 1);
      await new Promise((r) => setTimeout(r, 300));
      await player.play(video("now"));
      await until("now ended", () => log.ended.some((e) => e.item.id === "now"));
      expect(log.ended[0]).toMatchObject({ item: { id: "long" }, reason: "stop" });
      expect(log.discarded).toEqual([{ item: video("next"), why: "replaced" }]);
      expect(log.ended[1]).toMatchObject({ item: { id: "now" }, reason: "eof" });
    } finally {
      await player.close();
    }
  });

  it("an unreadable file ends with error and mpv's reason, and the next item still plays", async () => {
    const player = newPlayer("corrupt");
    const log = watch(player);
    await player.start();
    try {
      await player.queue(video("bad", "corrupt.mp4"));
      await player.queue(video("good"));
      await until("two ends", () => log.ended.length === 2);
      expect(log.ended[0]).toMatchObject({ item: { id: "bad" }, reason: "error", startedAt: null, error: "unrecognized file format" });
      expect(log.ended[1]).toMatchObject({ item: { id: "good" }, reason: "eof" });
    } finally {
      await player.close();
    }
  });

  it("mpv killed mid-play: the item ends with error, died then restarted, and it plays again", async () => {
    const player = newPlayer("kill");
    const log = watch(player);
    const deaths: string[] = [];
    let restarts = 0;
    player.on("died", (e) => deaths.push(e.error));
    player.on("restarted", () => restarts++);
    await player.start();
    try {
      await player.queue(video("long", "long.mp4"));
      await player.queue(video("after"));
      await until("long started", () => log.started.length === 1);
      const pid = mpvPids(player.socketPath)[0];
      process.kill(pid, "SIGKILL");
      await until("restarted", () => restarts === 1);
      expect(deaths).toEqual(["mpv exited (SIGKILL)"]);
      expect(log.ended[0]).toMatchObject({ item: { id: "long" }, reason: "error", error: "mpv exited (SIGKILL)" });
      expect(log.discarded).toEqual([{ item: video("after"), why: "mpv exited (SIGKILL)" }]);
      await player.queue(video("again"));
      await until("again ended", () => log.ended.some((e) => e.item.id === "again"));
      expect(log.ended.at(-1)).toMatchObject({ item: { id: "again" }, reason: "eof" });
    } finally {
      await player.close();
    }
  });

  it("stamps events when mpv sends them, even while the event loop is blocked", async () => {
    const player = newPlayer("blocked");
    const log = watch(player);
    await player.start();
    try {
      await player.queue(video("first"));
      await player.queue(video("second"));
      await until("first started", () => log.started.length === 1);
      // Busy from 0.6 s to 1.6 s into a 1 s clip: the transition happens while Node is stuck.
      await new Promise((r) => setTimeout(r, 600));
      const blockStart = performance.now();
      while (performance.now() - blockStart < 1000) {
        /* blocking on purpose */
      }
      const blockEnd = performance.now();
      await until("second started", () => log.started.length === 2);
      const endedFirst = log.ended[0];
      expect(endedFirst).toMatchObject({ item: { id: "first" }, reason: "eof" });
      expect(endedFirst.at.monoMs).toBeLessThan(blockEnd - 150);
      expect(endedFirst.at.monoMs).toBeGreaterThan(blockStart);
      expect(log.started[1].at.monoMs).toBeLessThan(blockEnd - 100);
    } finally {
      await player.close();
    }
  });

  it("screenshot() writes the frame on screen", async () => {
    const player = newPlayer("shot");
    const log = watch(player);
    await player.start();
    try {
      await player.queue(video("long", "long.mp4"));
      await until("long started", () => log.started.length === 1);
      const shot = join(tmp.dir, "shot.png");
      await player.screenshot(shot);
      expect(readFileSync(shot).subarray(1, 4).toString("latin1")).toBe("PNG");
    } finally {
      await player.close();
    }
  });

  it("start() says why when mpv cannot be run", async () => {
    const player = new Player({
      mpvPath: join(tmp.dir, "no-such-mpv"), runDir: tmp.dir, panel: { width: 64, height: 32 }, output: { x: 0, y: 0 },
      headless: true, audio: false, log: silentLogger(),
    });
    await expect(player.start()).rejects.toThrow(/^mpv spawn .*no-such-mpv ENOENT/);
    await expect(player.play(video("x"))).rejects.toThrow(/not available: mpv is restarting/);
  });

  it("stop() ends what plays with stop; close() leaves no mpv and no socket", async () => {
    const player = newPlayer("close");
    const log = watch(player);
    await player.start();
    const pids = mpvPids(player.socketPath);
    try {
      expect(pids).toHaveLength(1);
      await player.queue(video("long", "long.mp4"));
      await until("long started", () => log.started.length === 1);
      await player.stop();
      await until("long ended", () => log.ended.length === 1);
      expect(log.ended[0]).toMatchObject({ item: { id: "long" }, reason: "stop" });
      await player.queue(video("last", "long.mp4"));
      await until("last started", () => log.started.length === 2);
    } catch (err) {
      await player.close(); // no mpv left behind by a failed assertion
      throw err;
    }
    await player.close();
    expect(log.ended[1]).toMatchObject({ item: { id: "last" }, reason: "quit" });
    expect(existsSync(player.socketPath)).toBe(false);
    expect(mpvRunning(pids[0])).toBe(false);
    expect(mpvPids(player.socketPath)).toEqual([]);
    await expect(player.queue(video("late"))).rejects.toThrow(/not available: closed/);
  });
});

/** The pids of mpv processes serving this socket, found by their command line. */
function mpvPids(socketPath: string): number[] {
  let out: string;
  try {
    out = execFileSync("pgrep", ["-f", "--", `--input-ipc-server=${socketPath}`], { encoding: "utf8" });
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
  return out.trim().split("\n").filter(Boolean).map(Number);
}
