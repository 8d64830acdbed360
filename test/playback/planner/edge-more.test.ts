// Adversarial cases against spec/schedule-format.md, "The planner's rules" 1–8, and the choices
// in docs/schedule-format.md. Each test asserts exact rule properties computed here, independently
// of the planner (windows, quotas, who may be on screen when).
import { describe, expect, it } from "vitest";
import { MAX_PLAN_MS, plan, PlanError, type DeliveredCounts, type PlannerInput, type PlanSchedule } from "../../../agent/playback/planner/index.js";
import { campaign, creative, H, hardRuleProblems, schedule } from "./fixtures.js";
import { DAY, S, MIN, every, paid, starts, withDurations, expectSpread, buyout } from "./edge-helpers.js";

describe("rule 5, oversold", () => {
  it("equal priorities share in proportion to quota (240 : 120 in a 240-slot hour → 160 : 80)", () => {
    const s = schedule([campaign("x", { playsPerHour: 240 }), campaign("y", { playsPerHour: 120 })]);
    const p = plan({ schedule: s, from: DAY, to: DAY + H });
    expect(paid(p, "x")).toHaveLength(160);
    expect(paid(p, "y")).toHaveLength(80);
    expect(p.shortfalls.map((x) => [x.campaign, x.missing])).toEqual([
      ["x", 80],
      ["y", 40],
    ]);
  });

  it("a sub-hour burst oversold by two campaigns: the higher priority is served in full first", () => {
    const dp = [{ days: every, from: "10:00", to: "10:15" }];
    const s = schedule([campaign("lo", { playsPerHour: 240, priority: 1, dayparts: dp }), campaign("hi", { playsPerHour: 240, priority: 9, dayparts: dp })]);
    const from = DAY + 10 * H;
    const p = plan({ schedule: s, from, to: from + H });
    expect(hardRuleProblems(p, s, from, from + H)).toEqual([]);
    expect(paid(p, "hi")).toHaveLength(60);
    expect(p.shortfalls.filter((x) => x.campaign === "hi")).toEqual([]);
    const lo = p.shortfalls.find((x) => x.campaign === "lo");
    expect((lo?.missing ?? 0) + paid(p, "lo").length).toBe(60);
    expect(lo?.missing).toBeGreaterThan(0);
  });

  it("when separation eats the hour, the higher priority is still served in full and the lower one reported short", () => {
    const s = schedule([campaign("hi", { category: "beverage", playsPerHour: 120, priority: 9 }), campaign("lo", { category: "beverage", playsPerHour: 120, priority: 1 })]);
    const p = plan({ schedule: s, from: DAY, to: DAY + H });
    expect(hardRuleProblems(p, s, DAY, DAY + H)).toEqual([]);
    expect(paid(p, "hi")).toHaveLength(120);
    expect(p.shortfalls.filter((x) => x.campaign === "hi")).toEqual([]);
    const lo = p.shortfalls.find((x) => x.campaign === "lo");
    expect(lo?.missing).toBe(120 - paid(p, "lo").length);
    expect(lo?.missing).toBeGreaterThan(0);
  });
});

describe("rule 6, make-goods", () => {
  const dp = [{ days: every, from: "08:00", to: "12:00" }];
  const s = schedule([campaign("a", { playsPerHour: 4, makeGood: true, dayparts: dp, category: "beverage" }), campaign("b", { playsPerHour: 30, category: "beverage" })], {
    suspensions: [{ from: "2026-12-02T08:00:00Z", to: "2026-12-02T10:00:00Z", reason: "maintenance", campaigns: null }],
  });
  const delivered = (): Map<string, DeliveredCounts> => new Map([["a", { byHour: new Map([[DAY + 8 * H, 0], [DAY + 9 * H, 0]]), makeGoods: 0 }]]);

  it("owed plays after a suspension go into later hours inside the dayparts, at most N per hour, never next to a competitor", () => {
    const from = DAY + 10 * H;
    const p = plan({ schedule: s, from, to: from + 4 * H, delivered: delivered(), appliedAt: { a: DAY + 6 * H } });
    expect(hardRuleProblems(p, s, from, from + 4 * H)).toEqual([]);
    expect(p.makeGoods).toEqual([{ campaign: "a", owed: 8, planned: 8 }]);
    const mg = paid(p, "a", true);
    expect(mg.every((i) => i.startMs >= from && i.startMs < DAY + 12 * H)).toBe(true);
    expect(mg.filter((i) => i.startMs < DAY + 11 * H)).toHaveLength(4);
    for (const h of [10, 11]) expectSpread(p, "a", [[DAY + h * H, DAY + (h + 1) * H]], 4);
    expect(p.shortfalls).toEqual([]);
  });

  it("owed counts only from when the agent applied the campaign; a plan without history owes nothing", () => {
    const from = DAY + 10 * H;
    const late = plan({ schedule: s, from, to: from + H, delivered: delivered(), appliedAt: { a: DAY + 9 * H } });
    expect(late.makeGoods).toEqual([{ campaign: "a", owed: 4, planned: 4 }]);
    const none = plan({ schedule: s, from, to: from + H });
    expect(none.makeGoods).toEqual([]);
    expect(none.items.some((i) => i.makeGood)).toBe(false);
  });

  it("make-goods use spare time even when a competitor's windows line up with theirs (separator first)", () => {
    const t = schedule([
      campaign("a", { category: "beverage", playsPerHour: 60, makeGood: true }),
      campaign("b", { category: "beverage", playsPerHour: 60 }),
      campaign("c", { category: "auto", playsPerHour: 60 }),
    ]);
    const from = DAY + 10 * H;
    const byHour = new Map([[DAY + 8 * H, 0], [DAY + 9 * H, 0]]);
    const p = plan({ schedule: t, from, to: from + 2 * H, delivered: new Map([["a", { byHour, makeGoods: 0 }]]), appliedAt: { a: DAY + 8 * H } });
    expect(hardRuleProblems(p, t, from, from + 2 * H)).toEqual([]);
    // 15 minutes of fill an hour: owed plays must use it, and must not cost a regular play its window.
    expect(p.makeGoods[0].owed).toBe(120);
    expect(p.makeGoods[0].planned).toBeGreaterThanOrEqual(60);
    for (const h of [10, 11]) for (const id of ["a", "b", "c"]) expectSpread(p, id, [[DAY + h * H, DAY + (h + 1) * H]], 60);
    expect(p.shortfalls).toEqual([]);
  });

  it("playsPerDay make-goods: owed from a past day, at most ⌈M/24⌉ an hour", () => {
    const t = schedule([campaign("d", { playsPerHour: undefined, playsPerDay: 48, makeGood: true })]);
    const yesterday = new Map(Array.from({ length: 24 }, (_, h) => [DAY - 24 * H + h * H, h < 12 ? 2 : 0] as [number, number]));
    const p = plan({ schedule: t, from: DAY, to: DAY + 24 * H, delivered: new Map([["d", { byHour: yesterday, makeGoods: 0 }]]), appliedAt: { d: DAY - 24 * H } });
    expect(p.makeGoods).toEqual([{ campaign: "d", owed: 24, planned: 24 }]);
    for (let h = 0; h < 24; h++) expect(paid(p, "d", true).filter((i) => i.startMs >= DAY + h * H && i.startMs < DAY + (h + 1) * H).length).toBeLessThanOrEqual(2);
    expectSpread(p, "d", [[DAY, DAY + 24 * H]], 48);
  });

  it("make-goods never take a buyout's time", () => {
    const withBuyout: PlanSchedule = { ...s, campaigns: [...s.campaigns, buyout("buy", { dayparts: [{ days: every, from: "10:00", to: "11:00" }] })], creatives: [...s.creatives, creative("buy-15")] };
    const from = DAY + 10 * H;
    const p = plan({ schedule: withBuyout, from, to: from + 2 * H, delivered: delivered(), appliedAt: { a: DAY + 6 * H } });
    expect(hardRuleProblems(p, withBuyout, from, from + 2 * H)).toEqual([]);
    expect(paid(p, "a", true).every((i) => i.startMs >= DAY + 11 * H)).toBe(true);
    expect(p.makeGoods).toEqual([{ campaign: "a", owed: 8, planned: 4 }]);
  });

  it("a takedown is not owed: a campaign taken down mid-hour owes nothing for the time after it", () => {
    const t = schedule([campaign("a", { playsPerHour: 4, makeGood: true })]);
    const byHour = new Map([[DAY + 8 * H, 4], [DAY + 9 * H, 2]]); // 2 plays before the 09:30 takedown, none after
    const p = plan({ schedule: t, from: DAY + 12 * H, to: DAY + 13 * H, delivered: new Map([["a", { byHour, makeGoods: 0 }]]), appliedAt: { a: DAY + 8 * H }, takedowns: [{ at: DAY + 9.5 * H, campaign: "a" }] });
    expect(p.makeGoods).toEqual([]);
    expect(p.items.some((i) => i.campaign === "a")).toBe(false);
    expect(p.shortfalls).toEqual([]);
  });
});

describe("rules 7 and 8, fill and takedowns", () => {
  it("fill is cut short so each paid play starts exactly on its window start; paid items are never cut", () => {
    const s = withDurations(schedule([campaign("a", { playsPerHour: 4 })]), { house: 40_000 });
    const p = plan({ schedule: s, from: DAY, to: DAY + H });
    expect(starts(p, "a")).toEqual([0, 15, 30, 45].map((m) => DAY + m * MIN));
    expect(paid(p, "a").every((i) => i.durationMs === 15_000)).toBe(true);
    const fills = p.items.filter((i) => i.fill);
    expect(fills.every((i) => i.durationMs > 0 && i.durationMs <= 40_000)).toBe(true);
    expect(fills.filter((i) => i.durationMs < 40_000).length).toBeGreaterThanOrEqual(3);
    expect(hardRuleProblems(p, s, DAY, DAY + H)).toEqual([]);
  });

  it("a fill creative that is not approved never airs; with no approved fill the planner refuses", () => {
    const base = schedule([campaign("a")], { fill: ["draft", "house"] });
    const s: PlanSchedule = { ...base, creatives: [...base.creatives, creative("draft", 10_000, false)] };
    const p = plan({ schedule: s, from: DAY, to: DAY + H });
    expect(p.items.some((i) => i.creative === "draft")).toBe(false);
    expect(p.items.some((i) => i.creative === "house")).toBe(true);
    expect(() => plan({ schedule: { ...s, fill: ["draft"] }, from: DAY, to: DAY + H })).toThrow(PlanError);
  });

  it("a creative taken down mid-window: only the campaign's other creatives play from then, quota kept", () => {
    const s = schedule([campaign("a", { creatives: ["a-1", "a-2"], playsPerHour: 20 })]);
    const at = DAY + 7 * MIN + 30 * S;
    const p = plan({ schedule: s, from: DAY, to: DAY + H, takedowns: [{ at, creative: "a-2" }] });
    expect(p.items.filter((i) => i.creative === "a-2" && i.startMs + i.durationMs > at)).toEqual([]);
    expect(p.items.some((i) => i.creative === "a-2")).toBe(true);
    expectSpread(p, "a", [[DAY, DAY + H]], 20);
  });

  it("a campaign taken down mid-hour: its plays before the takedown end before it, none after, nothing reported short", () => {
    const s = schedule([campaign("a", { playsPerHour: 4 }), campaign("b", { playsPerHour: 4 })]);
    const at = DAY + 30 * MIN;
    const p = plan({ schedule: s, from: DAY, to: DAY + H, takedowns: [{ at, campaign: "a" }] });
    expectSpread(p, "a", [[DAY, at]], 2);
    expect(paid(p, "a").every((i) => i.startMs + i.durationMs <= at)).toBe(true);
    expect(p.shortfalls).toEqual([]);
  });

  it("every fill creative taken down: black, never a gap or an unapproved picture", () => {
    const s = schedule([campaign("a", { playsPerHour: 4 })]);
    const p = plan({ schedule: s, from: DAY, to: DAY + H, takedowns: [{ at: DAY + 10 * MIN, creative: "house" }] });
    expect(hardRuleProblems(p, s, DAY, DAY + H)).toEqual([]);
    expect(p.items.filter((i) => i.creative === "house" && i.startMs + i.durationMs > DAY + 10 * MIN)).toEqual([]);
    expect(p.items.some((i) => i.blackout && i.startMs >= DAY + 10 * MIN)).toBe(true);
    expectSpread(p, "a", [[DAY, DAY + H]], 4);
  });
});

describe("windows and determinism", () => {
  it("a replan mid-hour keeps the remaining plays in their contractual windows", () => {
    const s = schedule([campaign("a", { playsPerHour: 4 })]);
    for (const minute of [1, 16, 29, 44, 59]) {
      const from = DAY + minute * MIN + 7 * S;
      const p = plan({ schedule: s, from, to: DAY + H });
      const got = starts(p, "a");
      const first = 4 - got.length;
      expect(first).toBe(Math.floor((minute * MIN + 7 * S) / (15 * MIN)));
      got.forEach((t, i) => {
        const k = first + i;
        expect(t >= DAY + k * 15 * MIN && t < DAY + (k + 1) * 15 * MIN, `k=${k} at ${new Date(t).toISOString()}`).toBe(true);
      });
      expect(p.bends).toEqual([]);
    }
  });

  it("a replan mid-hour with history catches a missed play up as a reported bend; the others keep their windows", () => {
    const s = schedule([campaign("a", { playsPerHour: 4 })]);
    const from = DAY + 20 * MIN;
    const delivered = new Map([["a", { byHour: new Map([[DAY, 0]]), makeGoods: 0 }]]);
    const p = plan({ schedule: s, from, to: DAY + H, delivered, appliedAt: { a: DAY - H } });
    const got = starts(p, "a");
    expect(got).toHaveLength(4);
    expect(p.bends).toHaveLength(1);
    expect(p.bends[0]).toMatchObject({ campaign: "a", windowFrom: new Date(DAY).toISOString(), windowTo: new Date(DAY + 15 * MIN).toISOString() });
    expect(got[0]).toBe(Date.parse(p.bends[0].at));
    // k = 1..3 in [k·15, (k+1)·15) min: the catch-up does not push them out.
    got.slice(1).forEach((t, i) => expect(t >= DAY + (i + 1) * 15 * MIN && t < DAY + (i + 2) * 15 * MIN).toBe(true));
  });

  it("a 1-minute window is tiled exactly; the play whose window has not ended is played at once, in its window", () => {
    const s = schedule([campaign("a", { playsPerHour: 4 })]);
    const from = DAY + 14 * MIN + 30 * S;
    const p = plan({ schedule: s, from, to: from + MIN });
    expect(hardRuleProblems(p, s, from, from + MIN)).toEqual([]);
    // Without history the window [0, 15) min that has not ended yet is taken as not played.
    expect(p.items[0]).toMatchObject({ startMs: from, campaign: "a" });
    for (const t of starts(p, "a")) {
      const k = Math.floor((t - DAY) / (15 * MIN));
      expect(t >= DAY + k * 15 * MIN && t < DAY + (k + 1) * 15 * MIN).toBe(true);
    }
    expect(p.bends).toEqual([]);
  });

  it("window bounds: zero length, backwards and non-finite are refused; 31 days is the limit, inclusive", () => {
    const s = schedule([campaign("a", { playsPerHour: 1 })]);
    expect(() => plan({ schedule: s, from: DAY, to: DAY })).toThrow(PlanError);
    expect(() => plan({ schedule: s, from: DAY, to: DAY - 1 })).toThrow(PlanError);
    expect(() => plan({ schedule: s, from: DAY, to: Number.NaN })).toThrow(PlanError);
    expect(() => plan({ schedule: s, from: DAY, to: DAY + MAX_PLAN_MS + 1 })).toThrow(PlanError);
    expect(MAX_PLAN_MS).toBe(31 * 24 * H);
    const p = plan({ schedule: s, from: DAY, to: DAY + MAX_PLAN_MS });
    expect(hardRuleProblems(p, s, DAY, DAY + MAX_PLAN_MS)).toEqual([]);
    expect(paid(p, "a")).toHaveLength(30 * 24); // the flight ends 2027-01-01T00:00Z, 30 days in
  });

  it("the same plan whatever the key order of the objects, the Map order of the history or of appliedAt", () => {
    const reverseKeys = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(reverseKeys) : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverseKeys(x)])) : v;
    const s = schedule(
      [
        campaign("a", { category: "beverage", playsPerHour: 12, makeGood: true, dayparts: [{ days: every, from: "22:00", to: "06:00" }] }),
        campaign("b", { category: "beverage", separateFrom: ["alcohol"], playsPerHour: 20, priority: 2 }),
        campaign("c", { category: "alcohol", playsPerDay: 30, playsPerHour: undefined, makeGood: true }),
        buyout("x", { dayparts: [{ days: [3], from: "23:10", to: "23:35" }] }),
      ],
      { timezone: "Europe/Berlin", suspensions: [{ from: "2026-12-02T20:00:00Z", to: "2026-12-02T20:40:00Z", reason: "m", campaigns: ["b"] }] },
    );
    const from = DAY + 22 * H + 7 * MIN;
    const hours = (pairs: [number, number][]): Map<number, number> => new Map(pairs.map(([h, n]) => [DAY + h * H, n]));
    const input: PlannerInput = {
      schedule: s,
      from,
      to: from + 6 * H,
      delivered: new Map([
        ["a", { byHour: hours([[20, 12], [21, 3]]), makeGoods: 1 }],
        ["c", { byHour: hours([[19, 2], [20, 1]]), makeGoods: 0 }],
      ]),
      appliedAt: { a: DAY + 19 * H, c: DAY - 24 * H },
      takedowns: [{ at: DAY + 25 * H, creative: "b-15" }],
      previousCampaign: "b",
    };
    const reordered: PlannerInput = {
      previousCampaign: "b",
      takedowns: [{ creative: "b-15", at: DAY + 25 * H }],
      appliedAt: { c: DAY - 24 * H, a: DAY + 19 * H },
      delivered: new Map([
        ["c", { makeGoods: 0, byHour: new Map([...hours([[19, 2], [20, 1]])].reverse()) }],
        ["a", { makeGoods: 1, byHour: new Map([...hours([[20, 12], [21, 3]])].reverse()) }],
      ]),
      to: from + 6 * H,
      from,
      schedule: reverseKeys(s) as PlanSchedule,
    };
    const p = plan(input);
    expect(hardRuleProblems(p, s, from, from + 6 * H)).toEqual([]);
    expect(plan(reordered)).toEqual(p);
    expect(JSON.stringify(plan(structuredClone(input)))).toBe(JSON.stringify(p));
  });
});

// ---- properties -----------------------------------------------------------------------------
