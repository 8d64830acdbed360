// The buyout sweep names exactly the clashes the plain pairwise comparison names (each pair's
// first overlap, or its first back-to-back meeting when they compete), only with bounded work.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { exclusiveOverlaps, MAX_BUYOUT_PROBLEMS } from "../../../agent/playback/schedule/overlaps.js";
import { activeIntervals, intersect, parseInstant } from "../../../agent/playback/planner/time.js";
import type { PlanCampaign } from "../../../agent/playback/planner/types.js";
import { propertyParams } from "../../helpers/property.js";

const ZONE = "Asia/Shanghai";
const BASE = Date.parse("2026-12-01T00:00:00Z");
const HOUR = 3_600_000;

function competing(a: PlanCampaign, b: PlanCampaign): boolean {
  const ca = a.category ?? "";
  const cb = b.category ?? "";
  return (ca !== "" && ca === cb) || (cb !== "" && (a.separateFrom ?? []).includes(cb)) || (ca !== "" && (b.separateFrom ?? []).includes(ca));
}

/** Every pair compared over both flights: quadratic, and slow over long flights, but plainly right. */
function pairwise(list: PlanCampaign[]): string[] {
  const problems: string[] = [];
  for (let i = 0; i < list.length; i++) {
    for (let j = i + 1; j < list.length; j++) {
      const [a, b] = [list[i], list[j]];
      const from = Math.min(parseInstant(a.start), parseInstant(b.start));
      const to = Math.max(parseInstant(a.end), parseInstant(b.end));
      const activeA = activeIntervals(a, from, to, ZONE);
      const activeB = activeIntervals(b, from, to, ZONE);
      const both = intersect(activeA, activeB);
      if (both.length > 0) {
        problems.push(`campaigns ${a.id} and ${b.id}: exclusive campaigns overlap (first at ${new Date(both[0][0]).toISOString()})`);
        continue;
      }
      if (!competing(a, b)) continue;
      const seams = activeA.flatMap(([s, e]) => activeB.filter(([s2, e2]) => s2 === e || e2 === s).map(([s2]) => (s2 === e ? e : s)));
      if (seams.length > 0) problems.push(`campaigns ${a.id} and ${b.id}: competing exclusive campaigns meet back to back at ${new Date(Math.min(...seams)).toISOString()}; leave a gap between them`);
    }
  }
  return problems;
}

const clock = fc.integer({ min: 0, max: 23 }).map((h) => `${String(h).padStart(2, "0")}:00`);
const daypart = fc.record({ days: fc.uniqueArray(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 7 }), from: clock, to: clock });
const buyout = fc.record({
  startHour: fc.integer({ min: 0, max: 24 * 10 }),
  lengthHours: fc.integer({ min: 1, max: 24 * 6 }),
  dayparts: fc.option(fc.array(daypart, { minLength: 1, maxLength: 2 }), { nil: undefined }),
  category: fc.constantFrom("", "beer", "juice"),
  separateFrom: fc.subarray(["beer", "juice"]),
});

describe("buyout overlaps", () => {
  it("property: the sweep names the same clashes as the pairwise comparison", () => {
    fc.assert(
      fc.property(fc.array(buyout, { minLength: 2, maxLength: 5 }), (specs) => {
        const list: PlanCampaign[] = specs.map((s, i) => ({
          id: `x${i}`, customer: "c", creatives: ["k"], exclusive: true, category: s.category, separateFrom: s.separateFrom,
          start: new Date(BASE + s.startHour * HOUR).toISOString(), end: new Date(BASE + (s.startHour + s.lengthHours) * HOUR).toISOString(),
          ...(s.dayparts ? { dayparts: s.dayparts } : {}),
        }));
        expect([...exclusiveOverlaps(list, ZONE)].sort()).toEqual(pairwise(list).sort());
      }),
      propertyParams("schedule buyout sweep matches pairwise", 200),
    );
  });

  it("stops after MAX_BUYOUT_PROBLEMS clashing pairs and says so", () => {
    const list: PlanCampaign[] = Array.from({ length: 20 }, (_, i) => ({ id: `x${i}`, customer: "c", creatives: ["k"], exclusive: true, start: "2026-12-01T00:00:00Z", end: "2026-12-02T00:00:00Z" }));
    const problems = exclusiveOverlaps(list, ZONE);
    expect(problems.filter((p) => p.includes("overlap"))).toHaveLength(MAX_BUYOUT_PROBLEMS);
    expect(problems.at(-1)).toBe(`campaigns: more than ${MAX_BUYOUT_PROBLEMS} pairs of exclusive campaigns clash; the check stopped there`);
  });
});
