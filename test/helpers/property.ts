// fast-check parameters for every property test. A plain `npm test` runs each property with a
// fixed seed of its own (so a red run is reproducible from the log alone) and the test's
// modest default number of runs; `npm run properties` (nightly, or by hand) runs every property
// with at least 1,000 runs and a fresh seed, which it prints. Seeds that once found a bug are
// kept beside their property as `regressions` and replayed on every run.
import { createHash } from "node:crypto";
import type { Parameters } from "fast-check";

export const NIGHTLY_MIN_RUNS = 1000;

/** Runs requested by `LEDAGENT_PROPERTY_RUNS` (the nightly script), or null in a plain run. */
function nightlyRuns(): number | null {
  const raw = process.env.LEDAGENT_PROPERTY_RUNS;
  if (raw === undefined || raw === "") return null;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`LEDAGENT_PROPERTY_RUNS=${JSON.stringify(raw)}: expected a positive integer`);
  return n;
}

/** The seed for `name`: `LEDAGENT_PROPERTY_SEED` when set, else one derived from the name. */
export function propertySeed(name: string): number {
  const raw = process.env.LEDAGENT_PROPERTY_SEED;
  if (raw !== undefined && raw !== "") {
    const n = Number(raw);
    if (!Number.isInteger(n)) throw new Error(`LEDAGENT_PROPERTY_SEED=${JSON.stringify(raw)}: expected an integer`);
    return n | 0;
  }
  return createHash("sha256").update(name).digest().readInt32BE(0);
}

/**
 * Parameters for the property called `name` (unique across the suite): its default number of
 * runs in `npm test`, the nightly count when asked for, and a recorded seed either way.
 */
export function propertyParams<T = unknown>(name: string, defaultRuns: number, extra: Parameters<T> = {}): Parameters<T> {
  const nightly = nightlyRuns();
  return { ...extra, numRuns: nightly === null ? defaultRuns : Math.max(nightly, defaultRuns), seed: propertySeed(name) };
}
