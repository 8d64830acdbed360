// Player.clearQueued against a real mpv, headless, with clips ffmpeg makes here: what plays goes
// on, what waited is discarded "cleared", and no item is ever both discarded and played. Time
// bounds are generous: the machine is shared.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lines, makeClip, newPlayer, tmp, until, video, watch, type Seen } from "./mpv-harness.js";

beforeAll(() => {
  makeClip("short.mp4", 0.2);
  makeClip("half.mp4", 0.5);
  makeClip("one.mp4", 1);
  makeClip("two.mp4", 2);
});
afterAll(() => tmp.cleanup());

/** Each item's own events in order: { a: ["started", "ended eof"], b: ["discarded cleared"] }. */
function fates(seen: readonly Seen[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const s of seen) (out[s.id] ??= []).push(s.detail ? `${s.type} ${s.detail}` : s.type);
  return out;
}

const PLAYED = ["started", "ended eof"];
const CLEARED = ["discarded cleared"];

describe("Player.clearQueued with a real mpv", () => {
  it("while a plays: a plays on to eof, b and c are discarded, and d queued after the clear plays next", async () => {
    const player = newPlayer("clear");
    const log = watch(player);
    await player.start();
    try {
      await player.queue(video("a", "two.mp4"));
      await player.queue(video("b"));
      await player.queue(video("c"));
      await until("a started", () => log.started.length === 1);
      await player.clearQueued();
      expect(player.pending().map((i) => i.id)).toEqual(["a"]);
      expect(await player.playlistLength()).toBe(1);
      await player.queue(video("d"));
      await until("d ended", () => log.ended.some((e) => e.item.id === "d"));
      expect(lines(log.seen)).toEqual(["started a", "discarded b cleared", "discarded c cleared", "ended a eof", "started d", "ended d eof"]);
      // d was queued inside mpv behind a, not started late by the player.
      expect(log.started[1].at.monoMs - log.ended[0].at.monoMs).toBeLessThan(250);
      expect(player.pending()).toEqual([]);
    } finally {
      await player.close();
    }
  });

  it("on an idle mpv: nothing to discard, mpv's playlist is emptied, and what is queued next plays and is pruned as usual", async () => {
    const player = newPlayer("idle");
    const log = watch(player);
    await player.start();
    try {
      await player.clearQueued();
      expect(log.seen).toEqual([]);
      await player.queue(video("a", "half.mp4"));
      await until("a ended", () => log.ended.length === 1);
      expect(await player.playlistLength()).toBe(1); // a, finished, still listed
      await player.clearQueued();
      expect(await player.playlistLength()).toBe(0);
      await player.queue(video("b", "half.mp4"));
      await player.queue(video("c", "half.mp4"));
      await until("c ended", () => log.ended.length === 3);
      // A pruning count that still held a would remove c, on screen, and c would end with stop.
      expect(lines(log.seen)).toEqual(["started a", "ended a eof", "started b", "ended b eof", "started c", "ended c eof"]);
      expect(await player.playlistLength()).toBe(1);
    } finally {
      await player.close();
    }
  });

  it("sent right after queueing onto an idle mpv: the first item, made current by its loadfile, plays; the rest go", async () => {
    const player = newPlayer("fresh");
    const log = watch(player);
    const rounds = 15;
    const sent: Promise<void>[] = [];
    const round = (i: number) => sent.push(player.queue(video(`x${i}`, "short.mp4")), player.queue(video(`y${i}`, "short.mp4")), player.clearQueued());
    // Each round is sent as the last one's x ends and mpv goes idle. The clear then often runs
    // before x's start-file, which is read after the reply: only mpv's listing says x was kept.
    player.on("ended", (e) => {
      const i = Number(e.item.id.slice(1));
      if (e.item.id.startsWith("x") && i + 1 < rounds) round(i + 1);
    });
    await player.start();
    try {
      round(0);
      const xDone = () => log.seen.filter((s) => s.id.startsWith("x") && s.type !== "started");
      await until("every round done, or an x discarded", () => xDone().length === rounds || log.discarded.some((e) => e.item.id.startsWith("x")));
      await Promise.all(sent);
      const expected: Record<string, string[]> = {};
      for (let i = 0; i < rounds; i++) Object.assign(expected, { [`x${i}`]: PLAYED, [`y${i}`]: CLEARED });
      expect(fates(log.seen)).toEqual(expected);
      expect(player.pending()).toEqual([]);
    } finally {
      await player.close();
    }
  });

  it("sent as a ends: b, already current in mpv, plays; c is discarded", async () => {
    const player = newPlayer("boundary");
    const log = watch(player);
    let clearing: Promise<void> | null = null;
    player.on("ended", (e) => {
      if (e.item.id === "a") clearing = player.clearQueued();
    });
    await player.start();
    try {
      await player.queue(video("a", "half.mp4"));
      await player.queue(video("b", "half.mp4"));
      await player.queue(video("c", "half.mp4"));
      await until("b ended", () => log.ended.some((e) => e.item.id === "b"));
      await clearing;
      expect(fates(log.seen)).toEqual({ a: PLAYED, b: PLAYED, c: CLEARED });
      expect(player.pending()).toEqual([]);
    } finally {
      await player.close();
    }
  });

  it("sent at moments around an item boundary: every item is either played or discarded, never both, and none plays unreported", { timeout: 120_000 }, async () => {
    const player = newPlayer("sweep");
    const log = watch(player);
    await player.start();
    try {
      for (let trial = 0; trial < 8; trial++) {
        const [a, b, c, d] = ["a", "b", "c", "d"].map((x) => `${x}${trial}`);
        await player.queue(video(a, "half.mp4"));
        await player.queue(video(b, "one.mp4"));
        await player.queue(video(c, "one.mp4"));
        await until(`${a} started`, () => log.started.some((e) => e.item.id === a));
        const firstFrame = log.started.find((e) => e.item.id === a)?.at.monoMs ?? NaN;
        // a is 500 ms long: from before its end to after it.
        const clearAt = firstFrame + 440 + trial * 20;
        await new Promise((r) => setTimeout(r, Math.max(0, clearAt - performance.now())));
        await player.clearQueued();
        await player.queue(video(d, "half.mp4"));
        await until(`${d} ended`, () => log.ended.some((e) => e.item.id === d));

        const f = fates(log.seen);
        expect(f[a]).toEqual(PLAYED);
        expect([PLAYED, CLEARED]).toContainEqual(f[b]);
        expect([PLAYED, CLEARED]).toContainEqual(f[c]);
        if (f[c][0] === "started") expect(f[b]).toEqual(PLAYED);
        expect(f[d]).toEqual(PLAYED);
        // An item mpv played while the player reported it discarded would sit between the last
        // reported end and d's start: b and c are 1 s long, d is queued a few ms after the clear.
        const lastEnd = Math.max(...log.ended.filter((e) => [a, b, c].includes(e.item.id)).map((e) => e.at.monoMs));
        const dStart = log.started.find((e) => e.item.id === d)?.at.monoMs ?? NaN;
        expect(dStart - lastEnd).toBeGreaterThan(0);
        expect(dStart - lastEnd).toBeLessThan(700);
      }
      expect(player.pending()).toEqual([]);
    } finally {
      await player.close();
    }
  });
});
