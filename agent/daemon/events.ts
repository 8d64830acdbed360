// What the controller's poller and the brightness schedule report, as ledger events. The ledger's
// event types are fixed by the proof format, and a failed brightness change is not one of them:
// it is a fault of the controller as far as the screen is concerned, so it is recorded as
// `controller.fault` with `fault: "brightness.failed"`.
import type { BrightnessEvent, ControllerEvent } from "../drivers/index.js";
import type { Logger } from "../log.js";
import type { EventType } from "../proofs/types.js";

/** A ledger event: its type and its detail (the ledger adds the time). */
export interface LedgerEventRecord {
  type: EventType;
  detail: Record<string, unknown>;
}

export type DeviceEvent = ControllerEvent | BrightnessEvent;

/** The ledger event for a controller or brightness event. Pure. */
export function ledgerEventFor(event: DeviceEvent): LedgerEventRecord {
  switch (event.type) {
    case "controller.fault":
      return { type: "controller.fault", detail: { faults: event.faults, newFaults: event.newFaults, detail: event.detail } };
    case "controller.recovered":
      return { type: "controller.recovered", detail: { cleared: event.cleared, faults: event.faults } };
    case "brightness.changed":
      return {
        type: "brightness.changed",
        detail: {
          percent: event.percent,
          previous: event.previous,
          source: event.source,
          ...(event.until === undefined ? {} : { until: new Date(event.until).toISOString() }),
        },
      };
    case "brightness.failed":
      return { type: "controller.fault", detail: { fault: "brightness.failed", percent: event.percent, reason: event.reason, source: event.source } };
  }
}

/** What the recorder needs of the ledger. */
export interface EventLedger {
  event(type: EventType, detail?: Record<string, unknown>): unknown;
}

export interface DeviceEventRecorderDeps {
  /** The ledger while it is open; null before it opens and after it closes. */
  ledger: () => EventLedger | null;
  log: Logger;
}

/**
 * Records device events in the ledger. A ledger that fails (a full disk) is logged and never
 * crashes the daemon. A brightness change that keeps failing for the same reason is recorded
 * once per streak, not every retry (every 30 s): the retries are in the log, the ledger holds the
 * fault and, once a change succeeds again, the brightness.changed that ends it.
 */
export class DeviceEventRecorder {
  private failureStreak: string | null = null;

  constructor(private readonly deps: DeviceEventRecorderDeps) {}

  record(event: DeviceEvent): void {
    if (!this.worthRecording(event)) return;
    const { type, detail } = ledgerEventFor(event);
    const ledger = this.deps.ledger();
    if (!ledger) {
      this.deps.log.warn({ type, detail }, "device event not recorded: the ledger is not open");
      return;
    }
    try {
      ledger.event(type, detail);
    } catch (err) {
      this.deps.log.error({ err, type, detail }, "device event could not be recorded in the ledger");
    }
  }

  private worthRecording(event: DeviceEvent): boolean {
    if (event.type === "brightness.changed") this.failureStreak = null;
    if (event.type !== "brightness.failed") return true;
    const key = JSON.stringify([event.percent, event.source, event.reason]);
    if (key === this.failureStreak) return false;
    this.failureStreak = key;
    return true;
  }
}
