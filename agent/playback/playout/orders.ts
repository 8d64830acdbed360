// The live orders in force (suspension, takedowns). The ledger is their only store: each order
// is recorded first and the state is read back from the recorded events, so a restart (or a
// kill -9) finds exactly what was in force.
import { CommandFailure, type CommandOrigin, type LiveSuspension, type LiveTakedown, type SuspendOrder, type TakedownOrder, type TakedownTarget } from "../../commands/types.js";
import type { Logger } from "../../log.js";
import type { EventEntry, EventType } from "../../proofs/types.js";
import { describeOrigin, eventsOfTypes, liveOrders, plannerOrders, resumedEvent, suspendedEvent, takedownEvent, takedownPeriods, type LiveOrders } from "../history/index.js";
import type { LiveSuspension as PlannerSuspension, Takedown } from "../planner/types.js";
import type { ScheduleDocument } from "../schedule/document.js";
import type { PlayoutClock, PlayoutLedger } from "./types.js";

const ORDER_TYPES: readonly EventType[] = ["suspended", "resumed", "takedown"];

export interface OrderBookDeps {
  ledger: PlayoutLedger;
  log: Logger;
  clock: PlayoutClock;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export class OrderBook {
  private events: EventEntry[] = [];
  private version: number | null = null;
  private state: LiveOrders = { suspension: null, expired: null, takedowns: [], skipped: [] };
  private ended: Takedown[] = [];

  constructor(private readonly deps: OrderBookDeps) {}

  /** Reads every order ever recorded, in ledger order, and what is in force under `version`. */
  load(version: number | null): void {
    this.events = eventsOfTypes(this.deps.ledger, ORDER_TYPES);
    this.rebase(version);
    for (const s of this.state.skipped) this.deps.log.warn(s, "an order in the ledger could not be read; it is not in force");
  }

  /** A new schedule took over: takedowns given under the old one no longer stand. */
  rebase(version: number | null): void {
    this.version = version;
    this.recompute();
  }

  suspend(order: SuspendOrder, doc: ScheduleDocument | null): LiveSuspension {
    if (doc && order.campaigns) {
      const unknown = order.campaigns.filter((c) => !doc.campaigns.some((k) => k.id === c));
      if (unknown.length > 0) throw new CommandFailure("not-found", `no campaign ${unknown.join(", ")} in schedule v${doc.version}`);
    }
    const until = order.until === null ? null : Date.parse(order.until);
    this.record("suspended", suspendedEvent({ ...order, until, by: describeOrigin(order.origin), scheduleVersion: this.version }));
    return this.suspensionStatus() as LiveSuspension;
  }

  resume(origin: CommandOrigin): { suspendedFor: number } {
    const live = this.state.suspension ?? this.state.expired;
    if (!live) throw new CommandFailure("not-suspended", "there is no live suspension to resume");
    const detail = resumedEvent(live, { endedAt: this.deps.clock.wallMs(), auto: false, by: describeOrigin(origin) });
    this.record("resumed", detail);
    return { suspendedFor: detail.suspendedForMs };
  }

  /** Records the automatic resume of a suspension whose `until` has passed; true when it did. */
  expire(): boolean {
    // Checked every second: compare the live suspension's until with the clock rather than
    // replaying every order event to learn the same.
    const live = this.state.suspension;
    const expired = this.state.expired ?? (live && live.until !== null && live.until <= this.deps.clock.wallMs() ? live : null);
    if (!expired) return false;
    this.record("resumed", resumedEvent(expired, { endedAt: expired.until ?? this.deps.clock.wallMs(), auto: true, by: "agent" }));
    return true;
  }

  takedown(order: TakedownOrder, doc: ScheduleDocument | null): LiveTakedown {
    refuseUnknownTarget(order.target, doc);
    const already = this.standing(order.target);
    if (!already) this.record("takedown", takedownEvent({ target: order.target, immediate: order.immediate, lift: false, scheduleVersion: this.version, by: describeOrigin(order.origin) }));
    return this.takedownStatus().find((t) => sameTarget(t, order.target)) as LiveTakedown;
  }

  lift(target: TakedownTarget, origin: CommandOrigin): void {
    if (!this.standing(target)) throw new CommandFailure("not-found", `no standing takedown of ${describeTarget(target)}`);
    this.record("takedown", takedownEvent({ target, immediate: false, lift: true, scheduleVersion: this.version, by: describeOrigin(origin) }));
  }

  takenDown(campaign: string, creative: string): boolean {
    return this.state.takedowns.some((t) => t.campaign === campaign || t.creative === creative);
  }

  suspensionStatus(): LiveSuspension | null {
    const s = this.state.suspension;
    return s ? { reason: s.reason, until: s.until === null ? null : iso(s.until), campaigns: s.campaigns, blackout: s.blackout, since: iso(s.since) } : null;
  }

  takedownStatus(): LiveTakedown[] {
    return this.state.takedowns.map((t) => ({ campaign: t.campaign ?? null, creative: t.creative ?? null, since: iso(t.at) }));
  }

  /** The planner's view: the live suspension (if any) and the standing takedowns. */
  planner(): { suspensions: PlannerSuspension[]; takedowns: Takedown[] } {
    return plannerOrders(this.state, this.ended);
  }

  private standing(target: TakedownTarget): boolean {
    return this.state.takedowns.some((t) => sameTarget({ campaign: t.campaign ?? null, creative: t.creative ?? null }, target));
  }

  /** Durable before it is in force: an order the ledger did not take is refused, not half-kept. */
  private record(type: EventType, detail: object): void {
    const entry = this.deps.ledger.event(type, detail as Record<string, unknown>);
    this.events.push(entry);
    this.recompute();
  }

  private recompute(): void {
    this.state = liveOrders(this.events, { scheduleVersion: this.version, now: this.deps.clock.wallMs() });
    // Lifted ones, for the planner to owe nothing for the time they held (a replaced schedule's
    // are not known here: their campaigns were applied again under the new one).
    this.ended = takedownPeriods(this.events).periods.filter((p) => p.to !== undefined);
  }
}

function sameTarget(t: { campaign: string | null; creative: string | null }, target: TakedownTarget): boolean {
  return "campaign" in target ? t.campaign === target.campaign : t.creative === target.creative;
}

function describeTarget(target: TakedownTarget): string {
  return "campaign" in target ? `campaign ${target.campaign}` : `creative ${target.creative}`;
}

function refuseUnknownTarget(target: TakedownTarget, doc: ScheduleDocument | null): void {
  if (!doc) return;
  const known = "campaign" in target ? doc.campaigns.some((c) => c.id === target.campaign) : doc.creatives.some((c) => c.id === target.creative);
  if (!known) throw new CommandFailure("not-found", `no ${describeTarget(target)} in schedule v${doc.version}`);
}
