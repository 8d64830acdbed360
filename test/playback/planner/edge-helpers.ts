// Shared by the edge-*.test.ts files: rule-3 windows and small plan queries.
import { expect } from "vitest";
import { type Plan, type PlanCampaign, type PlanItem, type PlanSchedule } from "../../../agent/playback/planner/index.js";
import { campaign, creative, ms } from "./fixtures.js";

export const DAY = ms("2026-12-02T00:00:00Z"); // a Wednesday
export const S = 1000;
export const MIN = 60_000;
export const every = [1, 2, 3, 4, 5, 6, 7];

export const paid = (p: Plan, id: string, makeGood = false): PlanItem[] => p.items.filter((i) => i.campaign === id && i.makeGood === makeGood);
export const starts = (p: Plan, id: string): number[] => paid(p, id).map((i) => i.startMs);
export const onScreen = (i: PlanItem, from: number, to: number): boolean => i.startMs < to && i.startMs + i.durationMs > from;
export const withDurations = (s: PlanSchedule, durations: Record<string, number>): PlanSchedule => ({
  ...s,
  creatives: s.creatives.map((c) => (durations[c.id] ? creative(c.id, durations[c.id], c.approved) : c)),
});
export const bendAt = (p: Plan, id: string, at: number): boolean => p.bends.some((b) => b.campaign === id && Date.parse(b.at) === at);

/** Rule 3: the k-th of n plays over `active` (sorted disjoint intervals) starts in [k/n, (k+1)/n) of it. */
export function ruleWindows(active: [number, number][], n: number): [number, number][] {
  const total = active.reduce((s, [a, b]) => s + b - a, 0);
  const at = (f: number): number => {
    let rest = total * f;
    for (const [a, b] of active) {
      if (rest < b - a) return a + rest;
      rest -= b - a;
    }
    return active[active.length - 1][1];
  };
  return Array.from({ length: n }, (_, k) => [at(k / n), at((k + 1) / n)] as [number, number]);
}

/** Every play of `id` starting in [from, to) is the k-th of n and starts in its rule-3 window, or is reported as a bend. */
export function expectSpread(p: Plan, id: string, active: [number, number][], n: number, opts: { bends?: "none" | "reported" } = {}): void {
  const from = active[0][0];
  const to = active[active.length - 1][1];
  const got = starts(p, id).filter((t) => t >= from && t < to);
  expect(got, `${id}: plays in ${new Date(from).toISOString()}..${new Date(to).toISOString()}`).toHaveLength(n);
  ruleWindows(active, n).forEach(([a, b], k) => {
    const inside = got[k] >= a && got[k] < b;
    if (opts.bends === "reported") {
      if (!inside) expect(bendAt(p, id, got[k]), `${id} play ${k} at ${new Date(got[k]).toISOString()} is a bend`).toBe(true);
    } else {
      expect(inside, `${id} play ${k} at ${new Date(got[k]).toISOString()} not in [${new Date(a).toISOString()}, ${new Date(b).toISOString()})`).toBe(true);
    }
  });
  if (opts.bends !== "reported") expect(p.bends.filter((b) => b.campaign === id && Date.parse(b.at) >= from && Date.parse(b.at) < to)).toEqual([]);
}

export const buyout = (id: string, over: Partial<PlanCampaign>): PlanCampaign => campaign(id, { exclusive: true, playsPerHour: undefined, ...over });
