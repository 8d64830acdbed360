// Rule 6 and rule 3 together: a campaign applied by this agent in the middle of a clock hour owes
// nothing for the windows that ended before it was applied, so there is no burst of catch-up plays.
import { describe, expect, it } from "vitest";
import { plan, type PlanSchedule } from "../../../agent/playback/planner/index.js";

const HOUR = Date.parse("2026-12-01T10:00:00Z");
const schedule: PlanSchedule = {
  version: 1,
  timezone: "UTC",
  creatives: [{ id: "ad", durationMs: 10_000, approved: true }, { id: "house", durationMs: 10_000, approved: true }],
  campaigns: [{ id: "c", customer: "x", creatives: ["ad"], start: "2026-12-01T00:00:00Z", end: "2026-12-02T00:00:00Z", playsPerHour: 12 }],
  fill: ["house"],
};

function paidIn(from: number, appliedAt: number): number[] {
  const result = plan({ schedule, from, to: HOUR + 3_600_000, delivered: new Map(), appliedAt: { c: appliedAt } });
  return result.items.filter((i) => i.campaign === "c").map((i) => i.startMs);
}

describe("a campaign applied mid-hour", () => {
  it("owes only the windows from its applied time on, each in its own window", () => {
    const applied = HOUR + 20 * 60_000; // windows are 5 min long: 4 ended before it was applied
    const starts = paidIn(applied, applied);
    expect(starts).toHaveLength(8);
    starts.forEach((s, i) => expect(Math.floor((s - HOUR) / 300_000)).toBe(i + 4));
  });

  it("still catches up windows missed after it was applied", () => {
    const applied = HOUR + 10 * 60_000; // 2 windows not owed; windows 2..3 missed since
    const starts = paidIn(HOUR + 20 * 60_000, applied);
    expect(starts).toHaveLength(10);
  });

  it("applied before the hour began: the whole hour is owed, as before", () => {
    expect(paidIn(HOUR + 20 * 60_000, HOUR - 60_000)).toHaveLength(12);
  });

  it("a lifted takedown owes nothing for the windows that ended while it held (rule 8), and owes the others", () => {
    const result = plan({
      schedule,
      from: HOUR + 30 * 60_000,
      to: HOUR + 3_600_000,
      delivered: new Map(),
      appliedAt: { c: HOUR - 3_600_000 },
      takedowns: [{ at: HOUR + 10 * 60_000, to: HOUR + 30 * 60_000, campaign: "c" }],
    });
    // Windows ending at 15, 20, 25 and 30 min ended inside the takedown; 5 and 10 did not and are caught up.
    expect(result.items.filter((i) => i.campaign === "c")).toHaveLength(8);
    const standing = plan({ schedule, from: HOUR + 30 * 60_000, to: HOUR + 3_600_000, delivered: new Map(), appliedAt: { c: HOUR - 3_600_000 }, takedowns: [{ at: HOUR + 10 * 60_000, campaign: "c" }] });
    expect(standing.items.filter((i) => i.campaign === "c")).toHaveLength(0);
  });
});
