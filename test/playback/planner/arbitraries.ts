// Random schedules shared by the planner's property tests (fast-check arbitraries). A recorded
// seed and path replays only against these exact arbitraries: change them and re-record.
import fc from "fast-check";
import type { PlanCampaign, PlanSchedule } from "../../../agent/playback/planner/index.js";
import { creative, H, ms } from "./fixtures.js";

const zones = ["UTC", "Asia/Shanghai", "Europe/Berlin", "America/New_York", "Asia/Kolkata"];
const categories = ["", "beverage", "alcohol", "auto", "bank"];
const clock = fc.tuple(fc.integer({ min: 0, max: 23 }), fc.constantFrom(0, 15, 30, 45)).map(([h, m]) => `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}`);

const campaignArb = (i: number, light: boolean): fc.Arbitrary<PlanCampaign> =>
  fc
    .record({
      category: fc.constantFrom(...categories),
      separateFrom: fc.subarray(categories.slice(1), { maxLength: 2 }),
      perHour: fc.integer({ min: 1, max: light ? 3 : 20 }),
      perDay: fc.option(fc.integer({ min: 1, max: 40 }), { nil: undefined }),
      priority: fc.integer({ min: 0, max: 3 }),
      dayparts: fc.option(fc.array(fc.record({ days: fc.subarray([1, 2, 3, 4, 5, 6, 7], { minLength: 1 }), from: clock, to: clock }), { minLength: 1, maxLength: 2 }), { nil: undefined }),
      startOffsetH: fc.integer({ min: -48, max: 12 }),
      lengthH: fc.integer({ min: 1, max: 96 }),
      durations: fc.array(fc.integer({ min: 5, max: 30 }), { minLength: 1, maxLength: 2 }),
      exclusive: light ? fc.constant(false) : fc.boolean().map((b) => b && i === 0),
      makeGood: fc.boolean(),
    })
    .map((r) => {
      const base = ms("2026-12-05T00:00:00Z");
      const c: PlanCampaign = {
        id: `c${i}`,
        customer: `cust${i % 3}`,
        category: r.category,
        separateFrom: r.separateFrom,
        creatives: r.durations.map((d, k) => `c${i}-${k}-${d}`),
        start: new Date(base + r.startOffsetH * H).toISOString(),
        end: new Date(base + (r.startOffsetH + r.lengthH) * H).toISOString(),
        dayparts: r.dayparts,
        priority: r.priority,
        exclusive: r.exclusive,
        makeGood: r.makeGood,
      };
      if (r.exclusive) return c;
      return r.perDay !== undefined && !light ? { ...c, playsPerDay: r.perDay } : { ...c, playsPerHour: r.perHour };
    });

export const scheduleArb = (light: boolean): fc.Arbitrary<PlanSchedule> =>
  fc
    .tuple(fc.integer({ min: 1, max: light ? 5 : 10 }), fc.constantFrom(...zones), fc.boolean())
    .chain(([n, timezone, suspend]) =>
      fc.tuple(...Array.from({ length: n }, (_, i) => campaignArb(i, light))).map((campaigns) => {
        const creatives = campaigns.flatMap((c) => c.creatives.map((id) => creative(id, Number(id.split("-")[2]) * 1000)));
        const s: PlanSchedule = { version: 1, timezone, campaigns, creatives: [...creatives, creative("house", 20_000)], fill: ["house"] };
        if (suspend && !light) {
          s.suspensions = [{ from: "2026-12-05T02:10:00Z", to: "2026-12-05T02:50:00Z", reason: "maintenance", campaigns: [campaigns[campaigns.length - 1].id] }];
        }
        return s;
      }),
    );

export const windowArb = fc.tuple(fc.integer({ min: 0, max: 36 }), fc.integer({ min: 0, max: 3599 }), fc.integer({ min: 1, max: 8 }));

