// Adversarial cases against spec/schedule-format.md, "The planner's rules" 1–8, and the choices
// in docs/schedule-format.md. Each test asserts exact rule properties computed here, independently
// of the planner (windows, quotas, who may be on screen when).
import { describe, expect, it } from "vitest";
import { plan, type PlanItem } from "../../../agent/playback/planner/index.js";
import { campaign, H, hardRuleProblems, ms, schedule } from "./fixtures.js";
import { DAY, S, MIN, every, paid, starts, onScreen, withDurations, expectSpread, buyout } from "./edge-helpers.js";

describe("rule 1, buyouts", () => {
  it("a buyout mid-hour takes 10:20–10:40; the other campaign keeps its k-th windows where they have legal time", () => {
    const s = schedule([campaign("a", { playsPerHour: 4 }), buyout("buy", { dayparts: [{ days: every, from: "10:20", to: "10:40" }] })]);
    const from = DAY + 10 * H;
    const p = plan({ schedule: s, from, to: from + H });
    expect(hardRuleProblems(p, s, from, from + H)).toEqual([]);
    expect(p.items.filter((i) => i.startMs >= from + 20 * MIN && i.startMs < from + 40 * MIN).every((i) => i.campaign === "buy")).toBe(true);
    // Every window [k·15, (k+1)·15) min has legal time (10:15–10:20 and 10:40–10:45 for k = 1, 2):
    // no hard rule forces a move, so no play may leave its window and nothing is short.
    expectSpread(p, "a", [[from, from + H]], 4);
    expect(p.shortfalls).toEqual([]);
    // A paid item never runs into another campaign's buyout.
    expect(paid(p, "a").some((i) => onScreen(i, from + 20 * MIN, from + 40 * MIN))).toBe(false);
  });

  it("before a buyout of the same category, fill separates; after it, fill separates again", () => {
    const s = schedule([
      campaign("a", { category: "telecom", playsPerHour: 120 }),
      buyout("buy", { category: "telecom", dayparts: [{ days: every, from: "10:20", to: "10:40" }] }),
    ]);
    const from = DAY + 10 * H;
    const p = plan({ schedule: s, from, to: from + H });
    expect(hardRuleProblems(p, s, from, from + H)).toEqual([]);
    const firstBuy = p.items.findIndex((i) => i.campaign === "buy");
    expect(p.items[firstBuy].startMs).toBe(from + 20 * MIN);
    expect(p.items[firstBuy - 1].fill).toBe(true);
    const lastA = paid(p, "a").filter((i) => i.startMs < from + 20 * MIN).pop() as PlanItem;
    expect(from + 20 * MIN - (lastA.startMs + lastA.durationMs)).toBeGreaterThanOrEqual(5000);
    const lastBuy = p.items.map((i) => i.campaign).lastIndexOf("buy");
    expect(p.items[lastBuy + 1].fill).toBe(true);
  });

  it("a buyout from midnight across Berlin's spring-forward night (3 real hours) and what the others are short", () => {
    const start = "2026-03-29T00:00:00+01:00";
    const end = "2026-03-29T04:00:00+02:00";
    expect(ms(end) - ms(start)).toBe(3 * H);
    const s = schedule([campaign("a", { playsPerHour: 4, start: "2026-03-01T00:00:00Z", end: "2026-04-30T00:00:00Z" }), buyout("buy", { start, end })], { timezone: "Europe/Berlin" });
    const from = ms("2026-03-28T23:00:00+01:00");
    const to = ms("2026-03-29T05:00:00+02:00");
    const p = plan({ schedule: s, from, to });
    expect(hardRuleProblems(p, s, from, to)).toEqual([]);
    const during = p.items.filter((i) => i.startMs >= ms(start) && i.startMs < ms(end));
    expect(during.every((i) => i.campaign === "buy")).toBe(true);
    expect(during).toHaveLength((3 * H) / (15 * S));
    // Local hours 00, 01 and 03 (02 does not exist) are bought out: each short by 4 for `a`.
    const short = p.shortfalls.filter((x) => x.campaign === "a");
    expect(short.map((x) => [x.period, x.missing])).toEqual([
      ["2026-03-28T23:00:00.000Z", 4],
      ["2026-03-29T00:00:00.000Z", 4],
      ["2026-03-29T01:00:00.000Z", 4],
    ]);
    expect(short.every((x) => x.reason.includes("buyout by buy"))).toBe(true);
    expectSpread(p, "a", [[ms("2026-03-29T04:00:00+02:00"), ms("2026-03-29T05:00:00+02:00")]], 4);
  });

  it("touching buyouts: the first one's last item may run past its end, the second starts right after it", () => {
    const s = withDurations(
      schedule([
        buyout("x", { category: "telecom", creatives: ["x-20"], dayparts: [{ days: every, from: "10:00", to: "10:30" }] }),
        buyout("y", { category: "bank", dayparts: [{ days: every, from: "10:30", to: "11:00" }] }),
      ]),
      { "x-20": 20_000 },
    );
    const from = DAY + 10 * H;
    const p = plan({ schedule: s, from, to: from + H });
    expect(hardRuleProblems(p, s, from, from + H)).toEqual([]);
    const lastX = paid(p, "x").pop() as PlanItem;
    expect(lastX.startMs).toBeLessThan(from + 30 * MIN);
    expect(paid(p, "y")[0].startMs).toBe(lastX.startMs + lastX.durationMs);
    expect(p.items.some((i) => i.fill)).toBe(false);
  });

  it("a Saturday-night buyout 22:00–02:00 (days [6]) across New York's fall-back night is 5 real hours, and only Saturday's", () => {
    const s = schedule([campaign("a", { playsPerHour: 2, start: "2026-10-01T00:00:00Z" }), buyout("buy", { start: "2026-10-01T00:00:00Z", dayparts: [{ days: [6], from: "22:00", to: "02:00" }] })], {
      timezone: "America/New_York",
    });
    const from = ms("2026-10-30T20:00:00-04:00"); // Friday evening
    const to = ms("2026-11-01T23:00:00-05:00"); // Sunday night
    const p = plan({ schedule: s, from, to });
    expect(hardRuleProblems(p, s, from, to)).toEqual([]);
    const bFrom = ms("2026-10-31T22:00:00-04:00");
    const bTo = ms("2026-11-01T02:00:00-05:00");
    expect(bTo - bFrom).toBe(5 * H);
    const buyItems = paid(p, "buy");
    expect(buyItems.every((i) => i.startMs >= bFrom && i.startMs < bTo)).toBe(true);
    expect(buyItems).toHaveLength((5 * H) / (15 * S));
    expect(p.items.filter((i) => i.startMs >= bFrom && i.startMs < bTo).every((i) => i.campaign === "buy")).toBe(true);
  });

  it("a blackout suspension starting inside a buyout blacks the screen at its exact start: the buyer's item does not run into it", () => {
    const s = schedule([buyout("buy", { dayparts: [{ days: every, from: "10:00", to: "11:00" }] })], {
      suspensions: [{ from: "2026-12-02T10:30:05Z", to: "2026-12-02T10:40:00Z", reason: "storm", campaigns: null, blackout: true }],
    });
    const from = DAY + 10 * H;
    const p = plan({ schedule: s, from, to: from + H });
    const stop = ms("2026-12-02T10:30:05Z");
    expect(p.items.filter((i) => i.campaign === "buy" && onScreen(i, stop, ms("2026-12-02T10:40:00Z")))).toEqual([]);
    expect(p.items.find((i) => i.blackout)?.startMs).toBe(stop);
    expect(p.items.some((i) => i.campaign === "buy" && i.startMs >= ms("2026-12-02T10:40:00Z"))).toBe(true);
  });

  it("a takedown of the buyer mid-buyout: none of its items runs past the takedown", () => {
    const s = schedule([campaign("a", { playsPerHour: 4 }), buyout("buy", { dayparts: [{ days: every, from: "10:00", to: "11:00" }] })]);
    const from = DAY + 10 * H;
    const at = from + 30 * MIN + 5 * S;
    const p = plan({ schedule: s, from, to: from + H, takedowns: [{ at, campaign: "buy" }] });
    expect(p.items.some((i) => i.campaign === "buy" && i.startMs + i.durationMs > at)).toBe(false);
    expect(p.items.some((i) => i.campaign === "buy" && i.startMs + i.durationMs === at - 5 * S)).toBe(true);
    expect(hardRuleProblems(p, s, from, from + H).filter((x) => !x.includes("rule 1"))).toEqual([]);
  });
});

describe("suspensions", () => {
  it("a suspension of one campaign 10:20–10:40: its plays keep their windows where those have legal time", () => {
    const s = schedule([campaign("a", { playsPerHour: 4 }), campaign("b", { playsPerHour: 4 })], {
      suspensions: [{ from: "2026-12-02T10:20:00Z", to: "2026-12-02T10:40:00Z", reason: "complaint", campaigns: ["a"] }],
    });
    const from = DAY + 10 * H;
    const p = plan({ schedule: s, from, to: from + H });
    expectSpread(p, "a", [[from, from + H]], 4);
    expectSpread(p, "b", [[from, from + H]], 4);
    expect(paid(p, "a").some((i) => onScreen(i, from + 20 * MIN, from + 40 * MIN))).toBe(false);
  });

  it("a live, open-ended suspension of all paid content: nothing paid runs into it and what is lost is reported", () => {
    const s = schedule([campaign("a", { playsPerHour: 120 })]);
    const stop = DAY + 30 * MIN + 7 * S;
    const p = plan({ schedule: s, from: DAY, to: DAY + 2 * H, suspensions: [{ from: stop, reason: "storm", campaigns: null }] });
    expect(hardRuleProblems(p, s, DAY, DAY + 2 * H)).toEqual([]);
    expect(p.items.filter((i) => !i.fill && i.startMs + i.durationMs > stop)).toEqual([]);
    expect(p.items.some((i) => i.startMs === stop)).toBe(true);
    for (const h of [0, 1]) {
      const got = starts(p, "a").filter((t) => t >= DAY + h * H && t < DAY + (h + 1) * H).length;
      const short = p.shortfalls.find((x) => Date.parse(x.period) === DAY + h * H);
      expect(got + (short?.missing ?? 0)).toBe(120);
    }
    expect(p.shortfalls.find((x) => Date.parse(x.period) === DAY + H)?.reason).toContain("suspension: storm");
  });
});

describe("rule 2, dayparts", () => {
  it("a wrapping daypart restricted to Friday (22:00–02:00) runs Fri 22:00 to Sat 02:00 only", () => {
    const s = schedule([campaign("n", { playsPerHour: 4, start: "2026-11-01T00:00:00Z", dayparts: [{ days: [5], from: "22:00", to: "02:00" }] })], { timezone: "America/New_York" });
    const from = ms("2026-12-03T20:00:00-05:00"); // Thursday
    const to = ms("2026-12-06T04:00:00-05:00"); // Sunday
    const p = plan({ schedule: s, from, to });
    expect(hardRuleProblems(p, s, from, to)).toEqual([]);
    const fri = ms("2026-12-04T22:00:00-05:00");
    expect(starts(p, "n").every((t) => t >= fri && t < fri + 4 * H)).toBe(true);
    for (let h = 0; h < 4; h++) expectSpread(p, "n", [[fri + h * H, fri + (h + 1) * H]], 4);
  });

  it("a daypart whose start is skipped by spring-forward starts at the first valid instant (docs: 02:30 → 03:00)", () => {
    const s = schedule([campaign("n", { playsPerHour: 4, start: "2026-03-01T00:00:00Z", dayparts: [{ days: every, from: "02:30", to: "03:30" }] })], { timezone: "America/New_York" });
    const from = ms("2026-03-08T00:00:00-05:00");
    const to = ms("2026-03-08T06:00:00-04:00");
    const p = plan({ schedule: s, from, to });
    // 03:00–03:30 EDT is the daypart that day: half an hour, round(4 × ½) = 2 plays, 15 minutes apart.
    const part = ms("2026-03-08T03:00:00-04:00");
    expectSpread(p, "n", [[part, part + 30 * MIN]], 2);
    expect(starts(p, "n")).toHaveLength(2);
    // and on an ordinary day the same daypart is a full hour: 4 plays.
    const q = plan({ schedule: s, from: ms("2026-03-09T00:00:00-04:00"), to: ms("2026-03-09T06:00:00-04:00") });
    expectSpread(q, "n", [[ms("2026-03-09T02:30:00-04:00"), ms("2026-03-09T03:30:00-04:00")]], 4);
  });
});

describe("rule 3, frequency", () => {
  it("partial hours at flight start and end get round(N × fraction), spread over the active part", () => {
    const s = schedule([
      campaign("a", { playsPerHour: 6, start: "2026-12-02T10:20:00Z", end: "2026-12-02T12:10:00Z" }),
      campaign("b", { playsPerHour: 3, start: "2026-12-02T10:00:00Z", end: "2026-12-02T10:30:00Z" }), // 1.5 rounds half up to 2
      campaign("c", { playsPerHour: 4, start: "2026-12-02T10:15:00Z", end: "2026-12-02T10:45:00Z" }),
    ]);
    const from = DAY + 10 * H;
    const p = plan({ schedule: s, from, to: from + 3 * H });
    expect(hardRuleProblems(p, s, from, from + 3 * H)).toEqual([]);
    expectSpread(p, "a", [[from + 20 * MIN, from + H]], 4);
    expectSpread(p, "a", [[from + H, from + 2 * H]], 6);
    expectSpread(p, "a", [[from + 2 * H, from + 2 * H + 10 * MIN]], 1);
    expectSpread(p, "b", [[from, from + 30 * MIN]], 2);
    expectSpread(p, "c", [[from + 15 * MIN, from + 45 * MIN]], 2);
    expect(p.shortfalls).toEqual([]);
  });

  it("playsPerDay spreads M over the day's active time (two dayparts, 4 h): the k-th in the k-th sixth", () => {
    const s = schedule([campaign("d", { playsPerHour: undefined, playsPerDay: 6, dayparts: [{ days: every, from: "08:00", to: "10:00" }, { days: every, from: "20:00", to: "22:00" }] })], { timezone: "Asia/Shanghai" });
    const day = ms("2026-12-02T00:00:00+08:00");
    const p = plan({ schedule: s, from: day, to: day + 24 * H });
    expectSpread(p, "d", [[day + 8 * H, day + 10 * H], [day + 20 * H, day + 22 * H]], 6);
  });

  it("playsPerDay on Berlin's 25-hour day: 25 plays, one per real hour", () => {
    const s = schedule([campaign("d", { playsPerHour: undefined, playsPerDay: 25, start: "2026-10-01T00:00:00Z" })], { timezone: "Europe/Berlin" });
    const day = ms("2026-10-25T00:00:00+02:00");
    const next = ms("2026-10-26T00:00:00+01:00");
    expect(next - day).toBe(25 * H);
    const p = plan({ schedule: s, from: day, to: next });
    expectSpread(p, "d", [[day, next]], 25);
  });

  it("playsPerHour 3600 with 1 s creatives: exactly one play per second, nothing else", () => {
    const s = withDurations(schedule([campaign("a", { playsPerHour: 3600, creatives: ["a-1"] })]), { "a-1": 1000 });
    const p = plan({ schedule: s, from: DAY, to: DAY + H });
    expect(starts(p, "a")).toEqual(Array.from({ length: 3600 }, (_, k) => DAY + k * S));
    expect(p.items.filter((i) => i.fill)).toEqual([]);
    expect(p.bends).toEqual([]);
    expect(p.shortfalls).toEqual([]);
  });

  it("playsPerHour 3600 with 15 s creatives is oversold: 240 back to back, 3360 reported short, nothing cut", () => {
    const s = schedule([campaign("a", { playsPerHour: 3600 })]);
    const p = plan({ schedule: s, from: DAY, to: DAY + 2 * H });
    for (const h of [0, 1]) expect(starts(p, "a").filter((t) => t >= DAY + h * H && t < DAY + (h + 1) * H)).toHaveLength(240);
    expect(p.items.every((i) => i.fill || i.durationMs === 15_000)).toBe(true);
    expect(p.shortfalls.map((x) => [x.period, x.contracted, x.planned, x.missing])).toEqual([
      [new Date(DAY).toISOString(), 3600, 240, 3360],
      [new Date(DAY + H).toISOString(), 3600, 240, 3360],
    ]);
    expect(p.shortfalls.every((x) => x.reason.includes("oversold"))).toBe(true);
  });

  it("creatives longer than the slot (N = 60, 90 s): 40 plays, 20 reported short, never cut, no gaps", () => {
    const s = withDurations(schedule([campaign("a", { playsPerHour: 60, creatives: ["a-90"] })]), { "a-90": 90_000 });
    const p = plan({ schedule: s, from: DAY, to: DAY + H });
    expect(hardRuleProblems(p, s, DAY, DAY + H)).toEqual([]);
    expect(paid(p, "a")).toHaveLength(40);
    expect(paid(p, "a").every((i) => i.durationMs === 90_000)).toBe(true);
    expect(p.shortfalls).toMatchObject([{ campaign: "a", contracted: 60, planned: 40, missing: 20 }]);
  });
});

describe("rule 4, separation", () => {
  it("three mutually exclusive categories: every play kept, never adjacent, each in its window", () => {
    const mk = (id: string, cat: string, others: string[]) => campaign(id, { category: cat, separateFrom: others, playsPerHour: 60, creatives: [`${id}-10`] });
    const s = withDurations(schedule([mk("a", "x", ["y", "z"]), mk("b", "y", ["x", "z"]), mk("c", "z", ["x", "y"])]), { "a-10": 10_000, "b-10": 10_000, "c-10": 10_000 });
    const p = plan({ schedule: s, from: DAY, to: DAY + H });
    expect(hardRuleProblems(p, s, DAY, DAY + H)).toEqual([]);
    for (const id of ["a", "b", "c"]) expectSpread(p, id, [[DAY, DAY + H]], 60);
    expect(p.shortfalls).toEqual([]);
  });

  it("asymmetric separateFrom (kids excludes alcohol, beer excludes nothing) still keeps them apart", () => {
    const s = schedule([
      campaign("beer", { category: "alcohol", playsPerHour: 70 }),
      campaign("kids", { category: "toys", separateFrom: ["alcohol"], playsPerHour: 70 }),
      campaign("bank", { category: "bank", playsPerHour: 10 }),
    ]);
    const p = plan({ schedule: s, from: DAY, to: DAY + 2 * H });
    expect(hardRuleProblems(p, s, DAY, DAY + 2 * H)).toEqual([]);
    for (let k = 1; k < p.items.length; k++) {
      const pair = [p.items[k - 1].campaign, p.items[k].campaign].sort().join("+");
      expect(pair).not.toBe("beer+kids");
    }
    for (const h of [0, 1]) for (const id of ["beer", "kids", "bank"]) expectSpread(p, id, [[DAY + h * H, DAY + (h + 1) * H]], id === "bank" ? 10 : 70, { bends: "reported" });
  });

  it("separation across a replan: the campaign on screen before `from` is not followed by a competitor", () => {
    const s = schedule([campaign("cola", { category: "beverage", playsPerHour: 4 }), campaign("pepsi", { category: "beverage", playsPerHour: 4 })]);
    const from = DAY + 15 * MIN + 7 * S; // mid-item of the 10:15 play
    const p = plan({ schedule: s, from, to: from + H, previousCampaign: "pepsi" });
    expect(p.items[0].startMs).toBe(from);
    expect(p.items[0].campaign).not.toBe("cola");
    expect(hardRuleProblems(p, s, from, from + H)).toEqual([]);
  });
});
