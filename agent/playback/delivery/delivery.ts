// Delivery accounting from the ledger's play entries: what counts as delivered (proof-format.md:
// `completed` on a verified screen, or with no controller by design), per campaign, per hour
// and day, against what the contract asked for, and the make-goods still owed. Pure.
import { buildContext, takedownIntervals, type Runner } from "../planner/context.js";
import { contracted, HOUR_MS } from "../planner/demands.js";
import { dayStart, daysOverlapping, hourStart, hoursOverlapping, localDate, subtract } from "../planner/time.js";
import type { DeliveredCounts, PlanSchedule, Takedown } from "../planner/types.js";
import type { PlayEntry } from "../../proofs/types.js";

export function isDelivered(entry: PlayEntry, controllerConfigured: boolean): boolean {
  const p = entry.play;
  return p.status === "completed" && (p.screenState.verified || !controllerConfigured);
}

/** DeliveredCounts as they are built up, per campaign id. */
export type DeliveredTallies = Map<string, { byHour: Map<number, number>; makeGoods: number }>;

export interface TallyOptions {
  /** The schedule's zone, whose clock hours the counts are kept by. */
  zone: string;
  controllerConfigured: boolean;
}

/**
 * Counts one play into `tallies` when it counts as delivered: regular plays by clock hour (the
 * schedule's zone), make-goods in total. The one rule behind countDelivered and the live tally
 * (agent/playback/history/delivered.ts). Returns whether it counted.
 */
export function tallyDelivered(tallies: DeliveredTallies, entry: PlayEntry, opts: TallyOptions): boolean {
  if (!isDelivered(entry, opts.controllerConfigured)) return false;
  const p = entry.play;
  let counts = tallies.get(p.campaign);
  if (!counts) tallies.set(p.campaign, (counts = { byHour: new Map(), makeGoods: 0 }));
  if (p.makeGood) counts.makeGoods++;
  else {
    const h = hourStart(Date.parse(p.startedAt), opts.zone);
    counts.byHour.set(h, (counts.byHour.get(h) ?? 0) + 1);
  }
  return true;
}

/** The planner's `delivered` input: regular plays by clock hour (schedule zone), make-goods in total. */
export function countDelivered(plays: Iterable<PlayEntry>, opts: TallyOptions): Map<string, DeliveredCounts> {
  const out: DeliveredTallies = new Map();
  for (const entry of plays) tallyDelivered(out, entry, opts);
  return out;
}

/**
 * A takedown as the report reads it: it held from `at` until `to` (lifted, or the schedule it
 * was given under replaced), or, without `to`, it still stands. The planner takes only standing
 * ones (a plan looks forward); a report looks back, where a lifted takedown still explains why
 * its campaign was not contracted while it held.
 */
export type TakedownPeriod = Takedown;

export interface DeliveryRow {
  campaign: string;
  customer: string;
  /** The day, as a local date (YYYY-MM-DD) in the schedule's zone. */
  day: string;
  /** Contracted for the part of the day inside [from, to): a partly covered hour or day counts round(quota × covered active fraction). */
  contracted: number;
  delivered: number;
  makeGoods: number;
  shortfall: number;
  /**
   * Make-goods owed at the end of this day (makeGood campaigns; 0 otherwise): the shortfall of the
   * periods (hours or days) that ended by `to`, less make-goods delivered. A period still running
   * at `to` is not owed yet (the planner catches it up in place), as in `ledagent schedule plan`.
   */
  owed: number;
}

export interface DeliveryInput {
  schedule: PlanSchedule;
  plays: Iterable<PlayEntry>;
  /** The report covers [from, to); the caller keeps `to` at or before now. */
  from: number;
  to: number;
  controllerConfigured: boolean;
  /** Owed plays count from when this agent applied each campaign; without it, from `from`. */
  appliedAt?: Readonly<Record<string, number>>;
  /** Time a takedown held is neither contracted nor owed (rule 8), lifted ones included. */
  takedowns?: readonly TakedownPeriod[];
  customer?: string;
}

interface DayCount {
  due: number;
  got: number;
  short: number;
  /** Shortfall of the periods that ended by the report's end. */
  endedShort: number;
}

/** One local day of one campaign, its periods clipped to [notBefore, to). */
function countDay(runner: Runner, counts: DeliveredCounts | undefined, day: readonly [number, number], window: { from: number; to: number; notBefore: number; zone: string }): DayCount {
  const [dayFrom, dayTo] = day;
  const { from, to, notBefore, zone } = window;
  const out: DayCount = { due: 0, got: 0, short: 0, endedShort: 0 };
  if (runner.campaign.playsPerHour !== undefined) {
    for (const h of hoursOverlapping(Math.max(dayFrom, from), Math.min(dayTo, to), zone)) {
      const due = contracted(runner, "hour", h, h + HOUR_MS, zone, notBefore, to);
      const got = counts?.byHour.get(h) ?? 0;
      const short = Math.max(0, due - got);
      out.due += due;
      out.got += got;
      out.short += short;
      if (h + HOUR_MS <= to) out.endedShort += short;
    }
    return out;
  }
  out.due = contracted(runner, "day", dayFrom, dayTo, zone, notBefore, to);
  for (const h of hoursOverlapping(dayFrom, dayTo, zone)) out.got += counts?.byHour.get(h) ?? 0;
  out.short = Math.max(0, out.due - out.got);
  if (dayTo <= to) out.endedShort = out.short;
  return out;
}

/** The runner with the time its takedowns held taken out of what its contract counts. */
function withoutTakedowns(runner: Runner, takedowns: readonly TakedownPeriod[]): Runner {
  const down = takedownIntervals(runner, takedowns);
  return down.length === 0 ? runner : { ...runner, active: subtract(runner.active, down) };
}

export function deliveryReport(input: DeliveryInput): DeliveryRow[] {
  const zone = input.schedule.timezone;
  // Takedowns are applied per runner below, with their ends; the context knows only standing ones.
  const ctx = buildContext({ schedule: input.schedule, from: input.from, to: input.to });
  const plays = [...input.plays].filter((e) => {
    const t = Date.parse(e.play.startedAt);
    return t >= input.from && t < input.to && (!input.customer || e.play.customer === input.customer);
  });
  const delivered = countDelivered(plays, { zone, controllerConfigured: input.controllerConfigured });
  const makeGoodsByDay = new Map<string, number>();
  for (const e of plays) {
    if (!e.play.makeGood || !isDelivered(e, input.controllerConfigured)) continue;
    const key = `${e.play.campaign}@${dayStart(Date.parse(e.play.startedAt), zone)}`;
    makeGoodsByDay.set(key, (makeGoodsByDay.get(key) ?? 0) + 1);
  }
  const rows: DeliveryRow[] = [];
  for (const contextRunner of ctx.runners) {
    const c = contextRunner.campaign;
    if (c.exclusive || (input.customer && c.customer !== input.customer)) continue;
    const runner = withoutTakedowns(contextRunner, input.takedowns ?? []);
    const counts = delivered.get(c.id);
    const window = { from: input.from, to: input.to, notBefore: Math.max(input.from, input.appliedAt?.[c.id] ?? input.from), zone };
    // As the planner's rule 6: what ended periods missed, less every make-good delivered so far.
    let endedShort = 0;
    let makeGoodsSoFar = 0;
    for (const day of daysOverlapping(input.from, input.to, zone)) {
      const n = countDay(runner, counts, day, window);
      const makeGoods = makeGoodsByDay.get(`${c.id}@${day[0]}`) ?? 0;
      if (n.due === 0 && n.got === 0 && makeGoods === 0) continue;
      endedShort += n.endedShort;
      makeGoodsSoFar += makeGoods;
      const owed = c.makeGood ? Math.max(0, endedShort - makeGoodsSoFar) : 0;
      rows.push({ campaign: c.id, customer: c.customer, day: localDate(day[0], zone), contracted: n.due, delivered: n.got, makeGoods, shortfall: n.short, owed });
    }
  }
  return rows.sort((a, b) => a.day.localeCompare(b.day) || a.customer.localeCompare(b.customer) || a.campaign.localeCompare(b.campaign));
}

const CSV_COLUMNS: (keyof DeliveryRow)[] = ["day", "customer", "campaign", "contracted", "delivered", "makeGoods", "shortfall", "owed"];

function csvCell(value: string | number): string {
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function deliveryCsv(rows: DeliveryRow[]): string {
  return [CSV_COLUMNS.join(","), ...rows.map((r) => CSV_COLUMNS.map((k) => csvCell(r[k])).join(","))].join("\n") + "\n";
}
