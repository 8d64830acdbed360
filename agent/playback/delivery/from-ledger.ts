// The delivery report read from a device's ledger, for `ledagent report delivery` and the demo's
// closing summary: the plays in a window, against the stored schedule's contracts, with the time
// takedowns held left out of what was owed.
import type { Config } from "../../config.js";
import { openLedgerReader } from "../../proofs/open.js";
import { appliedTimes, readTakedownPeriods, type SkippedEntry } from "../history/index.js";
import type { CurrentSchedule } from "../schedule/index.js";
import { deliveryReport, type DeliveryRow } from "./delivery.js";

export interface DeliveryWindow {
  /** UTC ms. */
  from: number;
  to: number;
  customer?: string;
}

/** Rows per campaign and day; `onSkipped` hears of each ledger entry that could not be read. */
export function deliveryFromLedger(config: Config, current: CurrentSchedule, window: DeliveryWindow, onSkipped: (e: SkippedEntry) => void = () => undefined): DeliveryRow[] {
  const { from, to } = window;
  const { reader, close } = openLedgerReader(config);
  try {
    // Time a takedown held is not contracted, lifted or not (a lift ends it, as does a new schedule).
    const takedowns = readTakedownPeriods(reader, { to });
    takedowns.skipped.forEach(onSkipped);
    return deliveryReport({
      schedule: current.document,
      plays: reader.plays({ from: new Date(from).toISOString(), to: new Date(to).toISOString() }),
      from,
      to,
      controllerConfigured: config.controller.driver !== "none",
      appliedAt: appliedTimes(current),
      takedowns: takedowns.periods,
      customer: window.customer,
    });
  } finally {
    close();
  }
}

/** The report as a fixed-width table; days are local dates in the schedule's zone, as in the CSV. */
export function deliveryTable(rows: DeliveryRow[]): string {
  const lines = [`${pad("day", 12)} ${pad("customer", 16)} ${pad("campaign", 20)} contracted delivered make-goods short owed`];
  for (const r of rows) {
    const counts = [[r.contracted, 10], [r.delivered, 9], [r.makeGoods, 10], [r.shortfall, 5], [r.owed, 4]].map(([n, w]) => String(n).padStart(w)).join(" ");
    lines.push(`${pad(r.day, 12)} ${pad(r.customer, 16)} ${pad(r.campaign, 20)} ${counts}`);
  }
  return `${lines.join("\n")}\n`;
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}
