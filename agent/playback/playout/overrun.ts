// How much longer than planned each item really takes on the player: mpv's transition from one
// file to the next costs a few ms, and a cut item ends on a frame boundary. Measured from mpv's
// own events as items follow each other, so the timeline's expectations learn this machine.
import type { Airing } from "./airing.js";

/** Starting guesses, before anything was measured. */
const INITIAL = { whole: 10, cut: 60 };
/** One observation moves the estimate this far: a few items settle it, one outlier does not. */
const WEIGHT = 0.2;
/** Observations outside this range are not transitions (a stall, a restart) and are ignored. */
const PLAUSIBLE = { min: -100, max: 500 };

export class OverrunGauge {
  private readonly estimate = { ...INITIAL };

  /** `next` showed its first frame right after `previous` played to its end. */
  observe(previous: Airing, next: Airing): void {
    if (!previous.startedAt || !next.startedAt) return;
    const observed = next.startedAt.monoMs - previous.startedAt.monoMs - previous.expectedLengthMs;
    if (observed < PLAUSIBLE.min || observed > PLAUSIBLE.max) return;
    const kind = previous.item.lengthMs !== undefined ? "cut" : "whole";
    this.estimate[kind] += WEIGHT * (observed - this.estimate[kind]);
  }

  /** How much longer than its expected length `airing` is likely to take. */
  of(airing: Airing): number {
    return airing.item.lengthMs !== undefined ? this.estimate.cut : this.estimate.whole;
  }

  get cutMs(): number {
    return this.estimate.cut;
  }
}
