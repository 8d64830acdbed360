// Lays the plays, one layer at a time, so rule 5 is exact: first the buyouts (rule 1), then each
// priority level from the highest down into the time the levels above left free, then make-goods
// into what is still spare (rule 6), then fill. A lower level can never delay or displace a higher
// one, so every level gets exactly what it would get if the levels below it did not exist. Within a
// level the most urgent waiting play that may legally start goes next (earliest window end).
// Each layer is one forward sweep over the window that skips over the plays already laid.
import { conflicts, SEPARATOR_MS, type PlanContext, type Runner, type RunnerCreative } from "./context.js";
import { addReason, HOUR_MS, type Demand } from "./demands.js";
import { MinHeap } from "./heap.js";
import { windowEnd, windowStart } from "./slots.js";
import { containing, nextInside, toIso } from "./time.js";
import { mergePlaced, timeline, type Placed } from "./timeline.js";
import type { Bend, PlanItem, PlannerInput } from "./types.js";

export { SEPARATOR_MS };

export interface Placement {
  items: PlanItem[];
  bends: Bend[];
  makeGoodsPlanned: Map<Runner, number>;
}

/** The first of the runner's blocks (sorted by start) that starts after t, by binary search. */
function firstBlockAfter(r: Runner, t: number): number {
  let lo = 0;
  let hi = r.blocks.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (r.blocks[mid].from <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The latest end for a play of r started at t: its next block (less a separator before a
 * conflicting buyout) or its takedown. Asked for every play tried, so it allocates nothing. */
function barrierAt(r: Runner, t: number): number {
  const b = r.blocks[firstBlockAfter(r, t)];
  if (!b) return r.takedownAt;
  const gap = b.exclusiveOf && conflicts(r, b.exclusiveOf) ? SEPARATOR_MS : 0;
  return Math.min(b.from - gap, r.takedownAt);
}

/** Where r may start again once the barrier after t is passed (Infinity after its takedown). */
function resumeAfterBarrier(r: Runner, t: number): number {
  const b = r.blocks[firstBlockAfter(r, t)];
  if (!b) return Infinity;
  const gap = b.exclusiveOf && conflicts(r, b.exclusiveOf) ? SEPARATOR_MS : 0;
  return b.from - gap < r.takedownAt ? nextInside(r.airable, b.to) : Infinity;
}

function pickCreative(r: Runner, t: number, endBy: number): RunnerCreative | undefined {
  const n = r.creatives.length;
  for (let i = 0; i < n; i++) {
    const index = (r.rotation + i) % n;
    const c = r.creatives[index];
    const end = t + c.durationMs;
    if (end <= endBy && end <= c.takedownAt) {
      r.rotation = (index + 1) % n;
      return c;
    }
  }
  return undefined;
}

const moreUrgent = (a: Demand, b: Demand): boolean => {
  if (a.to !== b.to) return a.to < b.to;
  if (a.runner.index !== b.runner.index) return a.runner.index < b.runner.index;
  return a.k < b.k;
};

/**
 * Walks the free time between plays already laid. At `t` it says whether t is free, and if so
 * until when (the next laid play or the regime's end) and which campaign plays right after.
 */
class FreeTime {
  private p = 0;
  private regimeIndex = 0;
  /** The campaign on screen just before t (null after fill). */
  prev: Runner | null;
  gapEnd = 0;
  /** The campaign of the laid play at gapEnd, if the gap ends at one. */
  nextRunner: Runner | null = null;
  /** Whether the gap ends at another level's paid play (not a regime change). */
  endsAtPlay = false;

  constructor(
    private readonly ctx: PlanContext,
    private readonly laid: readonly Placed[],
    first: Runner | null,
  ) {
    this.prev = first;
  }

  /** Moves t past laid plays and unplayable regimes; returns the free instant reached. */
  settle(t: number): number {
    for (;;) {
      while (this.p < this.laid.length && this.laid[this.p].end <= t) this.p++;
      const play = this.laid[this.p];
      if (play && play.start <= t) {
        this.prev = play.runner;
        t = play.end;
        continue;
      }
      while (this.ctx.regimes[this.regimeIndex].to <= t) this.regimeIndex++;
      const regime = this.ctx.regimes[this.regimeIndex];
      if (regime.kind !== "normal") {
        this.prev = null;
        t = regime.to;
        if (t === Infinity) return t;
        continue;
      }
      this.endsAtPlay = play !== undefined && play.start <= regime.to;
      this.gapEnd = this.endsAtPlay ? play.start : regime.to;
      this.nextRunner = this.endsAtPlay ? play.runner : null;
      return t;
    }
  }

  /** The latest end for a play of `r` starting in this gap (a separator before a conflicting next play). */
  endBy(r: Runner): number {
    return this.gapEnd - (conflicts(r, this.nextRunner) ? SEPARATOR_MS : 0);
  }
}

/** Rule 1: the buyer's creatives back to back; the last may run past the buyout's end, but never
 * into a suspension, a blackout or the buyer's own takedown. */
function layBuyouts(ctx: PlanContext, input: PlannerInput): Placed[] {
  const out: Placed[] = [];
  let t = input.from;
  ctx.regimes.forEach((regime, i) => {
    const x = regime.exclusive;
    if (regime.kind !== "exclusive" || !x || regime.to <= input.from) return;
    const stop = ctx.regimes.find((r, j) => j > i && (r.kind === "fill" || r.kind === "blackout"));
    const endBy = Math.min(stop ? stop.from : Infinity, x.takedownAt);
    t = Math.max(t, regime.from, input.from);
    while (t < regime.to && t < input.to) {
      const creative = pickCreative(x, t, endBy);
      if (!creative) break;
      out.push({ start: t, end: t + creative.durationMs, runner: x, creative: creative.id, makeGood: false });
      t += creative.durationMs;
    }
  });
  return out;
}

function expire(d: Demand): void {
  d.period.expired++;
  addReason(d.period, d.moveReason ?? d.why ?? "no room: the time went to other plays");
}

/** The shortest creative of any campaign with a play in the list (a loop: the list may hold millions). */
function shortestCreative(demands: readonly Demand[]): number {
  let shortest = Infinity;
  let last: Runner | undefined;
  for (const d of demands) {
    if (d.runner === last) continue;
    last = d.runner;
    for (const c of d.runner.creatives) shortest = Math.min(shortest, c.durationMs);
  }
  return shortest;
}

/** One priority level's plays, laid into the free time between `laid`. */
function layLevel(ctx: PlanContext, input: PlannerInput, demands: Demand[], laid: readonly Placed[], first: Runner | null, bends: Bend[], makeGoods: MakeGoods | null): Placed[] {
  const out: Placed[] = [];
  const pending = [...demands].sort((a, b) => a.from - b.from || a.runner.index - b.runner.index || a.k - b.k);
  const shortest = makeGoods ? 1 : shortestCreative(demands);
  const waiting = new MinHeap<Demand>(moreUrgent);
  const free = new FreeTime(ctx, laid, first);
  // Within one step every waiting play of a campaign meets the same checks (legal time,
  // separation, barrier, creative fit): the first one's outcome, and the reason it leaves,
  // stand for the rest, so an oversold hour's backlog costs one check per campaign, not per play.
  const triedStep = new Float64Array(ctx.runners.length).fill(-1);
  const triedWhy: (string | undefined)[] = new Array<string | undefined>(ctx.runners.length);
  let step = 0;
  // The plays looked at and passed over in a step, put back after it (one list for every step).
  const aside: Demand[] = [];
  let next = 0;
  let t = free.settle(input.from);
  while (t < input.to && (next < pending.length || waiting.size > 0 || makeGoods?.pending)) {
    step++;
    while (next < pending.length && pending[next].from <= t) waiting.push(pending[next++]);
    const nextRelease = next < pending.length ? pending[next].from : Infinity;
    if (free.gapEnd - t < shortest) {
      // Nothing of this level fits before the next laid play: skip the gap without asking each play.
      t = free.settle(free.gapEnd);
      continue;
    }
    aside.length = 0;
    let chosen: { demand: Demand; creative: RunnerCreative } | undefined;
    let wake = Infinity;
    let separationWait = false;
    while (waiting.size > 0 && !chosen) {
      const d = waiting.pop() as Demand;
      const r = d.runner;
      if (t >= d.expires) {
        expire(d);
        continue;
      }
      aside.push(d);
      if (triedStep[r.index] === step) {
        const why = triedWhy[r.index];
        if (why !== undefined) d.why = why;
        continue;
      }
      triedStep[r.index] = step;
      triedWhy[r.index] = undefined;
      if (!containing(r.airable, t)) {
        wake = Math.min(wake, nextInside(r.airable, t));
        continue;
      }
      if (conflicts(free.prev, r)) {
        separationWait = true;
        d.why = triedWhy[r.index] = `separation from ${free.prev?.campaign.id}`;
        continue;
      }
      const barrier = barrierAt(r, t);
      const creative = pickCreative(r, t, Math.min(barrier, free.endBy(r)));
      if (!creative) {
        if (barrier <= free.endBy(r)) {
          wake = Math.min(wake, resumeAfterBarrier(r, t));
          d.why = triedWhy[r.index] = "no creative fits before the next stop";
        } else if (free.endsAtPlay) {
          d.why = triedWhy[r.index] = "oversold: higher priority plays needed the time";
        }
        continue;
      }
      aside.pop();
      chosen = { demand: d, creative };
    }
    for (const d of aside) waiting.push(d);
    if (chosen) {
      const { demand: d, creative } = chosen;
      recordBend(d, t, bends);
      d.period.planned++;
      out.push({ start: t, end: t + creative.durationMs, runner: d.runner, creative: creative.id, makeGood: false });
      free.prev = d.runner;
      t = free.settle(t + creative.durationMs);
      continue;
    }
    const extra = separationWait || !makeGoods ? undefined : makeGoods.tryAt(t, free, Math.min(wake, free.gapEnd), (end) => laterPlaysKeepWindows(end, pending, next, laid));
    if (extra && extra !== "separate") {
      out.push(extra);
      free.prev = extra.runner;
      t = free.settle(extra.end);
      continue;
    }
    if (waiting.size === 0 && nextRelease === Infinity && !makeGoods?.pending) break;
    // Fill until something changes: a play comes due, a campaign may start again, the gap ends.
    let until = Math.min(nextRelease, wake, free.gapEnd);
    if (makeGoods?.pending) until = Math.min(until, makeGoods.hourEnd(t));
    if (separationWait || extra === "separate") until = Math.min(until, t + SEPARATOR_MS);
    free.prev = null;
    t = free.settle(until);
  }
  for (const d of [...waiting.drain(), ...pending.slice(next)]) {
    if (d.expires > input.to) continue; // may still play after the window: not a shortfall yet
    expire(d);
  }
  return out;
}

/** The i-th play of a period placed (in time order) is judged against its i-th remaining window. */
function recordBend(d: Demand, t: number, bends: Bend[]): void {
  const k = d.period.nextK++;
  const contractFrom = windowStart(d.period.active, d.period.contracted, k);
  const contractTo = windowEnd(d.period.active, d.period.contracted, k);
  if (t >= contractFrom && t < contractTo) return;
  // The root cause first: a hard rule took its window; else what it last waited for.
  const reason = d.moveReason ?? d.why ?? (t >= contractTo ? "busy: earlier plays ran into its window" : "early: its period's plays were re-spread");
  bends.push({ campaign: d.runner.campaign.id, at: toIso(t), windowFrom: toIso(contractFrom), windowTo: toIso(contractTo), reason });
}

/** Rule 6: owed plays in spare time, earliest first, at most the campaign's own rate per hour. */
class MakeGoods {
  private readonly runners: Runner[];
  private readonly inHour = new Map<Runner, { hour: number; n: number }>();

  constructor(
    private readonly ctx: PlanContext,
    private readonly owed: Map<Runner, number>,
    readonly planned: Map<Runner, number>,
  ) {
    this.runners = [...owed.keys()].sort((a, b) => b.priority - a.priority || a.index - b.index);
  }

  get pending(): boolean {
    return this.runners.some((r) => (this.owed.get(r) ?? 0) > 0);
  }

  hourEnd(t: number): number {
    return this.ctx.span[0] + (Math.floor((t - this.ctx.span[0]) / HOUR_MS) + 1) * HOUR_MS;
  }

  /** One make-good at t if one fits (and `keeps` agrees), "separate" when one only waits for a separator. */
  tryAt(t: number, free: FreeTime, endBy: number, keeps: (end: number) => boolean): Placed | "separate" | undefined {
    const hour = this.hourEnd(t);
    let separate = false;
    for (const r of this.runners) {
      if ((this.owed.get(r) ?? 0) <= 0 || !containing(r.airable, t)) continue;
      const cap = r.campaign.playsPerHour ?? Math.max(1, Math.ceil((r.campaign.playsPerDay ?? 0) / 24));
      const used = this.inHour.get(r);
      const n = used && used.hour === hour ? used.n : 0;
      if (n >= cap) continue;
      if (conflicts(free.prev, r)) {
        separate = true;
        continue;
      }
      const rotation = r.rotation;
      const creative = pickCreative(r, t, Math.min(endBy, free.endBy(r), barrierAt(r, t), hour));
      if (!creative) continue;
      if (!keeps(t + creative.durationMs)) {
        r.rotation = rotation;
        continue;
      }
      this.inHour.set(r, { hour, n: n + 1 });
      this.owed.set(r, (this.owed.get(r) ?? 0) - 1);
      this.planned.set(r, (this.planned.get(r) ?? 0) + 1);
      return { start: t, end: t + creative.durationMs, runner: r, creative: creative.id, makeGood: true };
    }
    return separate ? "separate" : undefined;
  }
}

/**
 * Whether the level's plays due after `end` still start inside their windows if a make-good ends
 * there (each taken as its longest creative after a separator, skipping the plays laid above).
 */
function laterPlaysKeepWindows(end: number, pending: readonly Demand[], next: number, laid: readonly Placed[]): boolean {
  const horizon = end + HOUR_MS;
  const queue: Demand[] = [];
  let cursor = end + SEPARATOR_MS;
  let i = next;
  let p = 0;
  while (p < laid.length && laid[p].end <= end) p++;
  while (cursor < horizon) {
    while (p < laid.length && laid[p].start < cursor + SEPARATOR_MS) cursor = Math.max(cursor, laid[p++].end + SEPARATOR_MS);
    while (i < pending.length && pending[i].from < cursor) queue.push(pending[i++]);
    if (queue.length === 0) return true;
    let best = 0;
    for (let j = 1; j < queue.length; j++) if (queue[j].to < queue[best].to) best = j;
    const d = queue.splice(best, 1)[0];
    const r = d.runner;
    // It waits for its campaign's legal time, and must fit before the next stop (a buyout, a
    // suspension): starting inside its window is not enough if its creative would run into one.
    const start = Math.max(cursor, nextInside(r.airable, cursor));
    if (start >= d.to || start + r.longestMs > barrierAt(r, start)) return false;
    cursor = start + r.longestMs + SEPARATOR_MS;
  }
  return true;
}

export function place(ctx: PlanContext, input: PlannerInput, demands: Demand[], owed: Map<Runner, number>): Placement {
  const bends: Bend[] = [];
  const makeGoodsPlanned = new Map<Runner, number>();
  const first = ctx.runners.find((r) => r.campaign.id === input.previousCampaign) ?? null;
  const byLevel = new Map<number, Demand[]>();
  for (const d of demands) {
    const list = byLevel.get(d.runner.priority);
    if (list) list.push(d);
    else byLevel.set(d.runner.priority, [d]);
  }
  const makeGoods = new MakeGoods(ctx, owed, makeGoodsPlanned);
  let laid = layBuyouts(ctx, input);
  const levels = [...byLevel.keys()].sort((a, b) => b - a);
  // Make-goods go with the lowest level: they may delay its plays within their windows, but they
  // never take time a higher level laid.
  if (levels.length === 0) levels.push(-Infinity);
  levels.forEach((level, i) => {
    const last = i === levels.length - 1;
    laid = mergePlaced(laid, layLevel(ctx, input, byLevel.get(level) ?? [], laid, first, bends, last ? makeGoods : null));
  });
  bends.sort((a, b) => a.at.localeCompare(b.at) || a.campaign.localeCompare(b.campaign));
  return { items: timeline(ctx, input, laid), bends, makeGoodsPlanned };
}
