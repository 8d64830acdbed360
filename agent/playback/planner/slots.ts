// Rule 3's windows for the plays a period still has to place. A play whose contractual window
// still has legal time keeps that window. Rule 3 bends only where a hard rule forces it: a play
// whose window has no legal time left (a suspension, a buyout, or a window already past and being
// caught up) moves next to the nearest window that has legal time, and shares that window's legal
// part with its play, evenly and in order. So the k-th play (in time order) of every other window
// still starts in [k·T/n, (k+1)·T/n) of the period's active time, and moved plays never bunch up
// far from their own slot (the start of the day, say).
import { conflicts, SEPARATOR_MS, type Runner } from "./context.js";
import { containing, intersect, pointAt, type Interval } from "./time.js";

/** The window a play should start in (after moves forced by hard rules), and why it moved. */
export interface Slot {
  k: number;
  from: number;
  to: number;
  moveReason?: string;
}

export const CATCH_UP_REASON = "catch-up: not delivered earlier in this period";

/** Start of the k-th of n even windows over the intervals (rule 3: [k/n, (k+1)/n) of the time). */
export function windowStart(list: readonly Interval[], n: number, k: number): number {
  return Math.ceil(pointAt(list, k / n));
}

/** End of the k-th of n even windows; one end at a time, since most periods never need their list. */
export function windowEnd(list: readonly Interval[], n: number, k: number): number {
  return Math.ceil(pointAt(list, (k + 1) / n));
}

/** Lays n windows evenly over the intervals (rule 3: the k-th in [k/n, (k+1)/n) of the time). */
export function evenWindows(list: readonly Interval[], n: number): Interval[] {
  const out: Interval[] = [];
  for (let k = 0; k < n; k++) out.push([windowStart(list, n, k), windowEnd(list, n, k)]);
  return out;
}

/** Whether a play can start somewhere in `list` and still end before the stop (block or takedown) that may cut it off. */
export function startable(runner: Runner, list: readonly Interval[]): boolean {
  const shortest = Math.min(...runner.creatives.map((c) => c.durationMs));
  return list.some(([a, b]) => {
    if (b !== runner.takedownAt && (containing(runner.active, b) === undefined || containing(runner.airable, b) !== undefined)) return b > a;
    const block = runner.blocks.find((x) => x.from === b);
    const gap = block?.exclusiveOf && conflicts(runner, block.exclusiveOf) ? SEPARATOR_MS : 0;
    return b - a >= shortest + gap;
  });
}

/** The first block (suspension, blackout, buyout) over any of `within`, or the fallback. */
export function blockReason(runner: Runner, within: readonly Interval[], fallback = "no legal start"): string {
  for (const b of runner.blocks) if (intersect(within, [[b.from, b.to]]).length > 0) return b.reason;
  return fallback;
}

/** Why the play of `window` has no legal time left: caught up, or the block over what is left of it. */
function displacedReason(runner: Runner, window: Interval, planFrom: number): string {
  if (window[1] <= planFrom) return CATCH_UP_REASON;
  return blockReason(runner, intersect(runner.active, [[Math.max(window[0], planFrom), window[1]]]), "no legal start in its window");
}

/**
 * Windows for plays k = first..n-1 of a period with contractual windows `contract`, where items
 * may start in `legal` (airable time of the period from the plan's start on). `untouched`: the
 * period has no block and starts inside the plan, so every play keeps its contractual window.
 */
export function slotWindows(runner: Runner, contract: readonly Interval[], first: number, legal: readonly Interval[], planFrom: number, untouched: boolean): Slot[] {
  const n = contract.length;
  const out: Slot[] = [];
  if (untouched) {
    for (let k = first; k < n; k++) out.push({ k, from: contract[k][0], to: contract[k][1] });
    return out;
  }
  // The legal part of each window, or null when no play can start there.
  const part: (Interval[] | null)[] = [];
  for (let k = first; k < n; k++) {
    const own = intersect(legal, [contract[k]]);
    part.push(startable(runner, own) ? own : null);
  }
  const at = (k: number): Interval[] | null => part[k - first];
  if (part.every((p) => p === null)) {
    // No window has legal time: spread what is left over whatever legal time the period has.
    return evenWindows(legal, n - first).map(([from, to], i) => ({ k: first + i, from, to, moveReason: displacedReason(runner, contract[first + i], planFrom) }));
  }
  // Nearest window with legal time before and after each k (linear passes; runs can be long).
  const before: number[] = [];
  const after: number[] = [];
  for (let k = first, last = -1; k < n; k++) {
    before.push(last);
    if (at(k)) last = k;
  }
  for (let k = n - 1, last = -1; k >= first; k--) {
    after[k - first] = last;
    if (at(k)) last = k;
  }
  // Each displaced play joins its nearest host (by the time between its window and the host's
  // legal time; a tie goes to the later host, after the stop). Distances grow and shrink
  // monotonically along a run, so hosts keep the plays in order.
  const guests = new Map<number, number[]>();
  for (let k = first; k < n; k++) {
    if (at(k)) continue;
    const b = before[k - first];
    const a = after[k - first];
    const toBefore = b >= 0 ? contract[k][0] - lastEnd(at(b) as Interval[]) : Infinity;
    const toAfter = a >= 0 ? (at(a) as Interval[])[0][0] - contract[k][1] : Infinity;
    const host = toAfter <= toBefore ? a : b;
    const list = guests.get(host);
    if (list) list.push(k);
    else guests.set(host, [k]);
  }
  const windows = new Map<number, Interval>();
  for (const [host, list] of guests) {
    const group = [...list, host].sort((x, y) => x - y);
    evenWindows(at(host) as Interval[], group.length).forEach((w, i) => windows.set(group[i], w));
  }
  for (let k = first; k < n; k++) {
    const own = at(k);
    const shared = windows.get(k);
    if (own && !shared) out.push({ k, from: own[0][0], to: contract[k][1] });
    else if (own && shared) out.push({ k, from: shared[0], to: shared[1] });
    else out.push({ k, from: (shared as Interval)[0], to: (shared as Interval)[1], moveReason: displacedReason(runner, contract[k], planFrom) });
  }
  return out;
}

function lastEnd(list: readonly Interval[]): number {
  return list[list.length - 1][1];
}
