// The bounds every schedule delivery is held to, so that no document (even one signed with a
// stolen ops key, or built by a buggy ops tool) can make the agent spend minutes or gigabytes
// judging it. Each is far beyond what one screen sells; docs/schedule-format.md lists them.

import type { ScheduleDocument } from "./document.js";

/** An envelope's bytes, checked before JSON.parse. 500 campaigns take about 150 KB. */
export const MAX_ENVELOPE_BYTES = 4 * 1024 * 1024;

/** List lengths, checked on the raw document before anything else reads its elements. */
export const MAX_CREATIVES = 5000;
export const MAX_CAMPAIGNS = 2000;
export const MAX_FILL = 500;
export const MAX_SUSPENSIONS = 1000;
export const MAX_BRIGHTNESS_STEPS = 96;
export const MAX_CREATIVES_PER_CAMPAIGN = 200;
export const MAX_DAYPARTS_PER_CAMPAIGN = 50;
export const MAX_SEPARATE_FROM = 100;
export const MAX_SUSPENSION_CAMPAIGNS = MAX_CAMPAIGNS;

/** String lengths the shape does not bound by a pattern already (ids are 1–128 by theirs). */
export const MAX_URL_CHARS = 2048;
export const MAX_TIMEZONE_CHARS = 64;

/** No flight, suspension or issue time before this: nothing was sold on this agent earlier. */
export const EARLIEST_SCHEDULE_TIME = "2000-01-01T00:00:00Z";
/** No flight or suspension may end more than this many years after the document's issuedAt. */
export const MAX_YEARS_AFTER_ISSUE = 5;

/**
 * The buyout overlap check walks every exclusive campaign's daily windows (flight days ×
 * dayparts, summed over all buyouts), about a second's work at this limit. 100,000 is, e.g.,
 * 50 year-long buyouts with 5 dayparts each; beyond it the document is refused rather than
 * checked for minutes.
 */
export const MAX_BUYOUT_WINDOWS = 100_000;

/**
 * The sum of every campaign's hourly rate (playsPerHour, or playsPerDay / 24), whatever its
 * flight: ten times what any hour can hold with the shortest creatives (3,600 one-second plays).
 * The planner's work grows with the quota it must place or cut (rule 5), so a document that asks
 * for millions of plays an hour is refused rather than planned.
 */
export const MAX_TOTAL_PLAYS_PER_HOUR = 36_000;

/** How far ahead of the agent's clock `issuedAt` may be (clock skew between ops and screen). */
export const MAX_ISSUED_AHEAD_MS = 10 * 60_000;
/**
 * The largest step up from the version in force: a larger one would let a single document use
 * up the version space (every later schedule stale). 10^12 still fits versions that are
 * millisecond timestamps (31 years apart) and leaves 9,000 such steps below 2^53.
 */
export const MAX_VERSION_STEP = 1_000_000_000_000;

/**
 * The highest version a screen accepts when it has none yet: without it, one signed document at
 * 2^53 − 1 would leave every later schedule stale for good. 10^14 fits versions written as
 * millisecond timestamps or as yyyymmddHHMMSS, and leaves room for many maximal steps above it.
 */
export const MAX_FIRST_VERSION = 100_000_000_000_000;

/** A `schedule.applied` event names at most this many campaign ids, then counts them all. */
export const MAX_EVENT_CAMPAIGN_IDS = 100;

/**
 * Most items (plays, fill, make-goods) one plan may be asked to hold. A month of 1-second fill, or
 * of 36,000 paid plays an hour, would be tens of millions of items and gigabytes of memory: a plan
 * that large is refused up front, naming how many hours at a time the schedule can be planned.
 */
export const MAX_PLAN_ITEMS = 2_000_000;

/**
 * An upper bound on the items a plan of `hours` from `doc` creates: the timeline cannot hold more
 * items than its shortest creative fits into it, nor does the planner create more paid plays than
 * the campaigns ask for.
 */
export function planSizeEstimate(doc: Pick<ScheduleDocument, "creatives" | "campaigns">, hours: number): number {
  let shortestMs = 3_600_000;
  for (const c of doc.creatives) shortestMs = Math.min(shortestMs, c.durationMs);
  let paid = 0;
  for (const c of doc.campaigns) paid += (c.playsPerHour ?? 0) * hours + (c.playsPerDay ?? 0) * Math.ceil(hours / 24);
  return Math.max(Math.ceil((hours * 3_600_000) / shortestMs), paid);
}

const YEAR_MS = 365.25 * 24 * 3_600_000;
export const earliestScheduleMs = Date.parse(EARLIEST_SCHEDULE_TIME);
export const latestEndMs = (issuedAtMs: number): number => issuedAtMs + MAX_YEARS_AFTER_ISSUE * YEAR_MS;

type Fields = Record<string, unknown>;
const isRecord = (v: unknown): v is Fields => typeof v === "object" && v !== null && !Array.isArray(v);
const lengthOf = (v: unknown): number => (Array.isArray(v) ? v.length : 0);

function over(where: string, count: number, limit: number): string | null {
  return count > limit ? `${where}: ${count} entries, more than the limit of ${limit}` : null;
}

/** A campaign's asked-for plays per hour; 0 for anything malformed (the shape check names it). */
function hourlyRate(c: unknown): number {
  if (!isRecord(c)) return 0;
  const rate = (v: unknown, per: number): number => (typeof v === "number" && Number.isFinite(v) && v > 0 ? v / per : 0);
  return rate(c.playsPerHour, 1) + rate(c.playsPerDay, 24);
}

/**
 * Lists longer than their limit, read from the raw document without looking at any element's
 * content: a handful of array lengths, whatever the document holds. Any problem here means the
 * document is refused before the shape and semantic checks run.
 */
export function sizeProblems(raw: unknown): string[] {
  if (!isRecord(raw)) return [];
  const problems = [
    over("creatives", lengthOf(raw.creatives), MAX_CREATIVES),
    over("campaigns", lengthOf(raw.campaigns), MAX_CAMPAIGNS),
    over("fill", lengthOf(raw.fill), MAX_FILL),
    over("suspensions", lengthOf(raw.suspensions), MAX_SUSPENSIONS),
    over("brightness", lengthOf(raw.brightness), MAX_BRIGHTNESS_STEPS),
  ];
  // Nested lists only when the outer list is itself within bounds: then this loop is bounded too.
  if (Array.isArray(raw.campaigns) && raw.campaigns.length <= MAX_CAMPAIGNS) {
    const hourly = raw.campaigns.reduce((sum: number, c: unknown) => sum + hourlyRate(c), 0);
    if (hourly > MAX_TOTAL_PLAYS_PER_HOUR) {
      problems.push(`campaigns: together they ask for ${Math.round(hourly)} plays an hour (playsPerHour, playsPerDay / 24), more than the limit of ${MAX_TOTAL_PLAYS_PER_HOUR}`);
    }
    raw.campaigns.forEach((c: unknown, i) => {
      if (!isRecord(c)) return;
      problems.push(
        over(`campaigns.${i}.creatives`, lengthOf(c.creatives), MAX_CREATIVES_PER_CAMPAIGN),
        over(`campaigns.${i}.dayparts`, lengthOf(c.dayparts), MAX_DAYPARTS_PER_CAMPAIGN),
        over(`campaigns.${i}.separateFrom`, lengthOf(c.separateFrom), MAX_SEPARATE_FROM),
      );
    });
  }
  if (Array.isArray(raw.suspensions) && raw.suspensions.length <= MAX_SUSPENSIONS) {
    raw.suspensions.forEach((s: unknown, i) => {
      if (isRecord(s)) problems.push(over(`suspensions.${i}.campaigns`, lengthOf(s.campaigns), MAX_SUSPENSION_CAMPAIGNS));
    });
  }
  return problems.filter((p): p is string => p !== null);
}
