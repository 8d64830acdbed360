// campaign.completed: when a flight ends, the ledger records its contracted, delivered and
// made-good totals, the basis of the take-down notice (proof-format). Which flights ended and
// are not recorded yet, and the totals, from the delivery report over the whole flight.
import { z } from "zod";
import { deliveryReport, type DeliveryRow } from "../delivery/delivery.js";
import { parseInstant } from "../planner/time.js";
import type { ScheduleDocument } from "../schedule/document.js";
import type { CurrentSchedule } from "../schedule/store.js";
import type { EventEntry } from "../../proofs/types.js";
import type { SkippedEntry } from "./live-orders.js";
import { appliedTimes } from "./planner-inputs.js";
import { isoTime, type HistoryReader } from "./reader.js";
import { readTakedownPeriods } from "./takedown-periods.js";

export interface CampaignCompletedDetail {
  type: "campaign.completed";
  campaign: string;
  customer: string;
  scheduleVersion: number;
  /** The flight as the schedule states it. */
  start: string;
  end: string;
  /** Totals over the flight from when this agent applied the campaign, as `report delivery` counts them. */
  contracted: number;
  delivered: number;
  madeGood: number;
  shortfall: number;
  /** Make-goods still owed when the flight ended. */
  owed: number;
}

/** What closedFlights needs of a campaign.completed detail (older or newer details may carry more). */
const completedKey = z.object({ campaign: z.string().min(1), end: z.string().min(1) });

/** `campaign@end`, the end as a UTC instant, so one flight has one key however its end is written. */
export function flightKey(campaign: string, end: string): string {
  const t = parseInstant(end);
  return `${campaign}@${Number.isFinite(t) ? isoTime(t) : end}`;
}

/** The flights already recorded as completed, by flightKey; a detail that does not parse is skipped. */
export function closedFlights(events: Iterable<EventEntry>): { closed: Set<string>; skipped: SkippedEntry[] } {
  const closed = new Set<string>();
  const skipped: SkippedEntry[] = [];
  for (const entry of events) {
    if (entry.event.type !== "campaign.completed") continue;
    const parsed = completedKey.safeParse(entry.event);
    if (parsed.success) closed.add(flightKey(parsed.data.campaign, parsed.data.end));
    else skipped.push({ seq: entry.seq, type: "campaign.completed", reason: parsed.error.issues[0].message });
  }
  return { closed, skipped };
}

/** Campaigns of the schedule whose flight has ended by `now` and is not recorded as completed. */
export function endedFlights(current: CurrentSchedule, closed: ReadonlySet<string>, now: number): ScheduleDocument["campaigns"] {
  return current.document.campaigns.filter((c) => parseInstant(c.end) <= now && !closed.has(flightKey(c.id, c.end)));
}

function sum(rows: readonly DeliveryRow[], key: "contracted" | "delivered" | "makeGoods" | "shortfall"): number {
  return rows.reduce((n, r) => n + r[key], 0);
}

/**
 * The campaign.completed detail of a flight that has ended: the delivery report over
 * [max(start, applied), end), summed over its days, with the time takedowns held (lifted ones
 * too) not contracted, as `report delivery` counts it. Throws when the campaign is not in the schedule.
 */
export function flightCompletedDetail(reader: HistoryReader, current: CurrentSchedule, campaignId: string, opts: { controllerConfigured: boolean }): CampaignCompletedDetail {
  const doc = current.document;
  const campaign = doc.campaigns.find((c) => c.id === campaignId);
  if (!campaign) throw new Error(`campaign ${campaignId} is not in schedule v${doc.version}`);
  const appliedAt = appliedTimes(current);
  const from = Math.max(parseInstant(campaign.start), appliedAt[campaignId] ?? -Infinity);
  const to = parseInstant(campaign.end);
  let rows: DeliveryRow[] = [];
  if (from < to) {
    rows = deliveryReport({
      // Only this campaign: the others' periods would be worked out for nothing.
      schedule: { ...doc, campaigns: [campaign] },
      plays: reader.plays({ from: isoTime(from), to: isoTime(to) }),
      from,
      to,
      controllerConfigured: opts.controllerConfigured,
      appliedAt,
      takedowns: readTakedownPeriods(reader, { to }).periods,
    });
  }
  return {
    type: "campaign.completed",
    campaign: campaign.id,
    customer: campaign.customer,
    scheduleVersion: doc.version,
    start: campaign.start,
    end: campaign.end,
    contracted: sum(rows, "contracted"),
    delivered: sum(rows, "delivered"),
    madeGood: sum(rows, "makeGoods"),
    shortfall: sum(rows, "shortfall"),
    owed: rows.at(-1)?.owed ?? 0,
  };
}
