// What the planner works out once per plan: for each campaign where it may start items
// (rule 2 minus suspensions, buyouts and takedowns) and for the whole screen which regime
// holds when (normal, a buyout, fill only, blackout).
import {
  activeIntervals,
  daysOverlapping,
  intersect,
  mergeIntervals,
  parseInstant,
  subtract,
  type Interval,
} from "./time.js";
import type { LiveSuspension, PlanCampaign, PlannerInput, Takedown } from "./types.js";

/** The shortest fill run put between two plays that may not be back to back (rule 4). */
export const SEPARATOR_MS = 5000;

export interface RunnerCreative {
  id: string;
  durationMs: number;
  takedownAt: number;
}

/** A reason-tagged interval where a campaign may not air (an item must end before it starts). */
export interface Block {
  from: number;
  to: number;
  reason: string;
  /** The buyout campaign holding this time, when the block is a buyout. */
  exclusiveOf?: Runner;
}

export interface Runner {
  index: number;
  campaign: PlanCampaign;
  category: string;
  separateFrom: ReadonlySet<string>;
  priority: number;
  creatives: RunnerCreative[];
  rotation: number;
  /** Flight and dayparts, cut at the takedown: the time the contract counts (quota basis). */
  active: Interval[];
  /** Where items may start: active minus blocks. */
  airable: Interval[];
  blocks: Block[];
  takedownAt: number;
  meanDurationMs: number;
  longestMs: number;
}

export type RegimeKind = "normal" | "exclusive" | "fill" | "blackout";

export interface Regime {
  from: number;
  to: number;
  kind: RegimeKind;
  exclusive?: Runner;
  reason?: string;
}

export interface PlanContext {
  zone: string;
  /** Span covering every hour and day the window touches. */
  span: Interval;
  runners: Runner[];
  exclusives: Runner[];
  regimes: Regime[];
  fill: RunnerCreative[];
}

interface Stop {
  from: number;
  to: number;
  reason: string;
  campaigns: readonly string[] | null;
  blackout: boolean;
}

function stopsOf(input: PlannerInput): Stop[] {
  const planned = (input.schedule.suspensions ?? []).map((s) => ({
    from: parseInstant(s.from),
    to: parseInstant(s.to),
    reason: s.reason,
    campaigns: s.campaigns,
    blackout: s.blackout ?? false,
  }));
  const live = (input.suspensions ?? []).map((s: LiveSuspension) => ({
    from: s.from,
    to: s.to ?? Infinity,
    reason: s.reason,
    campaigns: s.campaigns,
    blackout: s.blackout ?? false,
  }));
  return [...planned, ...live].filter((s) => s.to > s.from);
}

/** When the first standing takedown that matches began; one that was lifted only excuses its past. */
function takedownTime(list: readonly Takedown[], match: (t: Takedown) => boolean): number {
  let at = Infinity;
  for (const t of list) if (t.to === undefined && match(t) && t.at < at) at = t.at;
  return at;
}

/**
 * The times a campaign was taken down, with their ends: a takedown of the campaign, or of every
 * approved creative it has at once. Not owed while they held (rule 8).
 */
export function takedownIntervals(runner: Pick<Runner, "campaign" | "creatives">, takedowns: readonly Takedown[]): Interval[] {
  const periods = (match: (t: Takedown) => boolean): Interval[] => mergeIntervals(takedowns.filter(match).map((t): Interval => [t.at, t.to ?? Infinity]));
  const own = periods((t) => t.campaign === runner.campaign.id);
  if (runner.creatives.length === 0) return own;
  let everyCreative = periods((t) => t.creative === runner.creatives[0].id);
  for (const c of runner.creatives.slice(1)) everyCreative = intersect(everyCreative, periods((t) => t.creative === c.id));
  return mergeIntervals([...own, ...everyCreative]);
}

function stopCovers(stop: Stop, campaignId: string): boolean {
  return stop.campaigns === null || stop.campaigns.includes(campaignId);
}

export function buildContext(input: PlannerInput): PlanContext {
  const { schedule } = input;
  const zone = schedule.timezone;
  const days = daysOverlapping(input.from, input.to, zone);
  const span: Interval = [days[0][0], days[days.length - 1][1]];
  const takedowns = input.takedowns ?? [];
  const creativeById = new Map(schedule.creatives.map((c) => [c.id, c]));
  const toRunnerCreative = (id: string): RunnerCreative | undefined => {
    const c = creativeById.get(id);
    if (!c || !c.approved) return undefined; // the compliance gate: never airs
    return { id, durationMs: c.durationMs, takedownAt: takedownTime(takedowns, (t) => t.creative === id) };
  };

  const runners: Runner[] = schedule.campaigns.map((campaign, index) => {
    const creatives = campaign.creatives.map(toRunnerCreative).filter((c): c is RunnerCreative => c !== undefined);
    const allCreativesDown = creatives.length === 0 ? -Infinity : Math.max(...creatives.map((c) => c.takedownAt));
    const takedownAt = Math.min(takedownTime(takedowns, (t) => t.campaign === campaign.id), allCreativesDown);
    const active = subtract(activeIntervals(campaign, span[0], span[1], zone), [[takedownAt, Infinity]]);
    const mean = creatives.length ? creatives.reduce((s, c) => s + c.durationMs, 0) / creatives.length : 0;
    return {
      index,
      campaign,
      category: campaign.category ?? "",
      separateFrom: new Set(campaign.separateFrom ?? []),
      priority: campaign.priority ?? 0,
      creatives,
      rotation: 0,
      active,
      airable: active,
      blocks: [],
      takedownAt,
      meanDurationMs: mean,
      longestMs: Math.max(0, ...creatives.map((c) => c.durationMs)),
    };
  });

  const stops = stopsOf(input);
  const exclusives = runners.filter((r) => r.campaign.exclusive && r.active.length > 0);
  const screenBlocks: Block[] = stops
    .filter((s) => s.blackout || s.campaigns === null)
    .map((s) => ({ from: s.from, to: s.to, reason: `${s.blackout ? "blackout" : "suspension"}: ${s.reason}` }));
  const buyoutBlocks: Block[] = exclusives.flatMap((x) =>
    x.active.map(([from, to]) => ({ from, to, reason: `buyout by ${x.campaign.id}`, exclusiveOf: x })),
  );

  for (const r of runners) {
    const own: Block[] = stops
      .filter((s) => s.campaigns !== null && !s.blackout && stopCovers(s, r.campaign.id))
      .map((s) => ({ from: s.from, to: s.to, reason: `suspension: ${s.reason}` }));
    const others = buyoutBlocks.filter((b) => b.exclusiveOf !== r);
    r.blocks = [...screenBlocks, ...own, ...others].sort((a, b) => a.from - b.from);
    // Unblocked, airable is active itself: demands then know without measuring that nothing blocks it.
    if (r.blocks.length > 0) r.airable = subtract(r.active, mergeIntervals(r.blocks.map((b) => [b.from, b.to])));
  }

  const regimes = buildRegimes(input.from, span[1], stops, exclusives);
  const fill = schedule.fill.map(toRunnerCreative).filter((c): c is RunnerCreative => c !== undefined);
  return { zone, span, runners, exclusives, regimes, fill };
}

function buildRegimes(from: number, until: number, stops: Stop[], exclusives: Runner[]): Regime[] {
  const points = new Set<number>([from]);
  const add = (t: number): void => {
    if (t > from && t < until) points.add(t);
  };
  for (const s of stops) {
    add(s.from);
    add(s.to);
  }
  for (const x of exclusives) {
    for (const [a, b] of x.active) {
      add(a);
      add(b);
    }
  }
  const sorted = [...points].sort((a, b) => a - b);
  const out: Regime[] = [];
  sorted.forEach((start, i) => {
    const end = i + 1 < sorted.length ? sorted[i + 1] : Infinity;
    const regime = regimeAt(start, stops, exclusives);
    const last = out[out.length - 1];
    if (last && last.kind === regime.kind && last.exclusive === regime.exclusive && last.reason === regime.reason) last.to = end;
    else out.push({ from: start, to: end, ...regime });
  });
  return out;
}

function regimeAt(t: number, stops: Stop[], exclusives: Runner[]): Omit<Regime, "from" | "to"> {
  const live = stops.filter((s) => s.from <= t && t < s.to);
  const blackout = live.find((s) => s.blackout);
  if (blackout) return { kind: "blackout", reason: blackout.reason };
  const all = live.find((s) => s.campaigns === null);
  if (all) return { kind: "fill", reason: `suspension: ${all.reason}` };
  const x = exclusives.find((r) => intersect(r.active, [[t, t + 1]]).length > 0);
  if (!x) return { kind: "normal" };
  // A suspended buyout keeps its screen time: nobody else's paid content takes it.
  const held = live.find((s) => stopCovers(s, x.campaign.id));
  if (held) return { kind: "fill", reason: `buyout by ${x.campaign.id} suspended: ${held.reason}` };
  return { kind: "exclusive", exclusive: x };
}

/** True when A then B (or B then A) back to back would break rule 4. */
export function conflicts(a: Runner | null, b: Runner | null): boolean {
  if (!a || !b || a === b) return false;
  if (a.category !== "" && a.category === b.category) return true;
  if (b.category !== "" && a.separateFrom.has(b.category)) return true;
  return a.category !== "" && b.separateFrom.has(a.category);
}
