// Adversarial cases against spec/schedule-format.md, "The planner's rules" 1–8, and the choices
// in docs/schedule-format.md. Each test asserts exact rule properties computed here, independently
// of the planner (windows, quotas, who may be on screen when).
import fc from "fast-check";
import { DateTime } from "luxon";
import { describe, expect, it } from "vitest";
import { plan, type DeliveredCounts, type Plan, type PlanCampaign, type PlanSchedule } from "../../../agent/playback/planner/index.js";
import { propertyParams } from "../../helpers/property.js";
import { creative, H, hardRuleProblems, ms } from "./fixtures.js";
import { DAY, S, MIN, every, paid, starts, onScreen, bendAt, ruleWindows, buyout } from "./edge-helpers.js";

function activeAt(c: PlanCampaign, t: number, zone: string): boolean {
  if (t < ms(c.start) || t >= ms(c.end)) return false;
  if (!c.dayparts) return true;
  const local = DateTime.fromMillis(t, { zone });
  return c.dayparts.some((p) =>
    [0, 1].some((back) => {
      const day = local.startOf("day").minus({ days: back });
      if (!p.days.includes(day.weekday)) return false;
      const at = (d: DateTime, hhmm: string): number => d.set({ hour: Number(hhmm.slice(0, 2)), minute: Number(hhmm.slice(3)) }).toMillis();
      const end = at(p.to <= p.from ? day.plus({ days: 1 }) : day, p.to);
      return t >= at(day, p.from) && t < end;
    }),
  );
}

/** Active minutes of a campaign in [from, to) as intervals (flights on whole hours, dayparts on quarter hours). */
function activeMinutes(c: PlanCampaign, from: number, to: number, zone: string): [number, number][] {
  const out: [number, number][] = [];
  for (let t = from; t < to; t += MIN) {
    if (!activeAt(c, t, zone)) continue;
    const last = out[out.length - 1];
    if (last && last[1] === t) last[1] = t + MIN;
    else out.push([t, t + MIN]);
  }
  return out;
}

const clock = fc.tuple(fc.integer({ min: 0, max: 23 }), fc.constantFrom(0, 15, 30, 45)).map(([h, m]) => `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}`);

const scheduleArb = fc
  .tuple(fc.integer({ min: 1, max: 5 }), fc.constantFrom("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"), fc.boolean(), fc.integer({ min: 0, max: 3599 }))
  .chain(([n, timezone, withBuyout, stopSecond]) =>
    fc
      .tuple(
        ...Array.from({ length: n }, (_, i) =>
          fc.record({
            category: fc.constantFrom("", "beverage", "alcohol", "auto"),
            separateFrom: fc.subarray(["beverage", "alcohol", "auto"], { maxLength: 2 }),
            perHour: fc.integer({ min: 1, max: 12 }),
            priority: fc.integer({ min: 0, max: 2 }),
            dayparts: fc.option(fc.array(fc.record({ days: fc.subarray(every, { minLength: 1 }), from: clock, to: clock }), { minLength: 1, maxLength: 2 }), { nil: undefined }),
            startH: fc.integer({ min: -30, max: 6 }),
            lengthH: fc.integer({ min: 1, max: 60 }),
            duration: fc.constantFrom(5, 10, 15, 30),
            makeGood: fc.boolean(),
          }).map((r): PlanCampaign => ({
            id: `c${i}`,
            customer: `cust${i}`,
            category: r.category,
            separateFrom: r.separateFrom,
            creatives: [`c${i}-${r.duration}`],
            start: new Date(DAY + r.startH * H).toISOString(),
            end: new Date(DAY + (r.startH + r.lengthH) * H).toISOString(),
            dayparts: r.dayparts,
            priority: r.priority,
            playsPerHour: r.perHour,
            makeGood: r.makeGood,
          })),
        ),
      )
      .map((campaigns) => {
        const all = [...campaigns];
        if (withBuyout) all.push(buyout("buy", { category: "auto", start: new Date(DAY + 2 * H + 20 * MIN).toISOString(), end: new Date(DAY + 3 * H + 5 * MIN).toISOString() }));
        const creatives = all.flatMap((c) => c.creatives.map((id) => creative(id, (Number(id.split("-")[1]) || 15) * 1000)));
        const stop = new Date(DAY + 2 * H + 50 * MIN + stopSecond * S).toISOString();
        const s: PlanSchedule = {
          version: 1,
          timezone,
          campaigns: all,
          creatives: [...creatives, creative("house", 20_000)],
          fill: ["house"],
          suspensions: [{ from: stop, to: new Date(Date.parse(stop) + 10 * MIN).toISOString(), reason: "storm", campaigns: null, blackout: stopSecond % 2 === 0 }],
        };
        return s;
      }),
  );

describe("properties", () => {
  it("property: no paid item is on screen during a screen-wide suspension; its first item starts exactly at the suspension", () => {
    fc.assert(
      fc.property(scheduleArb, fc.integer({ min: 0, max: 3 }), (s, startH) => {
        const from = DAY + startH * H;
        const to = DAY + 6 * H;
        const p = plan({ schedule: s, from, to });
        const stop = s.suspensions?.[0];
        if (!stop) return;
        const [a, b] = [ms(stop.from), ms(stop.to)];
        // The fixture's checker knows no suspensions: fill or black inside a suspended buyout is expected,
        // and so is fill for the last seconds before the stop when the buyer's creative would run into it.
        const suspendedBuyout = (x: string): boolean => /^rule 1: (null|fill) at \S+ during buyout/.test(x) && ms(x.split(" ")[4]) >= a - 15 * S && ms(x.split(" ")[4]) < b;
        expect(hardRuleProblems(p, s, from, to).filter((x) => !suspendedBuyout(x))).toEqual([]);
        if (a < from) return;
        expect(p.items.filter((i) => i.campaign !== "fill" && !i.blackout && onScreen(i, a, b))).toEqual([]);
        expect(p.items.some((i) => i.startMs === a)).toBe(true);
      }),
      propertyParams("planner edge: nothing paid during a screen-wide suspension", 60),
    );
  });

  it("property: in every clock hour inside the window: plays + reported shortfall = round(N × active fraction), and each play is in its window or reported as a bend", () => {
    fc.assert(
      fc.property(scheduleArb, fc.integer({ min: 0, max: 3 }), (s, startH) => {
        const zone = s.timezone;
        const from = DateTime.fromMillis(DAY + startH * H, { zone }).startOf("hour").toMillis();
        const to = from + 5 * H;
        const p = plan({ schedule: s, from, to });
        for (const c of s.campaigns) {
          if (c.exclusive || !c.playsPerHour) continue;
          for (let h = from; h < to; h += H) {
            const active = activeMinutes(c, h, h + H, zone);
            const length = active.reduce((x, [a, b]) => x + b - a, 0);
            const due = Math.round((c.playsPerHour * length) / H);
            const got = starts(p, c.id).filter((t) => t >= h && t < h + H);
            const short = p.shortfalls.find((x) => x.campaign === c.id && Date.parse(x.period) === h);
            const where = `${c.id} in ${new Date(h).toISOString()} (${zone})`;
            expect(got.length + (short?.missing ?? 0), where).toBe(due);
            if (short) expect(short.contracted, where).toBe(due);
            if (short || due === 0) continue;
            ruleWindows(active, due).forEach(([a, b], k) => {
              if (got[k] >= a && got[k] < b) return;
              expect(bendAt(p, c.id, got[k]), `${where}: play ${k} at ${new Date(got[k]).toISOString()} outside [${new Date(a).toISOString()}, ${new Date(b).toISOString()}) without a bend`).toBe(true);
            });
          }
        }
      }),
      propertyParams("planner edge: plays plus shortfall equal the quota, bends reported", 80),
    );
    // Some 20 s alone, so a loaded machine would pass vitest's default limit.
  }, 120_000);

  it("property: make-goods only use spare time: with plays owed, the regular plays and shortfalls are those of the plan without history", () => {
    fc.assert(
      fc.property(scheduleArb, fc.integer({ min: 0, max: 3 }), fc.array(fc.nat({ max: 12 }), { minLength: 24, maxLength: 24 }), (s, startH, got) => {
        const zone = s.timezone;
        const from = DateTime.fromMillis(DAY + startH * H, { zone }).startOf("hour").toMillis();
        const to = from + 4 * H;
        const base = plan({ schedule: s, from, to });
        // History: hours before `from` delivered some plays (fewer than contracted or not), hours from `from` on nothing yet.
        const byHour = new Map(got.map((n, i) => [from - (i + 1) * H, n] as [number, number]));
        const delivered = new Map(s.campaigns.map((c) => [c.id, { byHour, makeGoods: 0 }] as [string, DeliveredCounts]));
        const appliedAt = Object.fromEntries(s.campaigns.map((c) => [c.id, from - 24 * H]));
        const p = plan({ schedule: s, from, to, delivered, appliedAt });
        const stop = s.suspensions?.[0];
        const inStop = (x: string): boolean => !!stop && /^rule 1: (null|fill) at \S+ during buyout/.test(x) && ms(x.split(" ")[4]) >= ms(stop.from) - 15 * S && ms(x.split(" ")[4]) < ms(stop.to);
        expect(hardRuleProblems(p, s, from, to).filter((x) => !inStop(x))).toEqual([]);
        expect(p.shortfalls).toEqual(base.shortfalls);
        for (const c of s.campaigns) {
          if (c.exclusive) continue;
          for (let h = from; h < to; h += H) {
            const regular = (q: Plan): number => starts(q, c.id).filter((t) => t >= h && t < h + H).length;
            expect(regular(p), `${c.id} regular plays in ${new Date(h).toISOString()}`).toBe(regular(base));
            expect(paid(p, c.id, true).filter((i) => i.startMs >= h && i.startMs < h + H).length).toBeLessThanOrEqual(c.playsPerHour ?? 0);
          }
          const owed = p.makeGoods.find((m) => m.campaign === c.id);
          expect(paid(p, c.id, true)).toHaveLength(owed?.planned ?? 0);
          if (!c.makeGood) expect(owed).toBeUndefined();
        }
      }),
      propertyParams("planner edge: make-goods only use spare time", 60),
    );
  });
});
