// Reconnect delays for the MQTT link: exponential growth with decorrelated jitter, between a floor
// and a ceiling. Jitter keeps a fleet of screens that lost the same broker from coming back in one
// wave; the floor keeps a broker that accepts and at once drops us from being hammered (full
// jitter could draw a delay near zero again and again). Pure: the random source is injected.

export interface BackoffPolicy {
  /** The first delay, and the least any delay may be. */
  minMs: number;
  /** The most any delay may be. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { minMs: 1000, maxMs: 5 * 60 * 1000 };

/** Each step draws up to this many times the previous delay, so delays grow about 2× a step on average. */
export const BACKOFF_GROWTH = 3;

/** Refuses a policy that could not produce a delay (a typo in a test or an option). */
export function checkBackoffPolicy(policy: BackoffPolicy): void {
  const { minMs, maxMs } = policy;
  if (!Number.isFinite(minMs) || !Number.isFinite(maxMs) || minMs <= 0 || maxMs < minMs) {
    throw new RangeError(`backoff: expected 0 < minMs <= maxMs, got minMs ${minMs} and maxMs ${maxMs}`);
  }
}

/**
 * The delay after `previousMs` (null before the first, which counts as minMs): a draw between
 * minMs and GROWTH × the previous delay, never above maxMs. The first delay is jittered too, so
 * screens that lost the broker together do not all return at exactly minMs. `random` returns a
 * number in [0, 1) like Math.random.
 */
export function nextBackoffDelay(previousMs: number | null, policy: BackoffPolicy, random: () => number): number {
  const { minMs, maxMs } = policy;
  const upper = Math.min(maxMs, Math.max(minMs, previousMs ?? minMs) * BACKOFF_GROWTH);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(Math.min(maxMs, minMs + r * (upper - minMs)));
}

/** The delays of one run of failures; `reset` after a connection that proved stable. */
export class Backoff {
  private previousMs: number | null = null;

  constructor(private readonly deps: { policy: BackoffPolicy; random?: () => number }) {
    checkBackoffPolicy(deps.policy);
  }

  /** The delay before the next attempt. */
  next(): number {
    this.previousMs = nextBackoffDelay(this.previousMs, this.deps.policy, this.deps.random ?? Math.random);
    return this.previousMs;
  }

  /** The next delay starts at the floor again. */
  reset(): void {
    this.previousMs = null;
  }
}
