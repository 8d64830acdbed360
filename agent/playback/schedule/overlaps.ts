// The buyout check (rules 1 and 4 across exclusive campaigns), with its work bounded: each
// buyout's daily windows are computed once over its own flight, then one sweep in time order
// finds the pairs that overlap or, competing, meet back to back. The windows are counted before
// they are computed, and the sweep stops after MAX_BUYOUT_PROBLEMS pairs, so a hostile document
// costs at most a few hundred thousand steps.
import { activeIntervals, parseInstant, type Interval } from "../planner/time.js";
import type { PlanCampaign } from "../planner/types.js";
import { MAX_BUYOUT_WINDOWS } from "./limits.js";

const DAY_MS = 24 * 3_600_000;
/** Pairs named at most; the rest are counted in one more problem. */
export const MAX_BUYOUT_PROBLEMS = 100;

/** Two buyouts of competing categories: neither may follow the other (rule 4). */
function competing(a: PlanCampaign, b: PlanCampaign): boolean {
  const ca = a.category ?? "";
  const cb = b.category ?? "";
  return (ca !== "" && ca === cb) || (cb !== "" && (a.separateFrom ?? []).includes(cb)) || (ca !== "" && (b.separateFrom ?? []).includes(ca));
}

/** An upper bound on the windows activeIntervals() returns for the campaign's whole flight. */
export function windowEstimate(c: PlanCampaign): number {
  const days = Math.ceil((parseInstant(c.end) - parseInstant(c.start)) / DAY_MS) + 2;
  return c.dayparts ? days * c.dayparts.length : 1;
}

interface Window {
  from: number;
  to: number;
  owner: number;
}

/** First meeting of each pair, keyed "i,j" with i < j. */
type Meetings = Map<string, number>;
const pairKey = (a: number, b: number): string => (a < b ? `${a},${b}` : `${b},${a}`);

/**
 * Every pair of buyouts that overlap, and every competing pair that meets back to back, each
 * named once with the first instant it happens. `buyouts` have well-formed, forward times.
 */
export function exclusiveOverlaps(buyouts: readonly PlanCampaign[], zone: string): string[] {
  const estimate = buyouts.reduce((sum, c) => sum + windowEstimate(c), 0);
  if (estimate > MAX_BUYOUT_WINDOWS) {
    return [`campaigns: the exclusive campaigns span about ${estimate} daily windows (flight days × dayparts), more than the limit of ${MAX_BUYOUT_WINDOWS}; shorten their flights or split the schedule`];
  }
  const windows: Window[] = buyouts.flatMap((c, owner) =>
    activeIntervals(c, parseInstant(c.start), parseInstant(c.end), zone).map(([from, to]: Interval) => ({ from, to, owner })),
  );
  windows.sort((x, y) => x.from - y.from || x.to - y.to);
  const overlaps: Meetings = new Map();
  const seams: Meetings = new Map();
  let open: Window[] = [];
  const endingAt = new Map<number, number[]>();
  for (const w of windows) {
    open = open.filter((o) => o.to > w.from); // every window left open overlaps w
    for (const o of open) if (o.owner !== w.owner && !overlaps.has(pairKey(o.owner, w.owner))) overlaps.set(pairKey(o.owner, w.owner), w.from);
    for (const owner of endingAt.get(w.from) ?? []) {
      const key = pairKey(owner, w.owner);
      if (owner !== w.owner && !seams.has(key) && competing(buyouts[owner], buyouts[w.owner])) seams.set(key, w.from);
    }
    if (overlaps.size + seams.size > MAX_BUYOUT_PROBLEMS) break;
    open.push(w);
    const ending = endingAt.get(w.to);
    if (ending) ending.push(w.owner);
    else endingAt.set(w.to, [w.owner]);
  }
  return describeMeetings(buyouts, overlaps, seams);
}

function describeMeetings(buyouts: readonly PlanCampaign[], overlaps: Meetings, seams: Meetings): string[] {
  const ordered = (m: Meetings): [number, number, number][] =>
    [...m].map(([key, at]) => [...(key.split(",").map(Number) as [number, number]), at] as [number, number, number]).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const problems: string[] = [];
  for (const [i, j, at] of ordered(overlaps)) {
    problems.push(`campaigns ${buyouts[i].id} and ${buyouts[j].id}: exclusive campaigns overlap (first at ${new Date(at).toISOString()})`);
  }
  for (const [i, j, at] of ordered(seams)) {
    if (overlaps.has(pairKey(i, j))) continue;
    problems.push(`campaigns ${buyouts[i].id} and ${buyouts[j].id}: competing exclusive campaigns meet back to back at ${new Date(at).toISOString()}; leave a gap between them`);
  }
  if (problems.length <= MAX_BUYOUT_PROBLEMS) return problems;
  return [...problems.slice(0, MAX_BUYOUT_PROBLEMS), `campaigns: more than ${MAX_BUYOUT_PROBLEMS} pairs of exclusive campaigns clash; the check stopped there`];
}
