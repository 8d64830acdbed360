// The placed plays (buyouts, every priority level, make-goods) are fixed in time; what is left
// between them is fill, cut short so the next play starts on time (rule 7), or black in a blackout.
import type { PlanContext, Runner } from "./context.js";
import { toIso } from "./time.js";
import type { PlanItem, PlannerInput } from "./types.js";

/** A paid play fixed on the timeline. */
export interface Placed {
  start: number;
  end: number;
  runner: Runner;
  creative: string;
  makeGood: boolean;
}

/** Two start-sorted lists of plays that never overlap, as one. */
export function mergePlaced(a: Placed[], b: Placed[]): Placed[] {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const out: Placed[] = new Array<Placed>(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = a[i].start <= b[j].start ? a[i++] : b[j++];
  while (i < a.length) out[k++] = a[i++];
  while (j < b.length) out[k++] = b[j++];
  return out;
}

// Items are built field by field in one shape (no spread of a partial object): a month has some
// 200,000 of them, and one hidden class keeps them small and their construction cheap.
function paidItem(at: number, durationMs: number, play: Placed): PlanItem {
  const c = play.runner.campaign;
  return { at: toIso(at), startMs: at, durationMs, campaign: c.id, customer: c.customer, creative: play.creative, category: play.runner.category, makeGood: play.makeGood, fill: false, blackout: false };
}

function fillItem(at: number, durationMs: number, creative: string): PlanItem {
  return { at: toIso(at), startMs: at, durationMs, campaign: "fill", customer: "fill", creative, category: null, makeGood: false, fill: true, blackout: false };
}

function blackItem(at: number, durationMs: number): PlanItem {
  return { at: toIso(at), startMs: at, durationMs, campaign: null, customer: null, creative: null, category: null, makeGood: false, fill: false, blackout: true };
}

/** Lays `placed` end to end from the plan's start to its end, with fill or black in between. */
export function timeline(ctx: PlanContext, input: PlannerInput, placed: readonly Placed[]): PlanItem[] {
  const items: PlanItem[] = [];
  let t = input.from;
  let p = 0;
  let regimeIndex = 0;
  let fillRotation = 0;
  while (t < input.to) {
    const play = placed[p];
    if (play && play.start <= t) {
      items.push(paidItem(t, play.end - t, play));
      t = play.end;
      p++;
      continue;
    }
    while (ctx.regimes[regimeIndex].to <= t) regimeIndex++;
    const regime = ctx.regimes[regimeIndex];
    const until = Math.min(regime.to, play ? play.start : Infinity);
    if (regime.kind === "blackout") {
      items.push(blackItem(t, Math.min(until, Math.max(input.to, t + 1)) - t));
      t = items[items.length - 1].startMs + items[items.length - 1].durationMs;
      continue;
    }
    // One fill piece, cut short so whatever comes at `until` starts on time.
    const end = Math.max(until, t + 1);
    let piece: PlanItem | undefined;
    for (let i = 0; i < ctx.fill.length && !piece; i++) {
      const c = ctx.fill[(fillRotation + i) % ctx.fill.length];
      if (c.takedownAt <= t) continue;
      fillRotation = (fillRotation + i + 1) % ctx.fill.length;
      piece = fillItem(t, Math.min(c.durationMs, end - t, c.takedownAt - t), c.id);
    }
    // Every fill creative taken down: black rather than a gap or an unapproved picture.
    piece ??= blackItem(t, Math.min(end, input.to) - t || 1);
    items.push(piece);
    t += piece.durationMs;
  }
  return items;
}
