// Rules 3, 5 and 6 as numbers: how many plays each campaign is owed in each hour or day, the
// window each one should start in, which survive an oversold hour, and what is owed from the past.
import type { PlanContext, Runner } from "./context.js";
import { blockReason, evenWindows, slotWindows } from "./slots.js";
import {
  clip,
  daypartIntervals,
  daysOverlapping,
  hoursOverlapping,
  intersect,
  lengthWithin,
  parseInstant,
  totalLength,
  type Interval,
} from "./time.js";
import type { DeliveredCounts, PlannerInput } from "./types.js";

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
  /** Contractual windows (rule 3), for reporting bends. */
  contract: Interval[];
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

/** A demand in the one shape every demand has (why included), so the placement loop sees one hidden class. */
function demand(runner: Runner, k: number, period: Period, from: number, to: number, expires: number, moveReason: string | undefined): Demand {
  return { runner, k, period, from, to: Math.max(to, from + 1), expires, moveReason, why: undefined };
}

/** Periods (hours or days) of every quota campaign overlapping the window, with their demands. */
export function buildDemands(ctx: PlanContext, input: PlannerInput): { periods: Period[]; demands: Demand[] } {
  const periods: Period[] = [];
  const demands: Demand[] = [];
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
      const contract = evenWindows(active, n);
      const delivered = deliveredIn(counts, start, end);
      const period: Period = { runner, kind, start, end, contracted: n, delivered, planned: 0, expired: 0, dropped: 0, reasons: [], contract, nextK: 0 };
      periods.push(period);
      // Items start no earlier than the plan: the part of a period before `from` is history.
      const legal = clip(runner.airable, Math.max(start, input.from), end);
      const blocked = runner.airable !== runner.active && lengthWithin(runner.airable, start, end) < totalLength(active);
      // Without history, windows already past are taken as played; with it, what is missing is caught up.
      const remaining = history
        ? Math.max(0, n - period.delivered)
        : contract.filter(([, to]) => to > input.from).length;
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
      if (!blocked && start >= input.from) {
        // Untouched (no block, wholly ahead): every play keeps its contractual window, no Slot needed.
        for (let k = first; k < n; k++) demands.push(demand(runner, k, period, contract[k][0], contract[k][1], expires, undefined));
        continue;
      }
      for (const slot of slotWindows(runner, contract, first, legal, input.from, false)) {
        demands.push(demand(runner, slot.k, period, slot.from, slot.to, expires, slot.moveReason));
      }
    }
  }
  return { periods, demands };
}

/**
 * Rule 5. Where an hour's quotas need more time than it has, higher priority is served in
 * full first and equal priorities share what is left in proportion to their quotas.
 */
export function selectForCapacity(ctx: PlanContext, input: PlannerInput, demands: Demand[]): Demand[] {
  const byHour = new Map<number, Demand[]>();
  for (const d of demands) {
    const hour = d.period.kind === "hour" ? d.period.start : Math.floor((d.from - ctx.span[0]) / HOUR_MS) * HOUR_MS + ctx.span[0];
    const list = byHour.get(hour);
    if (list) list.push(d);
    else byHour.set(hour, [d]);
  }
  const kept: Demand[] = [];
  for (const [hour, list] of byHour) {
    const capacity = normalTime(ctx, Math.max(hour, input.from), hour + HOUR_MS);
    const need = list.reduce((s, d) => s + d.runner.meanDurationMs, 0);
    if (need <= capacity) {
      for (const d of list) kept.push(d);
      continue;
    }
    let left = capacity;
    const levels = [...new Set(list.map((d) => d.runner.priority))].sort((a, b) => b - a);
    for (const level of levels) {
      const atLevel = list.filter((d) => d.runner.priority === level);
      const levelNeed = atLevel.reduce((s, d) => s + d.runner.meanDurationMs, 0);
      if (levelNeed <= left) {
        for (const d of atLevel) kept.push(d);
        left -= levelNeed;
        continue;
      }
      const share = shareInProportion(atLevel, left);
      for (const d of share.kept) kept.push(d);
      // One string per level, not per dropped play: an oversold month drops a hundred thousand.
      const reason = `oversold hour: priority ${level} shared what was left in proportion to quota`;
      for (const d of share.dropped) {
        d.period.dropped++;
        addReason(d.period, reason);
      }
      left = share.left;
    }
  }
  return kept;
}

function shareInProportion(atLevel: Demand[], capacity: number): { kept: Demand[]; dropped: Demand[]; left: number } {
  const byRunner = new Map<Runner, Demand[]>();
  for (const d of atLevel) {
    const list = byRunner.get(d.runner);
    if (list) list.push(d);
    else byRunner.set(d.runner, [d]);
  }
  const total = atLevel.reduce((s, d) => s + d.runner.meanDurationMs, 0);
  const fraction = capacity / total;
  const entries = [...byRunner.entries()].map(([runner, list]) => {
    const exact = list.length * fraction;
    return { runner, list, take: Math.floor(exact), remainder: exact - Math.floor(exact) };
  });
  let left = capacity - entries.reduce((s, e) => s + e.take * e.runner.meanDurationMs, 0);
  // Largest remainder first, then by campaign order, so the split is deterministic.
  const order = [...entries].sort((a, b) => b.remainder - a.remainder || a.runner.index - b.runner.index);
  for (const e of order) {
    if (e.take < e.list.length && e.runner.meanDurationMs <= left) {
      e.take++;
      left -= e.runner.meanDurationMs;
    }
  }
  const kept: Demand[] = [];
  const dropped: Demand[] = [];
  for (const e of entries) {
    // Respread the survivors over the hour: m plays keep rule 3's even spacing for m.
    const survivors = e.list.slice(0, e.take);
    const span = survivors.length ? [e.list[0].from, e.list[e.list.length - 1].to] : [0, 0];
    survivors.forEach((d, i) => {
      d.moveReason ??= "oversold: the plays kept in this hour were re-spread over it";
      const width = (span[1] - span[0]) / survivors.length;
      d.from = Math.ceil(span[0] + i * width);
      d.to = Math.max(d.from + 1, Math.ceil(span[0] + (i + 1) * width));
    });
    for (const d of survivors) kept.push(d);
    for (let i = e.take; i < e.list.length; i++) dropped.push(e.list[i]);
  }
  return { kept, dropped, left };
}

/** Time in [from, to) where normal paid content may play (no buyout, suspension or blackout). */
export function normalTime(ctx: PlanContext, from: number, to: number): number {
  let sum = 0;
  for (const r of ctx.regimes) {
    if (r.kind !== "normal") continue;
    sum += Math.max(0, Math.min(to, r.to) - Math.max(from, r.from));
  }
  return sum;
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
  let owed = 0;
  for (const [start, end] of spans) {
    if (end > input.from) continue; // the current period is caught up in place, not owed
    const due = contractedSince(runner, kind, start, end, ctx.zone, applied);
    if (due > 0) owed += Math.max(0, due - deliveredIn(counts, start, end));
  }
  return Math.max(0, owed - (counts?.makeGoods ?? 0));
}

function contractedSince(runner: Runner, kind: "hour" | "day", start: number, end: number, zone: string, applied: number): number {
  // runner.active only covers the plan's span; past periods need the flight and dayparts afresh.
  const c = runner.campaign;
  const active = intersect(daypartIntervals(c, start, end, zone), [[Math.max(start, applied, parseInstant(c.start)), Math.min(end, parseInstant(c.end), runner.takedownAt)]]);
  const length = totalLength(active);
  if (length === 0) return 0;
  if (kind === "hour") return Math.round((c.playsPerHour ?? 0) * (length / HOUR_MS));
  const dayparts = totalLength(daypartIntervals(c, start, end, zone));
  return dayparts === 0 ? 0 : Math.round((c.playsPerDay ?? 0) * (length / dayparts));
}
