// Lays the plays end to end from `from` to `to`. At each instant: the regime decides (buyout,
// fill only, blackout); in normal time the most urgent waiting play that may legally start
// goes next (earliest window end, then priority); failing that a make-good uses the spare
// time; failing that fill runs up to the next thing that must start on time.
import { conflicts, SEPARATOR_MS, type PlanContext, type Runner, type RunnerCreative } from "./context.js";
import { HOUR_MS, type Demand } from "./demands.js";
import { MinHeap } from "./heap.js";
import { PriorityGuard } from "./priority.js";
import { containing, nextInside, toIso } from "./time.js";
import type { Bend, PlanItem, PlannerInput } from "./types.js";

export { SEPARATOR_MS };

export interface Placement {
  items: PlanItem[];
  bends: Bend[];
  makeGoodsPlanned: Map<Runner, number>;
}

interface Barrier {
  at: number;
  /** Where the campaign may start again once the barrier is passed. */
  resume: number;
}

function barrierFor(r: Runner, t: number): Barrier {
  let at = r.takedownAt;
  let resume = Infinity;
  for (const b of r.blocks) {
    if (b.from <= t) continue;
    const gap = b.exclusiveOf && conflicts(r, b.exclusiveOf) ? SEPARATOR_MS : 0;
    if (b.from - gap < at) {
      at = b.from - gap;
      resume = nextInside(r.airable, b.to);
    }
    break;
  }
  return { at, resume };
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
  if (a.runner.priority !== b.runner.priority) return a.runner.priority > b.runner.priority;
  if (a.runner.index !== b.runner.index) return a.runner.index < b.runner.index;
  return a.k < b.k;
};

export function place(ctx: PlanContext, input: PlannerInput, demands: Demand[], owed: Map<Runner, number>): Placement {
  const items: PlanItem[] = [];
  const bends: Bend[] = [];
  const makeGoodsPlanned = new Map<Runner, number>();
  const makeGoodsInHour = new Map<Runner, { hour: number; n: number }>();
  const owedRunners = [...owed.keys()].sort((a, b) => b.priority - a.priority || a.index - b.index);
  const pending = [...demands].sort((a, b) => a.from - b.from || a.runner.index - b.runner.index || a.k - b.k);
  const waiting = new MinHeap<Demand>(moreUrgent);
  let next = 0;
  let t = input.from;
  let prev: Runner | null = ctx.runners.find((r) => r.campaign.id === input.previousCampaign) ?? null;
  let regimeIndex = 0;
  let fillRotation = 0;
  const hourOf = (ms: number): number => ctx.span[0] + Math.floor((ms - ctx.span[0]) / HOUR_MS) * HOUR_MS;
  const guard = new PriorityGuard(ctx, demands);
  const release = (d: Demand): void => {
    guard.release(d);
    waiting.push(d);
  };

  const push = (r: Runner | null, creative: string | null, durationMs: number, extra: Partial<PlanItem> = {}): void => {
    items.push({
      at: toIso(t),
      startMs: t,
      durationMs,
      campaign: r ? r.campaign.id : null,
      customer: r ? r.campaign.customer : null,
      creative,
      category: r ? r.category : null,
      makeGood: false,
      fill: false,
      blackout: false,
      ...extra,
    });
    t += durationMs;
    prev = r;
  };

  // One fill piece, cut short so whatever comes at `until` starts on time (rule 7).
  const fillPiece = (until: number): void => {
    const end = Math.max(until, t + 1);
    const n = ctx.fill.length;
    for (let i = 0; i < n; i++) {
      const c = ctx.fill[(fillRotation + i) % n];
      if (c.takedownAt <= t) continue;
      fillRotation = (fillRotation + i + 1) % n;
      const length = Math.min(c.durationMs, end - t, c.takedownAt - t);
      push(null, c.id, length, { campaign: "fill", customer: "fill", fill: true });
      return;
    }
    // Every fill creative taken down: black rather than a gap or an unapproved picture.
    push(null, null, Math.min(end, input.to) - t || 1, { blackout: true });
  };

  // Rule 6 uses spare time: a make-good may delay the next plays, but only within their windows
  // (checked as if each needed a separator and its longest creative).
  const laterPlaysKeepWindows = (end: number): boolean => {
    const horizon = end + HOUR_MS;
    const queue: Demand[] = [];
    let cursor = end + SEPARATOR_MS;
    let i = next;
    while (cursor < horizon) {
      while (i < pending.length && pending[i].from < cursor) queue.push(pending[i++]);
      if (queue.length === 0) return true;
      let best = 0;
      for (let j = 1; j < queue.length; j++) if (queue[j].to < queue[best].to) best = j;
      const d = queue.splice(best, 1)[0];
      if (cursor >= d.to) return false;
      cursor += d.runner.longestMs + SEPARATOR_MS;
    }
    return true;
  };

  /** Places one make-good if one fits; "separate" when one only waits for a separator (rule 4). */
  const tryMakeGood = (gapEnd: number): "placed" | "separate" | "none" => {
    const hour = hourOf(t);
    let separate = false;
    for (const r of owedRunners) {
      if ((owed.get(r) ?? 0) <= 0 || !containing(r.airable, t)) continue;
      const cap = r.campaign.playsPerHour ?? Math.max(1, Math.ceil((r.campaign.playsPerDay ?? 0) / 24));
      const used = makeGoodsInHour.get(r);
      const n = used && used.hour === hour ? used.n : 0;
      if (n >= cap) continue;
      if (conflicts(prev, r)) {
        separate = true;
        continue;
      }
      const rotation = r.rotation;
      const creative = pickCreative(r, t, Math.min(gapEnd, barrierFor(r, t).at));
      if (!creative) continue;
      if (!laterPlaysKeepWindows(t + creative.durationMs)) {
        r.rotation = rotation;
        continue;
      }
      makeGoodsInHour.set(r, { hour, n: n + 1 });
      owed.set(r, (owed.get(r) ?? 0) - 1);
      makeGoodsPlanned.set(r, (makeGoodsPlanned.get(r) ?? 0) + 1);
      push(r, creative.id, creative.durationMs, { makeGood: true });
      return "placed";
    }
    return separate ? "separate" : "none";
  };

  while (t < input.to) {
    while (ctx.regimes[regimeIndex].to <= t) regimeIndex++;
    const regime = ctx.regimes[regimeIndex];
    if (regime.kind === "blackout") {
      push(null, null, Math.min(regime.to, Math.max(input.to, t + 1)) - t, { blackout: true });
      continue;
    }
    if (regime.kind === "exclusive" && regime.exclusive) {
      // Rule 1: the buyer's creatives back to back; the last may run past the buyout's end, but
      // never into a suspension, a blackout or the buyer's own takedown.
      const x = regime.exclusive;
      const stop = ctx.regimes.find((r, i) => i > regimeIndex && (r.kind === "fill" || r.kind === "blackout"));
      const creative = pickCreative(x, t, Math.min(stop ? stop.from : Infinity, x.takedownAt));
      if (creative) {
        push(x, creative.id, creative.durationMs);
        continue;
      }
    }
    if (regime.kind !== "normal") {
      fillPiece(regime.to);
      continue;
    }
    while (next < pending.length && pending[next].from <= t) release(pending[next++]);
    const aside: Demand[] = [];
    let chosen: { demand: Demand; creative: RunnerCreative } | undefined;
    let wake = Infinity;
    let separationWait = false;
    while (waiting.size > 0 && !chosen) {
      const d = waiting.pop() as Demand;
      const r = d.runner;
      if (t >= d.expires) {
        d.period.expired++;
        d.period.reasons.add(d.moveReason ?? d.why ?? "no room: the time went to other plays");
        guard.settle(d);
        continue;
      }
      aside.push(d);
      if (!containing(r.airable, t)) {
        wake = Math.min(wake, nextInside(r.airable, t));
        continue;
      }
      if (conflicts(prev, r)) {
        separationWait = true;
        d.why = `separation from ${prev?.campaign.id}`;
        continue;
      }
      const barrier = barrierFor(r, t);
      const rotation = r.rotation;
      const creative = pickCreative(r, t, barrier.at);
      if (!creative) {
        wake = Math.min(wake, barrier.resume);
        d.why = "no creative fits before the next stop";
        continue;
      }
      if (!guard.leavesRoom(d, t, t + creative.durationMs)) {
        r.rotation = rotation;
        d.why = "oversold: higher priority plays needed the time";
        continue;
      }
      aside.pop();
      chosen = { demand: d, creative };
    }
    for (const d of aside) waiting.push(d);
    if (chosen) {
      const { demand: d, creative } = chosen;
      const [contractFrom, contractTo] = d.period.contract[d.period.nextK++];
      if (t < contractFrom || t >= contractTo) {
        // The root cause first: a hard rule took its window; else what it last waited for.
        const reason = d.moveReason ?? d.why ?? (t >= contractTo ? "busy: earlier plays ran into its window" : "early: its period's plays were re-spread");
        bends.push({ campaign: d.runner.campaign.id, at: toIso(t), windowFrom: toIso(contractFrom), windowTo: toIso(contractTo), reason });
      }
      d.period.planned++;
      guard.settle(d);
      push(d.runner, creative.id, creative.durationMs);
      continue;
    }
    const nextRelease = next < pending.length ? pending[next].from : Infinity;
    const makeGood = separationWait ? "none" : tryMakeGood(Math.min(regime.to, wake, hourOf(t) + HOUR_MS));
    if (makeGood === "placed") continue;
    let until = Math.min(nextRelease, regime.to, wake);
    if (separationWait || makeGood === "separate") until = Math.min(until, t + SEPARATOR_MS);
    fillPiece(until);
  }
  for (const d of [...waiting.drain(), ...pending.slice(next)]) {
    if (d.expires > input.to) continue; // may still play after the window: not a shortfall yet
    d.period.expired++;
    d.period.reasons.add(d.moveReason ?? d.why ?? "no room: the time went to other plays");
  }
  return { items, bends, makeGoodsPlanned };
}
