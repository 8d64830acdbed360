// Property tests over random schedules: hard rules never broken, no gaps, deterministic,
// quotas met whenever there is room.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hourStart, plan } from "../../../agent/playback/planner/index.js";
import { propertyParams } from "../../helpers/property.js";
import { scheduleArb, windowArb } from "./arbitraries.js";
import { H, hardRuleProblems, ms } from "./fixtures.js";

describe("planner properties", () => {
  it("property: never breaks rules 1, 2 or 4, leaves no gap, and plans the same twice", () => {
    fc.assert(
      fc.property(scheduleArb(false), windowArb, (s, [hour, second, hours]) => {
        const from = ms("2026-12-05T00:00:00Z") + hour * H + second * 1000;
        const to = from + hours * H;
        const first = plan({ schedule: s, from, to });
        expect(hardRuleProblems(first, s, from, to)).toEqual([]);
        expect(plan({ schedule: structuredClone(s), from, to })).toEqual(first);
      }),
      propertyParams("planner: hard rules, no gaps, deterministic", 40),
    );
  });

  it("property: meets every quota when the hours have room", () => {
    fc.assert(
      fc.property(scheduleArb(true), fc.integer({ min: 0, max: 36 }), fc.integer({ min: 1, max: 6 }), (s, hour, hours) => {
        // Clock hours are the schedule zone's (Asia/Kolkata's start at :30 UTC).
        const from = hourStart(ms("2026-12-05T00:00:00Z") + hour * H, s.timezone);
        const to = from + hours * H;
        const p = plan({ schedule: s, from, to });
        expect(p.shortfalls).toEqual([]);
        for (const c of s.campaigns) {
          if (c.dayparts || !c.playsPerHour) continue;
          for (let h = from; h < to; h += H) {
            if (h < ms(c.start) || h + H > ms(c.end)) continue; // only hours fully in the flight
            const n = p.items.filter((i) => i.campaign === c.id && i.startMs >= h && i.startMs < h + H).length;
            expect(n, `${c.id} in hour ${new Date(h).toISOString()}`).toBe(c.playsPerHour);
          }
        }
      }),
      propertyParams("planner: quotas met when there is room", 60),
    );
  });
});
