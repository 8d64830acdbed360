// The playout's pure parts: what a play's status is, how a fill is cut, how far a plan reaches,
// what counts as already delivered when a plan is made mid-play, and clock steps.
import { describe, expect, it } from "vitest";
import { fillLength, handoverOf, MIN_FILL_MS, type AiredFile, type Airing, type AiringContext } from "../../../agent/playback/playout/airing.js";
import { ClockJumpWatch } from "../../../agent/playback/playout/clock-watch.js";
import { OverrunGauge } from "../../../agent/playback/playout/overrun.js";
import { combineScreenStates, playerStatus, playRecord } from "../../../agent/playback/playout/record.js";
import { planEnd, withProvisional } from "../../../agent/playback/playout/timeline.js";
import { creativesToPrepare } from "../../../agent/playback/playout/renditions.js";
import type { PlanItem } from "../../../agent/playback/planner/types.js";

const file = (id: string, playMs: number, kind: "video" | "image" = "video"): AiredFile => ({ id, sourceSha256: "a".repeat(64), playMs, rendition: { kind, path: `/r/${id}`, sha256: "b".repeat(64) } });

function planItem(over: Partial<PlanItem>): PlanItem {
  return { at: new Date(over.startMs ?? 0).toISOString(), startMs: 0, durationMs: 2000, campaign: "c", customer: "x", creative: "ad", category: null, makeGood: false, fill: false, blackout: false, ...over };
}

function ctx(over: Partial<AiringContext> = {}): AiringContext {
  let n = 0;
  return { nextId: () => `a${++n}`, scheduleVersion: 3, expectedStartMs: 10_000, nextStartMs: 13_000, rendition: (id) => (id === "ad" || id === "house" ? file(id, id === "house" ? 5000 : 2000) : null), standIn: () => file("house", 5000), cutOverrunMs: 0, ...over };
}

function airing(over: Partial<Airing> = {}): Airing {
  const prepared = file("ad", 2000);
  return { id: "a1", kind: "paid", campaign: "c", customer: "x", creative: "ad", makeGood: false, category: null, scheduleVersion: 1, plannedMs: 0, prepared, item: { id: "a1", file: "/r/ad", kind: "video" }, expectedStartMs: 0, expectedLengthMs: 2000, startedAt: null, screenAtStart: null, ...over };
}

describe("play status", () => {
  const at = { wallMs: 5000, monoMs: 5000 };
  it("eof within ±500 ms of the length is completed; beyond it, failed; stop and quit are interrupted; error or no first frame is failed", () => {
    expect(playerStatus({ reason: "eof", startedAt: at }, 2400, 2000)).toBe("completed");
    expect(playerStatus({ reason: "eof", startedAt: at }, 1400, 2000)).toBe("failed");
    expect(playerStatus({ reason: "stop", startedAt: at }, 300, 2000)).toBe("interrupted");
    expect(playerStatus({ reason: "quit", startedAt: at }, 300, 2000)).toBe("interrupted");
    expect(playerStatus({ reason: "error", startedAt: at }, 2000, 2000)).toBe("failed");
    expect(playerStatus({ reason: "eof", startedAt: null }, 0, 2000)).toBe("failed");
  });

  it("a screen dark at either sample makes the play dark, and unverified if either read was", () => {
    const lit = { verified: true, online: true, brightness: 80, blackout: false };
    const off = { verified: true, online: false, brightness: null, blackout: null };
    expect(combineScreenStates(lit, off)).toEqual({ verified: true, online: false, brightness: null, blackout: false });
    const ended = { item: airing().item, reason: "eof" as const, at: { wallMs: 2000, monoMs: 2000 }, startedAt: { wallMs: 0, monoMs: 0 } };
    expect(playRecord({ airing: airing(), ended, screenAtStart: lit, screenAtEnd: lit }).status).toBe("completed");
    expect(playRecord({ airing: airing(), ended, screenAtStart: lit, screenAtEnd: { ...lit, brightness: 0 } }).status).toBe("dark");
    expect(playRecord({ airing: airing(), ended, screenAtStart: { ...lit, blackout: true }, screenAtEnd: lit }).status).toBe("dark");
    // No controller configured: unverified by design, never dark.
    const none = playRecord({ airing: airing(), ended, screenAtStart: null, screenAtEnd: null });
    expect(none).toMatchObject({ status: "completed", screenState: { verified: false, online: false, brightness: null, blackout: null } });
    // A failed play stays failed on a dark screen.
    expect(playRecord({ airing: airing(), ended: { ...ended, reason: "error" }, screenAtStart: off, screenAtEnd: off }).status).toBe("failed");
  });
});

describe("fill cuts", () => {
  it("ends a fill at the next planned start, never longer than its file, less the measured overrun", () => {
    expect(fillLength(10_000, 13_000, 5000)).toBe(3000);
    expect(fillLength(10_000, 20_000, 5000)).toBe(5000);
    expect(fillLength(10_000, 13_000, 5000, 80)).toBe(2920);
    expect(fillLength(10_000, 10_000 + MIN_FILL_MS - 1, 5000)).toBeNull();
    // A fill followed by a sliver of fill before the next paid item takes the sliver too, so the
    // paid item is not started early; with room for a whole next fill it leaves it.
    expect(fillLength(10_000, 13_000, 5000, 0, 13_300)).toBe(3300);
    expect(fillLength(10_000, 13_000, 5000, 0, 14_000)).toBe(3000);
  });

  it("a paid item whose creative is not ready is replaced by fill, recorded as fill; nothing ready holds the screen", () => {
    const paid = handoverOf(planItem({ creative: "late", campaign: "k" }), ctx());
    expect(paid).toMatchObject({ standIn: true, airing: { kind: "fill", campaign: "fill", customer: "fill", creative: "house", expectedLengthMs: 3000 } });
    expect(handoverOf(planItem({ creative: "late" }), ctx({ standIn: () => null }))).toEqual({ hold: "creative late is not ready and no fill is" });
    expect(handoverOf(planItem({ blackout: true, creative: null }), ctx())).toEqual({ hold: "blackout suspension" });
    // A planned fill still being fitted gives way to a fill that is ready, rather than black.
    expect(handoverOf(planItem({ fill: true, campaign: null, customer: null, creative: "late-fill" }), ctx())).toMatchObject({ standIn: false, airing: { kind: "fill", creative: "house" } });
    const ok = handoverOf(planItem({ makeGood: true }), ctx());
    expect(ok).toMatchObject({ standIn: false, airing: { kind: "paid", campaign: "c", makeGood: true, expectedLengthMs: 2000, scheduleVersion: 3 } });
  });
});

describe("plans", () => {
  it("reach the horizon or the next local midnight, whichever is first, and never less than a minute", () => {
    const from = Date.parse("2026-12-01T15:00:00Z"); // 23:00 in Shanghai
    expect(planEnd(from, 7_200_000, "Asia/Shanghai")).toBe(Date.parse("2026-12-01T16:00:00Z"));
    expect(planEnd(from, 7_200_000, "UTC")).toBe(from + 7_200_000);
    const late = Date.parse("2026-12-01T15:59:50Z");
    expect(planEnd(late, 7_200_000, "Asia/Shanghai") - late).toBeGreaterThanOrEqual(60_000);
  });

  it("count paid airings handed to the player but not yet recorded as delivered, in their hour", () => {
    const hour = Date.parse("2026-12-01T10:00:00Z");
    const delivered = new Map([["c", { byHour: new Map([[hour, 2]]), makeGoods: 1 }]]);
    const out = withProvisional(delivered, [airing({ expectedStartMs: hour + 60_000 }), airing({ makeGood: true }), airing({ kind: "fill", campaign: "fill" })], "UTC");
    expect(out.get("c")).toEqual({ byHour: new Map([[hour, 3]]), makeGoods: 2 });
    expect(out.has("fill")).toBe(false);
    expect(delivered.get("c")?.byHour.get(hour)).toBe(2); // the tally itself is untouched
  });
});

describe("timing", () => {
  it("learns how much longer than planned items take from consecutive starts", () => {
    const gauge = new OverrunGauge();
    for (let i = 0; i < 30; i++) {
      const a = airing({ startedAt: { wallMs: 0, monoMs: i * 10_000 }, item: { id: "x", file: "f", kind: "video", lengthMs: 2000 } });
      const b = airing({ startedAt: { wallMs: 0, monoMs: i * 10_000 + 2000 + 120 } });
      gauge.observe(a, b);
    }
    expect(gauge.cutMs).toBeGreaterThan(110);
    expect(gauge.cutMs).toBeLessThan(121);
    const before = gauge.cutMs;
    gauge.observe(airing({ startedAt: { wallMs: 0, monoMs: 0 }, item: { id: "x", file: "f", kind: "video", lengthMs: 2000 } }), airing({ startedAt: { wallMs: 0, monoMs: 60_000 } }));
    expect(gauge.cutMs).toBe(before); // a stall is not a transition
  });

  it("sees a wall-clock step beyond 2 s, not drift or slewing", () => {
    let wall = 1_000_000;
    let mono = 50;
    const watch = new ClockJumpWatch({ wallMs: () => wall, monoMs: () => mono });
    expect(watch.check()).toBeNull();
    wall += 1000 + 1500;
    mono += 1000;
    expect(watch.check()).toBeNull();
    wall += 1000 - 3_600_000;
    mono += 1000;
    expect(watch.check()).toMatchObject({ stepMs: -3_600_000 });
  });
});

describe("what a schedule prepares", () => {
  it("every approved creative, fill first, then the campaigns', then those only play.now can air; never an unapproved one", () => {
    const creative = (id: string, approved: boolean) => ({ id, url: `https://cdn.example/${id}.mp4`, sha256: "a".repeat(64), durationMs: 5000, approved });
    const doc = {
      creatives: [creative("promo", true), creative("ad", true), creative("house", true), creative("pending", false)],
      campaigns: [{ creatives: ["ad", "pending"] }],
      fill: ["house"],
    } as unknown as Parameters<typeof creativesToPrepare>[0];
    expect(creativesToPrepare(doc).map((c) => c.id)).toEqual(["house", "ad", "promo"]);
  });
});
