// Rules 3, 5 and 6 as numbers: how many plays each campaign is owed in each hour or day, the
// window each one should start in, which survive an oversold hour, and what is owed from the past.
import { takedownIntervals, type PlanContext, type Runner } from "./context.js";
import { demand, hourOf, PlayRun } from "./capacity.js";
import { blockReason, evenWindows, slotWindows, windowEnd, type Slot } from "./slots.js";
import {
  clip,
  daypartIntervals,
  daysOverlapping,
  hoursOverlapping,
  intersect,
  lengthWithin,
  parseInstant,
  subtract,
  totalLength,
  type Interval,
} from "./time.js";
import type { DeliveredCounts, PlannerInput, Takedown } from "./types.js";

export const HOUR_MS = 3_600_000;

/** One play to place: a campaign's k-th of its period, with the window it should start in. */
export interface Demand {
  runner: Runner;
  k: number;
  period: Period;
  /** Legal window (after moves forced by hard rules). */
  from: number;
  to: number;
  /** Latest instant it may still start (end of its period's legal time). */
  expires: number;
  moveReason?: string;
  /** Why it last had to wait (separation, a barrier), for the bend or shortfall it may become. */
  why?: string;
}

export interface Period {
  runner: Runner;
  kind: "hour" | "day";
  start: number;
  end: number;
  contracted: number;
  delivered: number;
  planned: number;
  expired: number;
  /** Plays dropped before placement (oversold, no legal time), with why. */
  dropped: number;
  /** Why plays were lost, each once (a plain list: most periods never have one, and there are many periods). */
  reasons: string[];
  /** The period's active time: its `contracted` plays' contractual windows (rule 3) are even over it,
   * worked out when asked (windowStart/windowEnd), since an oversold month never asks for most. */
  active: Interval[];
  /** The k the next play placed in this period counts as: its plays are interchangeable, so the
   * i-th one placed (in time order) is judged against the i-th remaining window. */
  nextK: number;
}

/** Records why a period lost plays, once per reason. */
export function addReason(period: Period, reason: string): void {
  if (!period.reasons.includes(reason)) period.reasons.push(reason);
}

/**
 * Contracted plays of a campaign in the period [start, end) (an hour or a day), counting only its
 * part in [notBefore, notAfter): a partly covered period gets round(quota × covered active fraction).
 */
export function contracted(runner: Runner, kind: "hour" | "day", start: number, end: number, zone: string, notBefore = -Infinity, notAfter = Infinity): number {
  const c = runner.campaign;
  if (c.exclusive) return 0;
  const length = lengthWithin(runner.active, Math.max(start, notBefore), Math.min(end, notAfter));
  if (length === 0) return 0;
  if (kind === "hour") return Math.round((c.playsPerHour ?? 0) * (length / HOUR_MS));
  const dayparts = totalLength(daypartIntervals(c, start, end, zone));
  return dayparts === 0 ? 0 : Math.round((c.playsPerDay ?? 0) * (length / dayparts));
}

function deliveredIn(counts: DeliveredCounts | undefined, start: number, end: number): number {
  if (!counts) return 0;
  let n = 0;
  for (let h = start; h < end; h += HOUR_MS) n += counts.byHour.get(h) ?? 0;
  return n;
}

/** Periods (hours or days) of every quota campaign overlapping the window, with their demands. */
export function buildDemands(ctx: PlanContext, input: PlannerInput): { periods: Period[]; runs: PlayRun[] } {
  const periods: Period[] = [];
  const runs: PlayRun[] = [];
  const history = input.delivered !== undefined;
  const hours = hoursOverlapping(input.from, input.to, ctx.zone);
  const days = daysOverlapping(input.from, input.to, ctx.zone);
  for (const runner of ctx.runners) {
    const c = runner.campaign;
    if (c.exclusive) continue;
    const kind = c.playsPerHour !== undefined ? "hour" : c.playsPerDay !== undefined ? "day" : null;
    if (!kind) continue;
    const counts = input.delivered?.get(c.id);
    const count = kind === "hour" ? hours.length : days.length;
    for (let i = 0; i < count; i++) {
      const start = kind === "hour" ? hours[i] : days[i][0];
      const end = kind === "hour" ? start + HOUR_MS : days[i][1];
      const n = contracted(runner, kind, start, end, ctx.zone);
      if (n === 0) continue;
      const active = clip(runner.active, start, end);
      const delivered = deliveredIn(counts, start, end);
      const period: Period = { runner, kind, start, end, contracted: n, delivered, planned: 0, expired: 0, dropped: 0, reasons: [], active, nextK: 0 };
      periods.push(period);
      // Items start no earlier than the plan: the part of a period before `from` is history.
      const legal = clip(runner.airable, Math.max(start, input.from), end);
      const blocked = runner.airable !== runner.active && lengthWithin(runner.airable, start, end) < totalLength(active);
      // Without history, windows already past are taken as played; with it, what is missing is
      // caught up, except windows that ended before this agent applied the campaign: nothing is
      // owed for them (rule 6), and catching them up would burst plays back to back.
      const notOwed = history ? windowsNotOwed(active, n, input.from, excusedTime(runner, input)) : 0;
      const remaining = history
        ? Math.max(0, n - notOwed - period.delivered)
        : n - windowsEndedBy(active, n, input.from);
      if (remaining === 0) continue;
      if (runner.creatives.length === 0) {
        period.dropped += remaining;
        addReason(period, "no approved creative to air");
        continue;
      }
      if (totalLength(legal) === 0) {
        // The cause is what covers the rest of the period; with nothing left of it, what covered its past.
        const ahead = intersect(active, [[Math.max(start, input.from), end]]);
        const reason = ahead.length
          ? blockReason(runner, ahead, "no legal start left in this period")
          : blockReason(runner, active, "not delivered before the plan started, and no active time is left in this period");
        period.dropped += remaining;
        addReason(period, reason);
        continue;
      }
      const first = n - remaining;
      period.nextK = first;
      const expires = legal[legal.length - 1][1];
      // Untouched (no block, wholly ahead): every play keeps its contractual window, no Slot needed.
      const untouched = !blocked && start >= input.from;
      if (kind === "hour" && untouched) runs.push(PlayRun.ofContract(period, first, expires));
      else {
        const slots = slotWindows(runner, evenWindows(active, n), first, legal, input.from, untouched);
        if (kind === "hour") runs.push(PlayRun.ofSlots(period, slots, expires));
        else addDayRuns(ctx, period, slots, expires, runs);
      }
    }
  }
  return { periods, runs };
}

/**
 * When a campaign owes nothing (rule 6, rule 8): before this agent applied it, and while a
 * takedown held that has since been lifted (a standing one takes the campaign out of the plan).
 */
function excusedTime(runner: Runner, input: PlannerInput): Interval[] {
  const applied = input.appliedAt?.[runner.campaign.id];
  const lifted = takedownIntervals(runner, (input.takedowns ?? []).filter((t) => t.to !== undefined));
  return applied === undefined ? lifted : [[-Infinity, applied], ...lifted];
}

/**
 * Windows that ended, before `from`, inside excused time: their play could not be placed, and
 * is not caught up (a burst of them back to back would break rule 3 for nothing owed). A window
 * that ran on past the excused time could still take its play, and stays owed.
 */
function windowsNotOwed(active: readonly Interval[], n: number, from: number, excused: readonly Interval[]): number {
  if (excused.length === 0 || active.length === 0) return 0;
  let count = 0;
  for (let k = 0; k < n; k++) {
    const end = windowEnd(active, n, k);
    if (end > from) break;
    if (excused.some(([a, b]) => a < end && end <= b)) count++;
  }
  return count;
}

/** How many of the n windows over `active` end by t (windows end in order, so the first few). */
function windowsEndedBy(active: readonly Interval[], n: number, t: number): number {
  // Every window ends at or after its active time starts: none has ended by a t before that.
  if (active.length === 0 || active[0][0] > t) return 0;
  let k = 0;
  while (k < n && windowEnd(active, n, k) <= t) k++;
  return k;
}

/** A day's plays, made now (rule 5 counts them in the hours their windows open in), as runs per hour. */
function addDayRuns(ctx: PlanContext, period: Period, slots: readonly Slot[], expires: number, runs: PlayRun[]): void {
  const made = slots.map((slot) => demand(period.runner, slot.k, period, slot.from, slot.to, expires, slot.moveReason));
  let first = 0;
  for (let i = 1; i <= made.length; i++) {
    if (i < made.length && hourOf(ctx, made[i].from) === hourOf(ctx, made[first].from)) continue;
    runs.push(PlayRun.ofMade(period, hourOf(ctx, made[first].from), made, first, i - first));
    first = i;
  }
}

/**
 * Rule 6: plays owed from whole periods between the moment this agent applied the campaign
 * and `from`, less make-goods already delivered. No history or no applied time: nothing owed.
 */
export function owedPlays(ctx: PlanContext, input: PlannerInput, runner: Runner): number {
  const c = runner.campaign;
  const applied = input.appliedAt?.[c.id];
  if (!c.makeGood || c.exclusive || applied === undefined || !input.delivered || runner.creatives.length === 0) return 0;
  const kind = c.playsPerHour !== undefined ? "hour" : "day";
  const counts = input.delivered.get(c.id);
  const spans: Interval[] =
    kind === "hour" ? hoursOverlapping(applied, input.from, ctx.zone).map((h) => [h, h + HOUR_MS]) : daysOverlapping(applied, input.from, ctx.zone);
  const lifted = (input.takedowns ?? []).filter((t) => t.to !== undefined);
  let owed = 0;
  for (const [start, end] of spans) {
    if (end > input.from) continue; // the current period is caught up in place, not owed
    const due = contractedSince(runner, kind, start, end, ctx.zone, applied, lifted);
    if (due > 0) owed += Math.max(0, due - deliveredIn(counts, start, end));
  }
  return Math.max(0, owed - (counts?.makeGoods ?? 0));
}

function contractedSince(runner: Runner, kind: "hour" | "day", start: number, end: number, zone: string, applied: number, lifted: readonly Takedown[]): number {
  // runner.active only covers the plan's span; past periods need the flight and dayparts afresh.
  const c = runner.campaign;
  const flight = intersect(daypartIntervals(c, start, end, zone), [[Math.max(start, applied, parseInstant(c.start)), Math.min(end, parseInstant(c.end), runner.takedownAt)]]);
  const active = subtract(flight, takedownIntervals(runner, lifted));
  const length = totalLength(active);
  if (length === 0) return 0;
  if (kind === "hour") return Math.round((c.playsPerHour ?? 0) * (length / HOUR_MS));
  const dayparts = totalLength(daypartIntervals(c, start, end, zone));
  return dayparts === 0 ? 0 : Math.round((c.playsPerDay ?? 0) * (length / dayparts));
}
