// Rule 5 before any play is made. An oversold hour keeps only what fits (higher priority served in
// full first, equal priorities sharing in proportion to quota), and a month at the limits asks for
// tens of millions of plays of which a few hundred thousand fit. So demands.ts describes each
// period's plays as runs (how many fall in which hour, and their windows) and the cut below counts
// them; only the plays it keeps are made. Every sum is taken play by play, in the order the plays
// would have been made, so the floating-point arithmetic (and so the plan) is the same as making
// every play and cutting afterwards.
import type { PlanContext, Runner } from "./context.js";
import { addReason, HOUR_MS, type Demand, type Period } from "./demands.js";
import { windowEnd, windowStart, type Slot } from "./slots.js";
import type { PlannerInput } from "./types.js";

/** A demand in the one shape every demand has (why included), so the placement loop sees one hidden class. */
export function demand(runner: Runner, k: number, period: Period, from: number, to: number, expires: number, moveReason: string | undefined): Demand {
  return { runner, k, period, from, to: Math.max(to, from + 1), expires, moveReason, why: undefined };
}

/**
 * Consecutive plays of one period that fall in one hour, made only when kept. Their windows come
 * from one of: the period's contractual windows (plays first..first+count-1, nothing moved), the
 * period's slots (after moves forced by hard rules), or plays already made (a day's, which spread
 * over many hours).
 */
export class PlayRun {
  private constructor(
    readonly period: Period,
    readonly hour: number,
    readonly count: number,
    private readonly expires: number,
    private readonly first: number,
    private readonly slots: readonly Slot[] | null,
    private readonly made: readonly Demand[] | null,
  ) {}

  static ofContract(period: Period, first: number, expires: number): PlayRun {
    return new PlayRun(period, period.start, period.contracted - first, expires, first, null, null);
  }

  static ofSlots(period: Period, slots: readonly Slot[], expires: number): PlayRun {
    return new PlayRun(period, period.start, slots.length, expires, 0, slots, null);
  }

  /** Plays made[first..first+count-1], all in `hour`. */
  static ofMade(period: Period, hour: number, made: readonly Demand[], first: number, count: number): PlayRun {
    return new PlayRun(period, hour, count, 0, first, null, made);
  }

  get runner(): Runner {
    return this.period.runner;
  }

  /** Start of the i-th play's window. */
  fromOf(i: number): number {
    if (this.made) return this.made[this.first + i].from;
    if (this.slots) return this.slots[i].from;
    return windowStart(this.period.active, this.period.contracted, this.first + i);
  }

  /** End of the i-th play's window (as the made play would have it: never empty). */
  toOf(i: number): number {
    if (this.made) return this.made[this.first + i].to;
    const to = this.slots ? this.slots[i].to : windowEnd(this.period.active, this.period.contracted, this.first + i);
    return Math.max(to, this.fromOf(i) + 1);
  }

  make(i: number): Demand {
    if (this.made) return this.made[this.first + i];
    const slot = this.slots?.[i];
    if (slot) return demand(this.runner, slot.k, this.period, slot.from, slot.to, this.expires, slot.moveReason);
    const k = this.first + i;
    const { active, contracted } = this.period;
    return demand(this.runner, k, this.period, windowStart(active, contracted, k), windowEnd(active, contracted, k), this.expires, undefined);
  }

  makeAll(into: Demand[]): void {
    for (let i = 0; i < this.count; i++) into.push(this.make(i));
  }
}

/** The hour bucket rule 5 counts a play of a day in: the clock hour (from the span's start) its window opens in. */
export function hourOf(ctx: PlanContext, from: number): number {
  return Math.floor((from - ctx.span[0]) / HOUR_MS) * HOUR_MS + ctx.span[0];
}

/** Screen time the runs' plays need, summed play by play in their order (see the file's head). */
function need(runs: readonly PlayRun[]): number {
  let sum = 0;
  for (const run of runs) {
    const mean = run.runner.meanDurationMs;
    for (let i = 0; i < run.count; i++) sum += mean;
  }
  return sum;
}

/**
 * Rule 5. Where an hour's quotas need more time than it has, higher priority is served in
 * full first and equal priorities share what is left in proportion to their quotas.
 */
export function selectForCapacity(ctx: PlanContext, input: PlannerInput, runs: readonly PlayRun[]): Demand[] {
  const byHour = new Map<number, PlayRun[]>();
  for (const run of runs) {
    const list = byHour.get(run.hour);
    if (list) list.push(run);
    else byHour.set(run.hour, [run]);
  }
  const kept: Demand[] = [];
  for (const [hour, list] of byHour) {
    const capacity = normalTime(ctx, Math.max(hour, input.from), hour + HOUR_MS);
    if (need(list) <= capacity) {
      for (const run of list) run.makeAll(kept);
      continue;
    }
    let left = capacity;
    const levels = [...new Set(list.map((run) => run.runner.priority))].sort((a, b) => b - a);
    for (const level of levels) {
      const atLevel = list.filter((run) => run.runner.priority === level);
      const levelNeed = need(atLevel);
      if (levelNeed <= left) {
        for (const run of atLevel) run.makeAll(kept);
        left -= levelNeed;
        continue;
      }
      // One string per level, not per dropped play: an oversold month drops a hundred thousand.
      const reason = `oversold hour: priority ${level} shared what was left in proportion to quota`;
      left = shareInProportion(atLevel, left, kept, reason);
    }
  }
  return kept;
}

interface Share {
  runner: Runner;
  runs: PlayRun[];
  count: number;
  take: number;
  remainder: number;
}

/** Keeps each campaign's share of `capacity` (its first plays, re-spread), drops the rest; returns the time left. */
function shareInProportion(atLevel: readonly PlayRun[], capacity: number, kept: Demand[], reason: string): number {
  const byRunner = new Map<Runner, PlayRun[]>();
  for (const run of atLevel) {
    const list = byRunner.get(run.runner);
    if (list) list.push(run);
    else byRunner.set(run.runner, [run]);
  }
  const fraction = capacity / need(atLevel);
  const entries: Share[] = [...byRunner.entries()].map(([runner, runs]) => {
    const count = runs.reduce((s, run) => s + run.count, 0);
    const exact = count * fraction;
    return { runner, runs, count, take: Math.floor(exact), remainder: exact - Math.floor(exact) };
  });
  let left = capacity - entries.reduce((s, e) => s + e.take * e.runner.meanDurationMs, 0);
  // Largest remainder first, then by campaign order, so the split is deterministic.
  const order = [...entries].sort((a, b) => b.remainder - a.remainder || a.runner.index - b.runner.index);
  for (const e of order) {
    if (e.take < e.count && e.runner.meanDurationMs <= left) {
      e.take++;
      left -= e.runner.meanDurationMs;
    }
  }
  for (const e of entries) {
    keepShare(e, kept);
    dropRest(e, reason);
  }
  return left;
}

/** The campaign's first `take` plays, re-spread over the hour: m plays keep rule 3's even spacing for m. */
function keepShare(e: Share, kept: Demand[]): void {
  if (e.take === 0) return;
  const last = e.runs[e.runs.length - 1];
  const spanFrom = e.runs[0].fromOf(0);
  const spanTo = last.toOf(last.count - 1);
  const width = (spanTo - spanFrom) / e.take;
  let i = 0;
  for (const run of e.runs) {
    for (let j = 0; j < run.count && i < e.take; j++, i++) {
      const d = run.make(j);
      d.moveReason ??= "oversold: the plays kept in this hour were re-spread over it";
      d.from = Math.ceil(spanFrom + i * width);
      d.to = Math.max(d.from + 1, Math.ceil(spanFrom + (i + 1) * width));
      kept.push(d);
    }
  }
}

/** Counts the plays past the campaign's share as dropped, in the periods they belong to. */
function dropRest(e: Share, reason: string): void {
  let before = 0;
  for (const run of e.runs) {
    const dropped = run.count - Math.max(0, Math.min(run.count, e.take - before));
    before += run.count;
    if (dropped === 0) continue;
    run.period.dropped += dropped;
    addReason(run.period, reason);
  }
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
