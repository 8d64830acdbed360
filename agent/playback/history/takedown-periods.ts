// How long each recorded takedown held, for looking back (the delivery report, a flight's
// totals): time a takedown held is not contracted, so not owed (rule 8), even when it was lifted
// later or its schedule was replaced. Looking forward, the planner takes only the standing ones
// (liveOrders). Pure but for the reader.
import type { TakedownPeriod } from "../delivery/delivery.js";
import type { EventEntry } from "../../proofs/types.js";
import { parseTakedown, type SkippedEntry, type TakedownDetail } from "./live-orders.js";
import { eventsOfTypes, isoTime, type HistoryReader } from "./reader.js";

export interface TakedownPeriods {
  periods: TakedownPeriod[];
  skipped: SkippedEntry[];
}

interface Open {
  period: TakedownPeriod;
  target: string;
  scheduleVersion: number | null;
}

const targetOf = (d: TakedownDetail): string => (d.campaign !== undefined ? `campaign:${d.campaign}` : `creative:${d.creative}`);

/**
 * From `takedown` and `schedule.applied` entries in ledger order: each takedown holds from its
 * entry's `at` until the first later lift of the same target, or the first later schedule
 * applied under another version (the schedule it was given under was replaced), whichever
 * comes first. One that neither ended has no `to`: it holds to this day.
 */
export function takedownPeriods(events: Iterable<EventEntry>): TakedownPeriods {
  const open: Open[] = [];
  const periods: TakedownPeriod[] = [];
  const skipped: SkippedEntry[] = [];
  const close = (at: number, ends: (o: Open) => boolean): void => {
    for (let i = open.length - 1; i >= 0; i--) {
      if (!ends(open[i])) continue;
      open[i].period.to = Math.max(open[i].period.at, at);
      open.splice(i, 1);
    }
  };
  for (const entry of events) {
    const at = Date.parse(entry.at);
    if (entry.event.type === "schedule.applied") {
      const version = entry.event.version;
      if (Number.isSafeInteger(version)) close(at, (o) => o.scheduleVersion !== version);
      else skipped.push({ seq: entry.seq, type: "schedule.applied", reason: "version: not an integer" });
      continue;
    }
    if (entry.event.type !== "takedown") continue;
    const parsed = parseTakedown(entry);
    if (!parsed.ok) {
      skipped.push(parsed.skipped);
      continue;
    }
    const d = parsed.detail;
    const target = targetOf(d);
    if (d.lift) close(at, (o) => o.target === target);
    else {
      const period: TakedownPeriod = { at, ...(d.campaign !== undefined ? { campaign: d.campaign } : { creative: d.creative }) };
      periods.push(period);
      open.push({ period, target, scheduleVersion: d.scheduleVersion });
    }
  }
  return { periods, skipped };
}

/** takedownPeriods() of the ledger's entries written before `to` (ms; default: all). */
export function readTakedownPeriods(reader: Pick<HistoryReader, "events">, range: { to?: number } = {}): TakedownPeriods {
  const to = range.to === undefined ? undefined : isoTime(range.to);
  return takedownPeriods(eventsOfTypes(reader, ["takedown", "schedule.applied"], { to }));
}
