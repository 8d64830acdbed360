// What the planner needs besides the schedule and the window, read from the ledger and the
// stored schedule: plays delivered so far, when each campaign was first applied, and the live
// orders (a suspension, standing takedowns). One reading for the daemon's playout and the CLI.
import type { LiveSuspension, Takedown } from "../planner/types.js";
import type { CurrentSchedule } from "../schedule/store.js";
import type { EventType } from "../../proofs/types.js";
import { DeliveredTally } from "./delivered.js";
import { liveOrders, type LiveOrders, type LiveOrdersOptions } from "./live-orders.js";
import { eventsOfTypes, isoTime, type HistoryReader } from "./reader.js";
import { readTakedownPeriods } from "./takedown-periods.js";

export interface PlannerHistory {
  delivered: DeliveredTally;
  /** When this agent first applied a schedule holding each campaign (UTC ms): owed plays count from then. */
  appliedAt: Record<string, number>;
  orders: LiveOrders;
  /** The planner's `suspensions`: the live suspension, when there is one. */
  suspensions: LiveSuspension[];
  /** The planner's `takedowns`: the standing ones. */
  takedowns: Takedown[];
}

export interface HistoryOptions {
  /** false for the `none` driver: unverified plays then count as delivered by design. */
  controllerConfigured: boolean;
  /** UTC ms: plays are read up to here, and a suspension whose `until` is at or before it has expired. */
  now: number;
}

const ORDER_TYPES: readonly EventType[] = ["suspended", "resumed", "takedown"];

/** The stored schedule's `campaignAppliedAt`, in ms. */
export function appliedTimes(current: CurrentSchedule): Record<string, number> {
  return Object.fromEntries(Object.entries(current.campaignAppliedAt).map(([id, at]) => [id, Date.parse(at)]));
}

/**
 * The orders in force, replayed from every order event in the ledger. Read whatever their time
 * says: an order recorded is in force even when the wall clock has since stepped back before it.
 */
export function readLiveOrders(reader: Pick<HistoryReader, "events">, opts: LiveOrdersOptions): LiveOrders {
  return liveOrders(eventsOfTypes(reader, ORDER_TYPES), opts);
}

/**
 * The planner's `suspensions` and `takedowns` from the orders: the playout calls it after each
 * order, without reading the ledger again. `ended` are takedowns that no longer stand (with
 * their `to`): the planner owes nothing for the time they held.
 */
export function plannerOrders(orders: Pick<LiveOrders, "suspension" | "takedowns">, ended: readonly Takedown[] = []): { suspensions: LiveSuspension[]; takedowns: Takedown[] } {
  const s = orders.suspension;
  const suspensions: LiveSuspension[] = s ? [{ from: s.since, ...(s.until !== null ? { to: s.until } : {}), reason: s.reason, campaigns: s.campaigns, blackout: s.blackout }] : [];
  const standing = orders.takedowns.map((t): Takedown => ({ at: t.at, ...(t.campaign !== undefined ? { campaign: t.campaign } : { creative: t.creative }) }));
  return { suspensions, takedowns: [...standing, ...ended.filter((t) => t.to !== undefined)] };
}

/**
 * Everything the planner takes from history for `current`: the plays from the earliest time a
 * campaign of it was applied up to `now` (a play counted once applied; earlier ones are owed
 * nothing), and the orders in force at `now` under its version.
 */
export function plannerHistory(reader: HistoryReader, current: CurrentSchedule, opts: HistoryOptions): PlannerHistory {
  const appliedAt = appliedTimes(current);
  const delivered = new DeliveredTally({ zone: current.document.timezone, controllerConfigured: opts.controllerConfigured });
  const since = Math.min(...Object.values(appliedAt)); // Infinity with no campaigns: no plays to read
  if (since < opts.now) delivered.addAll(reader.plays({ from: isoTime(since), to: isoTime(opts.now) }));
  const orders = readLiveOrders(reader, { scheduleVersion: current.document.version, now: opts.now });
  return { delivered, appliedAt, orders, ...plannerOrders(orders, readTakedownPeriods(reader).periods) };
}
