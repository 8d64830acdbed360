// The `events` topic: alerts an operator acts on (a controller fault or recovery, a creative
// refused, a suspension, under-delivery, a low disk). They are read from the ledger as it grows,
// so an alert exists exactly when its record does; the ledger itself travels by proof sync. While
// the link is down, alerts wait in a bounded queue (the oldest give way, counted in the log).
import type { Logger } from "pino";
import { screenTopic, type Publish } from "./types.js";

/** The ledger event types that are alerts; campaign.completed only when it fell short. */
export const ALERT_EVENT_TYPES = new Set([
  "controller.fault",
  "controller.recovered",
  "creative.rejected",
  "suspended",
  "resumed",
  "takedown",
  "schedule.rejected",
  "clock.jump",
  "campaign.completed",
]);

export interface Alert {
  type: string;
  at: string;
  /** The ledger entry that records it; absent for alerts about the machine (disk.low). */
  seq?: number;
  [detail: string]: unknown;
}

/** A ledger entry's alert, or null when the entry is not one. */
export function alertOf(entry: { seq: number; at: string; kind: string; event?: { type: string; [k: string]: unknown } }): Alert | null {
  if (entry.kind !== "event" || !entry.event || !ALERT_EVENT_TYPES.has(entry.event.type)) return null;
  const { type, ...detail } = entry.event;
  if (type === "campaign.completed") {
    const shortfall = typeof detail.shortfall === "number" ? detail.shortfall : 0;
    return shortfall > 0 ? { ...detail, type: "under-delivery", seq: entry.seq, at: entry.at } : null;
  }
  return { ...detail, type, seq: entry.seq, at: entry.at };
}

export interface AlertPublisherDeps {
  screenId: string;
  publish: Publish;
  connected: () => boolean;
  log: Logger;
  /** Alerts kept while the link is down (default 500). */
  maxQueued?: number;
}

export class AlertPublisher {
  private readonly queue: Alert[] = [];
  private dropped = 0;
  private flushing = false;

  constructor(private readonly deps: AlertPublisherDeps) {}

  /** The ledger seq of the oldest alert still waiting to be sent, or null. */
  firstPendingSeq(): number | null {
    return this.queue.find((a) => a.seq !== undefined)?.seq ?? null;
  }

  add(alert: Alert): void {
    this.queue.push(alert);
    const max = this.deps.maxQueued ?? 500;
    while (this.queue.length > max) {
      this.queue.shift();
      this.dropped++;
    }
    void this.flush();
  }

  /** Sends what waits, in order; stops at the first failure (the link went down) and keeps the rest. */
  async flush(): Promise<void> {
    if (this.flushing || !this.deps.connected()) return;
    this.flushing = true;
    try {
      if (this.dropped > 0) {
        this.deps.log.warn({ dropped: this.dropped }, "alerts dropped while the link was down (their ledger entries travel by proof sync)");
        this.dropped = 0;
      }
      // Taken off the queue while it is sent, so an overflow meanwhile never drops it (or counts it).
      for (let alert = this.queue.shift(); alert; alert = this.queue.shift()) {
        try {
          await this.deps.publish(screenTopic(this.deps.screenId, "events"), JSON.stringify(alert), { qos: 1 });
        } catch (err) {
          this.queue.unshift(alert);
          this.deps.log.debug({ err: (err as Error).message, waiting: this.queue.length }, "alerts wait for the link");
          return;
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}

/** disk.low once when free space falls under the limit, again only after it rose 20 % above it. */
export class DiskWatch {
  private low = false;

  constructor(private readonly limitBytes: number) {}

  check(freeBytes: number | null, at: string): Alert | null {
    if (freeBytes === null) return null;
    if (!this.low && freeBytes < this.limitBytes) {
      this.low = true;
      return { type: "disk.low", at, freeBytes, limitBytes: this.limitBytes };
    }
    if (this.low && freeBytes > this.limitBytes * 1.2) this.low = false;
    return null;
  }
}
