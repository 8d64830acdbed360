// How long each recorded takedown held, and the delivery report counting that time out of the
// contract: lifted takedowns and takedowns of a replaced schedule included.
import { describe, expect, it } from "vitest";
import { deliveryReport, type TakedownPeriod } from "../../../agent/playback/delivery/delivery.js";
import { takedownEvent, takedownPeriods } from "../../../agent/playback/history/index.js";
import type { EventRecord } from "../../../agent/proofs/types.js";
import { campaign, schedule } from "../planner/fixtures.js";
import { eventAt, H, T0 } from "./events.js";

const down = (target: { campaign: string } | { creative: string }, scheduleVersion: number | null = 3, lift = false): EventRecord =>
  takedownEvent({ target, immediate: true, lift, scheduleVersion, by: "local:tech" });
const applied = (version: unknown): EventRecord => ({ type: "schedule.applied", version, previousVersion: null, source: "file:x" });

const periods = (events: Array<[number, EventRecord]>) => takedownPeriods(events.map(([at, e], i) => eventAt(i + 1, at, e)));

describe("takedownPeriods", () => {
  it("a takedown holds until a later lift of the same target; one never lifted holds on (no `to`)", () => {
    const result = periods([
      [T0, down({ campaign: "a" })],
      [T0 + H, down({ creative: "b-15" })],
      [T0 + 2 * H, down({ campaign: "b-15" }, 3, true)], // another target: lifts nothing
      [T0 + 3 * H, down({ campaign: "a" }, 3, true)],
      [T0 + 4 * H, down({ campaign: "z" }, 3, true)], // nothing to lift
    ]);
    expect(result).toEqual({ periods: [{ at: T0, campaign: "a", to: T0 + 3 * H }, { at: T0 + H, creative: "b-15" }], skipped: [] });
  });

  it("a takedown of an older schedule holds until a schedule of another version is applied; the same version does not end it", () => {
    const result = periods([
      [T0, down({ campaign: "a" }, 3)],
      [T0 + H, down({ campaign: "b" }, 4)],
      [T0 + 2 * H, applied(4)],
      [T0 + 3 * H, applied(5)],
    ]);
    expect(result.periods).toEqual([
      { at: T0, campaign: "a", to: T0 + 2 * H },
      { at: T0 + H, campaign: "b", to: T0 + 3 * H },
    ]);
  });

  it("entries it cannot read are skipped with a reason, the rest still count", () => {
    const result = periods([
      [T0, { type: "takedown", immediate: true, lift: false, scheduleVersion: 3, by: "x" }],
      [T0 + H, applied("seven")],
      [T0 + 2 * H, down({ campaign: "a" })],
    ]);
    expect(result.periods).toEqual([{ at: T0 + 2 * H, campaign: "a" }]);
    expect(result.skipped).toEqual([
      { seq: 1, type: "takedown", reason: "exactly one of campaign and creative" },
      { seq: 2, type: "schedule.applied", reason: "version: not an integer" },
    ]);
  });
});

describe("deliveryReport with takedown periods", () => {
  // 4 an hour, all day; the report covers five whole hours.
  const s = schedule([campaign("a", { creatives: ["a-1", "a-2"] })]);
  const contracted = (takedowns: TakedownPeriod[]): number =>
    deliveryReport({ schedule: s, plays: [], from: T0, to: T0 + 5 * H, controllerConfigured: true, takedowns }).reduce((n, r) => n + r.contracted, 0);

  it("time a takedown held is not contracted: a standing one to the end, a lifted one only while it held", () => {
    expect(contracted([])).toBe(20);
    expect(contracted([{ at: T0 + H, campaign: "a" }])).toBe(4);
    expect(contracted([{ at: T0 + H, campaign: "a", to: T0 + 3 * H }])).toBe(12);
    expect(contracted([{ at: T0 + H, campaign: "a", to: T0 + 2 * H }, { at: T0 + 3 * H, campaign: "a", to: T0 + 4 * H }])).toBe(12);
  });

  it("a campaign is down only while every approved creative of it is down at once, as the planner reads it", () => {
    // a-1 down 1h–3h, a-2 down 2h–4h: both down 2h–3h only.
    expect(contracted([{ at: T0 + H, creative: "a-1", to: T0 + 3 * H }, { at: T0 + 2 * H, creative: "a-2", to: T0 + 4 * H }])).toBe(16);
    // One creative down alone takes nothing off the contract.
    expect(contracted([{ at: T0, creative: "a-1" }])).toBe(20);
    expect(contracted([{ at: T0 + 4 * H, creative: "a-1" }, { at: T0 + 2 * H, creative: "a-2" }])).toBe(16);
  });
});
