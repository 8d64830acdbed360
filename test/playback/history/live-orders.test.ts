// The live orders replayed from the ledger: every rule of liveOrders, and the event details the
// builders write read back by the parsers.
import { describe, expect, it } from "vitest";
import {
  describeOrigin,
  liveOrders,
  parseResumed,
  parseSuspended,
  parseTakedown,
  resumedEvent,
  suspendedEvent,
  takedownEvent,
  type RecordedSuspension,
} from "../../../agent/playback/history/index.js";
import type { EventRecord } from "../../../agent/proofs/types.js";
import { eventAt, H, iso, MIN, T0 } from "./events.js";

const suspend = (over: Partial<Parameters<typeof suspendedEvent>[0]> = {}): EventRecord =>
  suspendedEvent({ reason: "storm", until: null, campaigns: null, blackout: false, by: "local:tech", scheduleVersion: 3, ...over });
const takedown = (target: { campaign: string } | { creative: string }, over: { lift?: boolean; scheduleVersion?: number | null } = {}): EventRecord =>
  takedownEvent({ target, immediate: true, lift: over.lift ?? false, scheduleVersion: over.scheduleVersion === undefined ? 3 : over.scheduleVersion, by: "mqtt:c-1" });
const resume = (suspendedSeq: number, since = T0): EventRecord =>
  resumedEvent({ seq: suspendedSeq, since } as RecordedSuspension, { endedAt: since + H, auto: false, by: "local:tech" });

const orders = (events: Array<[number, EventRecord]>, opts: { now?: number; scheduleVersion?: number | null } = {}) =>
  liveOrders(
    events.map(([at, event], i) => eventAt(i + 1, at, event)),
    { now: opts.now ?? T0 + 10 * H, scheduleVersion: opts.scheduleVersion === undefined ? 3 : opts.scheduleVersion },
  );

describe("event details: builders and parsers", () => {
  it("each builder's detail parses back to itself", () => {
    const s = suspendedEvent({ reason: "police order", until: T0 + H, campaigns: ["cola-dec"], blackout: true, by: "mqtt:abc", scheduleVersion: null });
    expect(s).toEqual({ type: "suspended", reason: "police order", until: iso(T0 + H), campaigns: ["cola-dec"], blackout: true, by: "mqtt:abc", scheduleVersion: null });
    expect(parseSuspended(eventAt(1, T0, s))).toEqual({ ok: true, detail: s });
    const since: RecordedSuspension = { seq: 1, since: T0, reason: "x", until: T0 + H, campaigns: null, blackout: false, by: "agent" };
    const r = resumedEvent(since, { endedAt: T0 + H, auto: true, by: "agent" });
    expect(r).toEqual({ type: "resumed", suspendedSeq: 1, suspendedAt: iso(T0), suspendedForMs: H, auto: true, by: "agent" });
    expect(parseResumed(eventAt(2, T0 + 2 * H, r))).toEqual({ ok: true, detail: r });
    const t = takedownEvent({ target: { creative: "cola-15" }, immediate: false, lift: false, scheduleVersion: 7, by: "schedule" });
    expect(t).toEqual({ type: "takedown", creative: "cola-15", immediate: false, lift: false, scheduleVersion: 7, by: "schedule" });
    expect(parseTakedown(eventAt(3, T0, t))).toEqual({ ok: true, detail: t });
  });

  it("a builder refuses what its parser would not read (a caller's bug, not a ledger entry)", () => {
    expect(() => suspendedEvent({ reason: "x", until: null, campaigns: [""], blackout: false, by: "agent", scheduleVersion: 1 })).toThrow(/campaigns/);
    expect(() => takedownEvent({ target: { campaign: "a" }, immediate: true, lift: false, scheduleVersion: 1, by: "" })).toThrow(/by/);
  });

  it("describeOrigin says who: local:<user> or mqtt:<command id>", () => {
    expect(describeOrigin({ kind: "local", user: "wang" })).toBe("local:wang");
    expect(describeOrigin({ kind: "mqtt", commandId: "7f3a" })).toBe("mqtt:7f3a");
  });
});

describe("liveOrders: suspensions", () => {
  it("a suspension is live from its entry's at; a later one supersedes it", () => {
    const one = orders([[T0, suspend()]]);
    expect(one.suspension).toEqual({ seq: 1, since: T0, reason: "storm", until: null, campaigns: null, blackout: false, by: "local:tech" });
    const two = orders([
      [T0, suspend()],
      [T0 + H, suspend({ reason: "police", campaigns: ["cola-dec"], until: T0 + 20 * H })],
    ]);
    expect(two.suspension).toMatchObject({ seq: 2, since: T0 + H, reason: "police", campaigns: ["cola-dec"], until: T0 + 20 * H });
    expect(two.expired).toBeNull();
  });

  it("a resume ends the live suspension only when it names its seq", () => {
    expect(orders([[T0, suspend()], [T0 + H, resume(1)]]).suspension).toBeNull();
    // Resuming the superseded one leaves the later one in force.
    const stale = orders([[T0, suspend()], [T0 + H, suspend({ reason: "later" })], [T0 + 2 * H, resume(1)]]);
    expect(stale.suspension).toMatchObject({ seq: 2, reason: "later" });
    // A suspension after the resume is live again.
    expect(orders([[T0, suspend()], [T0 + H, resume(1)], [T0 + 2 * H, suspend({ reason: "again" })]]).suspension).toMatchObject({ seq: 3 });
  });

  it("a suspension whose until has passed (until ≤ now) is returned as expired, not live", () => {
    const until = T0 + 2 * H;
    const at = (now: number) => orders([[T0, suspend({ until })]], { now });
    expect(at(until - 1)).toMatchObject({ suspension: { seq: 1, until }, expired: null });
    expect(at(until)).toMatchObject({ suspension: null, expired: { seq: 1, until } });
    expect(at(until + H)).toMatchObject({ suspension: null, expired: { seq: 1 } });
    // Its auto resume recorded: nothing left to do.
    expect(orders([[T0, suspend({ until })], [until + MIN, resume(1)]], { now: until + H })).toMatchObject({ suspension: null, expired: null });
  });
});

describe("liveOrders: takedowns", () => {
  it("a takedown stands until a later lift of the same target; a lift of another target changes nothing", () => {
    const down = orders([[T0, takedown({ campaign: "cola-dec" })], [T0 + H, takedown({ creative: "cola-dec" }, { lift: true })]]);
    expect(down.takedowns).toEqual([{ seq: 1, at: T0, campaign: "cola-dec", immediate: true, by: "mqtt:c-1" }]);
    const lifted = orders([[T0, takedown({ campaign: "cola-dec" })], [T0 + H, takedown({ campaign: "cola-dec" }, { lift: true })]]);
    expect(lifted.takedowns).toEqual([]);
    const again = orders([[T0, takedown({ creative: "x-15" })], [T0 + H, takedown({ creative: "x-15" }, { lift: true })], [T0 + 2 * H, takedown({ creative: "x-15" })]]);
    expect(again.takedowns).toEqual([expect.objectContaining({ seq: 3, at: T0 + 2 * H, creative: "x-15" })]);
  });

  it("the same target taken down twice stands once, from the first", () => {
    const twice = orders([[T0, takedown({ campaign: "a" })], [T0 + H, takedown({ campaign: "a" })], [T0 + 2 * H, takedown({ campaign: "b" })]]);
    expect(twice.takedowns.map((t) => [t.seq, t.campaign])).toEqual([[1, "a"], [3, "b"]]);
  });

  it("a takedown stands only under the schedule version it was given under; null matches null only", () => {
    const events: Array<[number, EventRecord]> = [
      [T0, takedown({ campaign: "old" }, { scheduleVersion: 3 })],
      [T0 + H, takedown({ campaign: "none" }, { scheduleVersion: null })],
      [T0 + 2 * H, takedown({ campaign: "new" }, { scheduleVersion: 4 })],
    ];
    expect(orders(events, { scheduleVersion: 3 }).takedowns.map((t) => t.campaign)).toEqual(["old"]);
    expect(orders(events, { scheduleVersion: 4 }).takedowns.map((t) => t.campaign)).toEqual(["new"]);
    expect(orders(events, { scheduleVersion: null }).takedowns.map((t) => t.campaign)).toEqual(["none"]);
    expect(orders(events, { scheduleVersion: 0 }).takedowns).toEqual([]);
  });
});

describe("liveOrders: what it cannot read", () => {
  it("a malformed detail is skipped with its seq and reason; the rest still counts", () => {
    const result = orders([
      [T0, suspend()],
      [T0 + H, { type: "suspended", reason: "bad", until: "tomorrow", campaigns: null, blackout: false, by: "x", scheduleVersion: 3 }],
      [T0 + 2 * H, { type: "resumed", suspendedSeq: "1", suspendedAt: iso(T0), suspendedForMs: 1, auto: false, by: "x" }],
      [T0 + 3 * H, { type: "takedown", campaign: "a", creative: "a-15", immediate: true, lift: false, scheduleVersion: 3, by: "x" }],
      [T0 + 4 * H, takedown({ campaign: "b" })],
      [T0 + 5 * H, { type: "technician.note", text: "not an order" }],
    ]);
    expect(result.suspension).toMatchObject({ seq: 1 }); // neither the bad suspension nor the bad resume took effect
    expect(result.takedowns.map((t) => t.campaign)).toEqual(["b"]);
    expect(result.skipped).toEqual([
      { seq: 2, type: "suspended", reason: expect.stringMatching(/^until: /) },
      { seq: 3, type: "resumed", reason: expect.stringMatching(/^suspendedSeq: /) },
      { seq: 4, type: "takedown", reason: "exactly one of campaign and creative" },
    ]);
  });
});
