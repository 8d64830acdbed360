// The plan in force and the place in it: what comes next, from where the player will be. Plans
// reach at most to the next local midnight of the schedule's zone (so each day starts on a
// fresh plan) or the horizon, and a new one is made from wherever playing has got to when one
// runs out, goes stale (a live order, a new schedule, a failed play), or falls behind.
import { DateTime } from "luxon";
import type { Logger } from "../../log.js";
import { plan, type DeliveredCounts, type LiveSuspension, type PlanItem, type PlanSchedule, type Takedown } from "../planner/index.js";
import { hourStart } from "../planner/index.js";
import type { Airing } from "./airing.js";

/** A paid item planned to start this long before the player can start it is re-planned from now. */
export const LATE_REPLAN_MS = 1000;
const MIN_PLAN_MS = 60_000;

export interface PlanInputs {
  schedule: PlanSchedule;
  delivered: ReadonlyMap<string, DeliveredCounts>;
  appliedAt: Readonly<Record<string, number>>;
  suspensions: readonly LiveSuspension[];
  takedowns: readonly Takedown[];
}

export interface NextItem {
  item: PlanItem;
  /** When the item after it is planned to start. */
  nextStartMs: number;
  /** When the next item that is not fill is planned to start (or the plan's end). */
  nextPaidMs: number;
}

/** The end of a plan made at `from`: the horizon, or the next local midnight if sooner. */
export function planEnd(from: number, horizonMs: number, zone: string): number {
  const midnight = DateTime.fromMillis(from, { zone }).startOf("day").plus({ days: 1 }).toMillis();
  const end = Math.min(from + horizonMs, midnight);
  return end - from < MIN_PLAN_MS ? from + Math.min(horizonMs, MIN_PLAN_MS + (midnight - from)) : end;
}

/**
 * What has been delivered, plus the paid airings handed to the player and not yet recorded:
 * counted as if they will complete, so a new plan does not place them a second time.
 */
export function withProvisional(delivered: ReadonlyMap<string, DeliveredCounts>, airings: readonly Airing[], zone: string): Map<string, DeliveredCounts> {
  const out = new Map(delivered);
  for (const a of airings) {
    if (a.kind !== "paid") continue;
    const was = out.get(a.campaign) ?? { byHour: new Map<number, number>(), makeGoods: 0 };
    const byHour = new Map(was.byHour);
    if (a.makeGood) {
      out.set(a.campaign, { byHour, makeGoods: was.makeGoods + 1 });
      continue;
    }
    const hour = hourStart(a.startedAt?.wallMs ?? a.expectedStartMs, zone);
    byHour.set(hour, (byHour.get(hour) ?? 0) + 1);
    out.set(a.campaign, { byHour, makeGoods: was.makeGoods });
  }
  return out;
}

export class Timeline {
  private items: PlanItem[] = [];
  private cursor = 0;
  private endMs = 0;
  private valid = false;
  private version: number | null = null;

  constructor(private readonly deps: { horizonMs: number; log: Logger }) {}

  /** The next plan is made from where playing has got to, at the next item handed over. */
  invalidate(): void {
    this.valid = false;
  }

  get scheduleVersion(): number | null {
    return this.version;
  }

  /** The item to hand over next, from `at` (where the player will be); null: nothing before the plan's end. */
  next(at: number, inputs: () => PlanInputs, previousCampaign: string | undefined): NextItem | null {
    let replanned = false;
    for (;;) {
      if (!this.valid || this.cursor >= this.items.length) {
        if (replanned) return null;
        this.replan(at, inputs(), previousCampaign);
        replanned = true;
        continue;
      }
      const item = this.items[this.cursor] as PlanItem;
      const late = !item.fill && !item.blackout && item.startMs + LATE_REPLAN_MS < at;
      if (late && !replanned) {
        this.valid = false;
        continue;
      }
      const after = this.items[this.cursor + 1];
      const nextStartMs = after ? after.startMs : Math.max(this.endMs, item.startMs + item.durationMs);
      return { item, nextStartMs, nextPaidMs: this.nextPaid(nextStartMs) };
    }
  }

  private nextPaid(fallback: number): number {
    for (let i = this.cursor + 1; i < this.items.length; i++) {
      const it = this.items[i] as PlanItem;
      if (!it.fill) return it.startMs;
    }
    return Math.max(fallback, this.endMs);
  }

  /** The item returned by next() was handed over (or skipped). */
  advance(): void {
    this.cursor++;
  }

  /** Items still to hand over, for status. */
  upcoming(): PlanItem | null {
    return this.valid ? (this.items[this.cursor] ?? null) : null;
  }

  /** The plan's end: where a hold with nothing planned lasts until. */
  get end(): number {
    return this.endMs;
  }

  private replan(from: number, inputs: PlanInputs, previousCampaign: string | undefined): void {
    const to = planEnd(from, this.deps.horizonMs, inputs.schedule.timezone);
    const started = performance.now();
    try {
      const made = plan({ ...inputs, from, to, previousCampaign });
      this.items = made.items;
      this.deps.log.info({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), items: made.items.length, shortfalls: made.shortfalls.length, ms: Math.round(performance.now() - started) }, "planned");
    } catch (err) {
      this.items = [];
      this.deps.log.error({ err: (err as Error).message }, "the planner failed; the screen holds until the next plan");
    }
    this.cursor = 0;
    this.endMs = to;
    this.valid = true;
    this.version = inputs.schedule.version;
  }
}
