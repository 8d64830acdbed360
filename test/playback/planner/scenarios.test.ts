import { describe, expect, it } from "vitest";
import { deliveryReport } from "../../../agent/playback/delivery/delivery.js";
import { plan, type DeliveredCounts } from "../../../agent/playback/planner/index.js";
import type { PlayEntry } from "../../../agent/proofs/types.js";
import { campaign, countPlays, H, hardRuleProblems, ms, schedule } from "./fixtures.js";

const DAY = ms("2026-12-02T00:00:00Z");
const every = [1, 2, 3, 4, 5, 6, 7];

describe("planner scenarios", () => {
  it("rule 3: the k-th of N plays starts in its window", () => {
    const s = schedule([campaign("a", { playsPerHour: 6 })]);
    const p = plan({ schedule: s, from: DAY, to: DAY + H });
    const starts = p.items.filter((i) => i.campaign === "a").map((i) => (i.startMs - DAY) / 1000);
    expect(starts).toHaveLength(6);
    starts.forEach((t, k) => expect(t >= k * 600 && t < (k + 1) * 600).toBe(true));
  });

  it("rule 1: a buyout takes every slot while active", () => {
    const s = schedule([campaign("a"), campaign("buy", { exclusive: true, playsPerHour: undefined, dayparts: [{ days: every, from: "10:00", to: "11:00" }] })]);
    const p = plan({ schedule: s, from: DAY + 9 * H, to: DAY + 12 * H });
    expect(hardRuleProblems(p, s, DAY + 9 * H, DAY + 12 * H)).toEqual([]);
    const during = p.items.filter((i) => i.startMs >= DAY + 10 * H && i.startMs < DAY + 11 * H);
    expect(during.every((i) => i.campaign === "buy")).toBe(true);
    expect(during.length).toBe(240);
    expect(p.shortfalls.find((x) => x.campaign === "a")?.reason).toContain("buyout by buy");
  });

  it("a burst: short daypart, high frequency, next to the regular campaign", () => {
    const s = schedule([campaign("cola"), campaign("cola-burst", { customer: "cola-co", playsPerHour: 30, dayparts: [{ days: every, from: "12:00", to: "12:30" }] })]);
    const p = plan({ schedule: s, from: DAY + 12 * H, to: DAY + 13 * H });
    expect(countPlays(p, "cola-burst", DAY + 12 * H, DAY + 12.5 * H)).toBe(15); // a half-active hour: round(30 × 0.5)
    expect(countPlays(p, "cola-burst", DAY + 12.5 * H, DAY + 13 * H)).toBe(0);
  });

  it("rule 4: competitors and excluded categories are never back to back", () => {
    const s = schedule([
      campaign("cola", { category: "beverage", playsPerHour: 60 }),
      campaign("pepsi", { category: "beverage", playsPerHour: 60 }),
      campaign("beer", { category: "alcohol", playsPerHour: 30 }),
      campaign("kids", { category: "toys", separateFrom: ["alcohol"], playsPerHour: 30 }),
    ]);
    const p = plan({ schedule: s, from: DAY, to: DAY + 2 * H });
    expect(hardRuleProblems(p, s, DAY, DAY + 2 * H)).toEqual([]);
  });

  it("wrap-around dayparts and a DST night (Europe/Berlin, 2026-10-25 has 25 hours)", () => {
    const s = schedule([campaign("night", { playsPerHour: 2, dayparts: [{ days: [6], from: "22:00", to: "04:00" }] })], { timezone: "Europe/Berlin" });
    const from = ms("2026-10-24T22:00:00+02:00");
    const to = ms("2026-10-25T04:00:00+01:00");
    expect(to - from).toBe(7 * H); // 02:00–03:00 happens twice
    const p = plan({ schedule: { ...s, campaigns: [{ ...s.campaigns[0], start: "2026-10-01T00:00:00Z" }] }, from: from - H, to: to + H });
    expect(countPlays(p, "night", from, to)).toBe(14);
    expect(countPlays(p, "night", to, to + H)).toBe(0);
  });

  it("a flight ending mid-day and a partly active hour", () => {
    const s = schedule([campaign("a", { playsPerHour: 4, end: "2026-12-02T10:30:00Z" })]);
    const p = plan({ schedule: s, from: DAY + 9 * H, to: DAY + 12 * H });
    expect(countPlays(p, "a", DAY + 9 * H, DAY + 10 * H)).toBe(4);
    expect(countPlays(p, "a", DAY + 10 * H, DAY + 10.5 * H)).toBe(2);
    expect(countPlays(p, "a", DAY + 10.5 * H, DAY + 12 * H)).toBe(0);
  });

  it("rule 5: an oversold hour serves higher priority in full, equal priorities in proportion", () => {
    const big = (id: string, priority: number, n: number) => campaign(id, { priority, playsPerHour: n, creatives: [`${id}-15`] });
    const s = schedule([big("top", 9, 120), big("x", 1, 120), big("y", 1, 60)]);
    const p = plan({ schedule: s, from: DAY, to: DAY + H });
    expect(countPlays(p, "top", DAY, DAY + H)).toBe(120);
    const x = countPlays(p, "x", DAY, DAY + H);
    const y = countPlays(p, "y", DAY, DAY + H);
    expect(x + y).toBeGreaterThan(100);
    expect(Math.abs(x / y - 2)).toBeLessThan(0.2);
    expect(p.shortfalls.filter((f) => f.campaign !== "top").every((f) => f.reason.includes("oversold"))).toBe(true);
  });

  it("rule 6: make-goods after a suspension go into later spare time; takedowns owe nothing", () => {
    const s = schedule([campaign("a", { makeGood: true, playsPerHour: 4 }), campaign("b", { makeGood: true, playsPerHour: 4 })]);
    // Suspended 08:00–10:00 with nothing delivered; every other hour since 06:00 delivered in full.
    const byHour = new Map<number, number>();
    for (let h = 6; h < 12; h++) byHour.set(DAY + h * H, h === 8 || h === 9 ? 0 : 4);
    const delivered = new Map<string, DeliveredCounts>([["a", { byHour, makeGoods: 1 }], ["b", { byHour, makeGoods: 0 }]]);
    const from = DAY + 12 * H;
    const p = plan({ schedule: s, from, to: from + 3 * H, delivered, appliedAt: { a: DAY + 6 * H }, takedowns: [{ at: from, campaign: "b" }] });
    expect(p.makeGoods).toEqual([{ campaign: "a", owed: 7, planned: 7 }]);
    expect(countPlays(p, "a", from, from + H, true)).toBe(4); // capped at its own hourly rate
    expect(countPlays(p, "a", from, from + 3 * H)).toBe(12);
    expect(countPlays(p, "b", from, from + 3 * H)).toBe(0);
    expect(hardRuleProblems(p, s, from, from + 3 * H)).toEqual([]);
  });

  it("rule 8: a taken-down creative leaves the rotation from that moment", () => {
    const s = schedule([campaign("a", { creatives: ["a-1", "a-2"], playsPerHour: 10 })]);
    const p = plan({ schedule: s, from: DAY, to: DAY + 2 * H, takedowns: [{ at: DAY + H, creative: "a-2" }] });
    expect(p.items.some((i) => i.creative === "a-2" && i.startMs >= DAY + H)).toBe(false);
    expect(p.items.some((i) => i.creative === "a-2" && i.startMs < DAY + H)).toBe(true);
    expect(countPlays(p, "a", DAY + H, DAY + 2 * H)).toBe(10);
  });

  it("a blackout suspension blacks the screen; a replan mid-hour starts at `from`", () => {
    const s = schedule([campaign("a")], { suspensions: [{ from: "2026-12-02T01:00:00Z", to: "2026-12-02T01:30:00Z", reason: "storm", campaigns: null, blackout: true }] });
    const p = plan({ schedule: s, from: DAY + 0.75 * H, to: DAY + 2 * H });
    expect(p.items[0].startMs).toBe(DAY + 0.75 * H);
    expect(p.items.find((i) => i.blackout)?.startMs).toBe(DAY + H);
    expect(hardRuleProblems(p, s, DAY + 0.75 * H, DAY + 2 * H)).toEqual([]);
  });

  it("delivery report: only completed plays on a verified screen count", () => {
    const s = schedule([campaign("a", { makeGood: true, playsPerHour: 2 })]);
    const entry = (minute: number, status: PlayEntry["play"]["status"], verified: boolean): PlayEntry =>
      ({ kind: "play", play: { campaign: "a", customer: "a-co", creative: "a-15", startedAt: new Date(DAY + minute * 60_000).toISOString(), status, makeGood: false, screenState: { verified, online: true, brightness: 80, blackout: false } } }) as PlayEntry;
    const plays = [entry(1, "completed", true), entry(31, "completed", false), entry(61, "dark", true), entry(62, "completed", true)];
    const rows = deliveryReport({ schedule: s, plays, from: DAY, to: DAY + 2 * H, controllerConfigured: true });
    expect(rows).toEqual([{ campaign: "a", customer: "a-co", day: "2026-12-02", contracted: 4, delivered: 2, makeGoods: 0, shortfall: 2, owed: 2 }]);
    const noController = deliveryReport({ schedule: s, plays, from: DAY, to: DAY + 2 * H, controllerConfigured: false });
    expect(noController[0].delivered).toBe(3);
  });
});
