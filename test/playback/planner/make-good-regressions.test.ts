// Counterexamples the nightly property run found, kept as plain tests so they run every time.
import { DateTime } from "luxon";
import { describe, expect, it } from "vitest";
import { plan, type DeliveredCounts, type PlanSchedule } from "../../../agent/playback/planner/index.js";

const H = 3_600_000;

describe("make-goods only use spare time (recorded counterexamples)", () => {
  it("a make-good does not push a regular play into a buyout it would have ended before (seed 930821510)", () => {
    // Europe/Berlin, 8 plays an hour until a buyout at 02:20Z: with 24 hours owed, make-goods laid
    // early in the 02:00Z hour pushed the hour's last play to start inside its window but run into
    // the buyout, so it was lost ("buyout by buy") where the plan without history kept it.
    const s = {
      version: 1,
      timezone: "Europe/Berlin",
      campaigns: [
        {
          id: "c0", customer: "cust0", category: "auto", separateFrom: [], creatives: ["c0-30"],
          start: "2026-12-01T22:00:00.000Z", end: "2026-12-02T03:00:00.000Z",
          dayparts: [{ days: [2, 7], from: "00:00", to: "00:00" }, { days: [3, 4], from: "03:15", to: "00:00" }],
          priority: 0, playsPerHour: 8, makeGood: true,
        },
        { id: "buy", customer: "buy-co", category: "auto", creatives: ["buy-15"], start: "2026-12-02T02:20:00.000Z", end: "2026-12-02T03:05:00.000Z", priority: 5, exclusive: true },
      ],
      creatives: [
        { id: "c0-30", durationMs: 30000, approved: true },
        { id: "buy-15", durationMs: 15000, approved: true },
        { id: "house", durationMs: 20000, approved: true },
      ],
      fill: ["house"],
      suspensions: [{ from: "2026-12-02T03:06:53.000Z", to: "2026-12-02T03:16:53.000Z", reason: "storm", campaigns: null, blackout: false }],
    } as unknown as PlanSchedule;
    const from = DateTime.fromISO("2026-12-02T00:00:00Z").setZone("Europe/Berlin").startOf("hour").toMillis();
    const to = from + 4 * H;
    const base = plan({ schedule: s, from, to });
    const byHour = new Map(Array.from({ length: 24 }, (_, i) => [from - (i + 1) * H, 0] as [number, number]));
    const delivered = new Map(s.campaigns.map((c) => [c.id, { byHour, makeGoods: 0 }] as [string, DeliveredCounts]));
    const appliedAt = Object.fromEntries(s.campaigns.map((c) => [c.id, from - 24 * H]));
    const withHistory = plan({ schedule: s, from, to, delivered, appliedAt });
    expect(base.shortfalls).toEqual([]);
    expect(withHistory.shortfalls).toEqual([]);
    const regular = (p: typeof base): number => p.items.filter((i) => i.campaign === "c0" && !i.makeGood).length;
    expect(regular(withHistory)).toBe(regular(base));
  });
});
