// Rule 3 bends only where a hard rule forces it: plays whose window keeps legal time keep it,
// moved plays stay next to their own slot, and every bend and shortfall names its actual cause.
import { describe, expect, it } from "vitest";
import { plan, type DeliveredCounts, type Plan } from "../../../agent/playback/planner/index.js";
import { campaign, H, hardRuleProblems, ms, schedule } from "./fixtures.js";
import { buyout, every, MIN, ruleWindows, S, starts } from "./edge-helpers.js";

const D = ms("2027-03-10T00:00:00Z"); // a Wednesday
const flight = { start: "2027-03-01T00:00:00Z", end: "2027-04-01T00:00:00Z" };
const maintenance = { from: "2027-03-10T08:00:00Z", to: "2027-03-10T09:00:00Z", reason: "maintenance", campaigns: null };

/** Plays of `id` in time order against rule 3's windows over `active`: which windows they miss. */
function missed(p: Plan, id: string, active: [number, number][], n: number): number[] {
  const got = starts(p, id).filter((t) => t >= active[0][0] && t < active[active.length - 1][1]);
  expect(got, `${id}: plays`).toHaveLength(n);
  return ruleWindows(active, n).flatMap(([a, b], k) => (got[k] >= a && got[k] < b ? [] : [k]));
}

const minGap = (p: Plan, id: string): number => {
  const s = starts(p, id);
  return Math.min(...s.slice(1).map((t, i) => t - s[i]));
};

describe("rule 3 bends only where a hard rule forces it", () => {
  it("playsPerDay 24 with a suspension 08:00–09:00: only the 08:00 play moves, next to its slot, with the suspension as reason", () => {
    const s = schedule([campaign("d", { ...flight, playsPerHour: undefined, playsPerDay: 24 })], { suspensions: [maintenance] });
    const p = plan({ schedule: s, from: D, to: D + 24 * H });
    expect(hardRuleProblems(p, s, D, D + 24 * H)).toEqual([]);
    expect(missed(p, "d", [[D, D + 24 * H]], 24)).toEqual([8]);
    expect(p.bends).toHaveLength(1);
    expect(p.bends[0]).toMatchObject({ campaign: "d", windowFrom: "2027-03-10T08:00:00.000Z", windowTo: "2027-03-10T09:00:00.000Z", reason: "suspension: maintenance" });
    // Nearest legal time, not the start of the day; and never back to back with another play.
    const moved = Date.parse(p.bends[0].at);
    expect(moved === D + 9 * H || (moved >= D + 7 * H && moved < D + 8 * H)).toBe(true);
    expect(minGap(p, "d")).toBeGreaterThanOrEqual(15 * MIN);
    expect(p.shortfalls).toEqual([]);
  });

  it("a second playsPerDay campaign with dayparts and a buyout: each keeps every window that has legal time", () => {
    const s = schedule(
      [
        campaign("d", { ...flight, playsPerHour: undefined, playsPerDay: 24 }),
        campaign("e", { ...flight, playsPerHour: undefined, playsPerDay: 30, dayparts: [{ days: every, from: "06:00", to: "21:00" }] }),
        buyout("x", { ...flight, dayparts: [{ days: every, from: "14:00", to: "15:00" }] }),
      ],
      { suspensions: [maintenance] },
    );
    const p = plan({ schedule: s, from: D, to: D + 24 * H });
    expect(hardRuleProblems(p, s, D, D + 24 * H)).toEqual([]);
    expect(missed(p, "d", [[D, D + 24 * H]], 24)).toEqual([8, 14]);
    // e: 30 windows of 30 min from 06:00; 08:00–09:00 and 14:00–15:00 are windows 4, 5, 16, 17.
    expect(missed(p, "e", [[D + 6 * H, D + 21 * H]], 30)).toEqual([4, 5, 16, 17]);
    expect(p.bends.filter((b) => b.campaign === "e")).toHaveLength(4);
    for (const b of p.bends) {
      const window = Date.parse(b.windowFrom);
      expect(b.reason).toBe(window >= D + 14 * H ? "buyout by x" : "suspension: maintenance");
      expect(Math.abs(Date.parse(b.at) - window)).toBeLessThanOrEqual(2 * H);
    }
    expect(minGap(p, "d")).toBeGreaterThanOrEqual(15 * MIN);
    expect(minGap(p, "e")).toBeGreaterThanOrEqual(5 * MIN);
  });

  it("playsPerHour 4 with the first half hour suspended: two plays move, spread over the legal half, the others keep their windows", () => {
    const s = schedule([campaign("a", { ...flight, playsPerHour: 4 })], {
      suspensions: [{ ...maintenance, from: "2027-03-10T10:00:00Z", to: "2027-03-10T10:30:00Z" }],
    });
    const h = D + 10 * H;
    const p = plan({ schedule: s, from: h, to: h + H });
    expect(missed(p, "a", [[h, h + H]], 4)).toEqual([0, 1]);
    expect(p.bends.map((b) => b.reason)).toEqual(["suspension: maintenance", "suspension: maintenance"]);
    expect(minGap(p, "a")).toBeGreaterThanOrEqual(4 * MIN);
  });

  it("with history, catch-ups are reported as catch-ups (not as an earlier suspension) and later plays keep their windows", () => {
    const s = schedule([campaign("d", { ...flight, playsPerHour: undefined, playsPerDay: 24 })], { suspensions: [maintenance] });
    // One play a day-hour delivered, except 03:00 (missed) and 08:00–10:00 (suspended, then missed).
    const byHour = new Map(Array.from({ length: 10 }, (_, h) => [D + h * H, h === 3 || h >= 8 ? 0 : 1] as [number, number]));
    const delivered = new Map<string, DeliveredCounts>([["d", { byHour, makeGoods: 0 }]]);
    const from = D + 10 * H;
    const p = plan({ schedule: s, from, to: D + 24 * H, delivered, appliedAt: { d: D - 48 * H } });
    expect(hardRuleProblems(p, s, from, D + 24 * H)).toEqual([]);
    expect(starts(p, "d")).toHaveLength(24 - 7);
    expect(p.bends).toHaveLength(3);
    for (const b of p.bends) {
      expect(b.reason).toContain("catch-up");
      expect(Date.parse(b.at)).toBeLessThan(from + H); // caught up at once, inside the next window
    }
    // From 11:00 on, the k-th play of the day is in [k h, (k+1) h).
    for (const t of starts(p, "d").filter((x) => x >= from + H)) expect(t % H).toBe(0);
    expect(minGap(p, "d")).toBeGreaterThanOrEqual(10 * MIN);
  });

  it("a shortfall names what covers the rest of its period, not an earlier block in it", () => {
    const s = schedule(
      [campaign("a", { ...flight, playsPerHour: 4 }), buyout("x", { ...flight, dayparts: [{ days: every, from: "10:30", to: "11:00" }] })],
      { suspensions: [{ ...maintenance, from: "2027-03-10T10:00:00Z", to: "2027-03-10T10:10:00Z", campaigns: ["a"] }] },
    );
    const from = D + 10 * H + 31 * MIN;
    const p = plan({ schedule: s, from, to: D + 11 * H });
    expect(p.shortfalls).toHaveLength(1);
    expect(p.shortfalls[0]).toMatchObject({ campaign: "a", missing: 2, reason: "buyout by x" });
  });

  it("a suspension to the end of the day moves the last plays before it, next to their slots", () => {
    const s = schedule([campaign("d", { ...flight, playsPerHour: undefined, playsPerDay: 24 })], {
      suspensions: [{ ...maintenance, from: "2027-03-10T22:00:00Z", to: "2027-03-11T00:00:00Z" }],
    });
    const p = plan({ schedule: s, from: D, to: D + 24 * H });
    expect(missed(p, "d", [[D, D + 24 * H]], 24)).toEqual([22, 23]);
    expect(p.bends.every((b) => Date.parse(b.at) >= D + 21 * H && Date.parse(b.at) < D + 22 * H)).toBe(true);
    expect(minGap(p, "d")).toBeGreaterThanOrEqual(15 * MIN);
    expect(p.items.filter((i) => i.campaign === "d").every((i) => i.startMs + i.durationMs <= D + 22 * H || i.startMs < D + 22 * H - 15 * S)).toBe(true);
  });
});
