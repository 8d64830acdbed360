import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Backoff, BACKOFF_GROWTH, checkBackoffPolicy, DEFAULT_BACKOFF, nextBackoffDelay } from "../../agent/link/backoff.js";

const policy = { minMs: 1000, maxMs: 300_000 };

/** A random source that replays `values` in turn. */
function replay(values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length];
}

describe("backoff", () => {
  it("defaults to 1 s → 5 min", () => {
    expect(DEFAULT_BACKOFF).toEqual({ minMs: 1000, maxMs: 300_000 });
  });

  it("stays at the floor when the draw is 0, and never goes under it", () => {
    const backoff = new Backoff({ policy, random: () => 0 });
    expect(Array.from({ length: 20 }, () => backoff.next())).toEqual(Array(20).fill(1000));
  });

  it("grows by the growth factor a step at the top of the draw, up to the ceiling", () => {
    const backoff = new Backoff({ policy, random: () => 0.999_999_999 });
    const delays = Array.from({ length: 8 }, () => backoff.next());
    expect(delays).toEqual([3000, 9000, 27_000, 81_000, 243_000, 300_000, 300_000, 300_000]);
    expect(BACKOFF_GROWTH).toBe(3);
  });

  it("reaches minutes within a dozen failures on middling draws, and grows on average", () => {
    const backoff = new Backoff({ policy, random: () => 0.5 });
    const delays = Array.from({ length: 12 }, () => backoff.next());
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThanOrEqual(delays[i - 1]);
    expect(delays[0]).toBe(2000);
    expect(delays[11]).toBeGreaterThan(60_000);
  });

  it("jitters: different draws give different delays from the same state", () => {
    expect(nextBackoffDelay(10_000, policy, () => 0.1)).toBe(3900);
    expect(nextBackoffDelay(10_000, policy, () => 0.9)).toBe(27_100);
  });

  it("starts again at the floor after reset", () => {
    const backoff = new Backoff({ policy, random: replay([0.999_999_999]) });
    for (let i = 0; i < 10; i++) backoff.next();
    expect(backoff.next()).toBe(300_000);
    backoff.reset();
    expect(backoff.next()).toBe(3000);
  });

  it("every delay lies between the floor and the ceiling and at most GROWTH × the one before", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 40 }),
        (minMs, extra, draws) => {
          const p = { minMs, maxMs: minMs + extra };
          const backoff = new Backoff({ policy: p, random: replay(draws) });
          let previous = minMs;
          for (let i = 0; i < draws.length; i++) {
            const delay = backoff.next();
            expect(delay).toBeGreaterThanOrEqual(p.minMs);
            expect(delay).toBeLessThanOrEqual(p.maxMs);
            expect(delay).toBeLessThanOrEqual(Math.max(p.minMs, previous * BACKOFF_GROWTH) + 1);
            previous = delay;
          }
        },
      ),
    );
  });

  it("clamps a random source that strays outside [0, 1)", () => {
    expect(nextBackoffDelay(1000, policy, () => -5)).toBe(1000);
    expect(nextBackoffDelay(1000, policy, () => 7)).toBe(3000);
  });

  it("refuses a policy that cannot produce a delay", () => {
    expect(() => checkBackoffPolicy({ minMs: 0, maxMs: 10 })).toThrow(/0 < minMs <= maxMs/);
    expect(() => new Backoff({ policy: { minMs: 500, maxMs: 50 } })).toThrow(/minMs 500 and maxMs 50/);
    expect(() => checkBackoffPolicy({ minMs: Number.NaN, maxMs: 10 })).toThrow(RangeError);
  });
});
