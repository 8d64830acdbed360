// Delivery accounting from the ledger's play entries: what counts as delivered (proof-format.md:
// `completed` on a verified screen, or with no controller by design), per campaign, per hour
// and day, against what the contract asked for, and the make-goods still owed. Pure.
import { buildContext } from "../planner/context.js";
import { contracted, HOUR_MS } from "../planner/demands.js";
import { daysOverlapping, hourStart, hoursOverlapping, toIso } from "../planner/time.js";
import type { DeliveredCounts, PlanSchedule, Takedown } from "../planner/types.js";
import type { PlayEntry } from "../../proofs/types.js";

export function isDelivered(entry: PlayEntry, controllerConfigured: boolean): boolean {
  const p = entry.play;
  return p.status === "completed" && (p.screenState.verified || !controllerConfigured);
}

/** The planner's `delivered` input: regular plays by clock hour (schedule zone), make-goods in total. */
export function countDelivered(plays: Iterable<PlayEntry>, opts: { zone: string; controllerConfigured: boolean }): Map<string, DeliveredCounts> {
  const out = new Map<string, { byHour: Map<number, number>; makeGoods: number }>();
  for (const entry of plays) {
    if (!isDelivered(entry, opts.controllerConfigured)) continue;
    const p = entry.play;
    let counts = out.get(p.campaign);
    if (!counts) out.set(p.campaign, (counts = { byHour: new Map(), makeGoods: 0 }));
    if (p.makeGood) counts.makeGoods++;
    else {
      const h = hourStart(Date.parse(p.startedAt), opts.zone);
      counts.byHour.set(h, (counts.byHour.get(h) ?? 0) + 1);
    }
  }
  return out;
}

export interface DeliveryRow {
  campaign: string;
  customer: string;
  /** Start of the day in the schedule's zone, UTC. */
  day: string;
  contracted: number;
  delivered: number;
  makeGoods: number;
  shortfall: number;
  /** Make-goods owed at the end of this day (makeGood campaigns; 0 otherwise). */
  owed: number;
}

export interface DeliveryInput {
  schedule: PlanSchedule;
  plays: Iterable<PlayEntry>;
  from: number;
  to: number;
  controllerConfigured: boolean;
  /** Owed plays count from when this agent applied each campaign; without it, from `from`. */
  appliedAt?: Readonly<Record<string, number>>;
  takedowns?: readonly Takedown[];
  customer?: string;
}

export function deliveryReport(input: DeliveryInput): DeliveryRow[] {
  const zone = input.schedule.timezone;
  const ctx = buildContext({ schedule: input.schedule, from: input.from, to: input.to, takedowns: input.takedowns });
  const plays = [...input.plays].filter((e) => {
    const t = Date.parse(e.play.startedAt);
    return t >= input.from && t < input.to && (!input.customer || e.play.customer === input.customer);
  });
  const delivered = countDelivered(plays, { zone, controllerConfigured: input.controllerConfigured });
  const makeGoodsByDay = new Map<string, number>();
  for (const e of plays) {
    if (!e.play.makeGood || !isDelivered(e, input.controllerConfigured)) continue;
    const key = `${e.play.campaign}@${daysOverlapping(Date.parse(e.play.startedAt), Date.parse(e.play.startedAt) + 1, zone)[0][0]}`;
    makeGoodsByDay.set(key, (makeGoodsByDay.get(key) ?? 0) + 1);
  }
  const rows: DeliveryRow[] = [];
  for (const runner of ctx.runners) {
    const c = runner.campaign;
    if (c.exclusive || (input.customer && c.customer !== input.customer)) continue;
    const kind = c.playsPerHour !== undefined ? "hour" : "day";
    const counts = delivered.get(c.id);
    const notBefore = Math.max(input.from, input.appliedAt?.[c.id] ?? input.from);
    let owed = 0;
    for (const [dayFrom, dayTo] of daysOverlapping(input.from, input.to, zone)) {
      const end = Math.min(dayTo, input.to);
      let due = 0;
      let got = 0;
      let short = 0;
      if (kind === "hour") {
        for (const h of hoursOverlapping(Math.max(dayFrom, input.from), end, zone)) {
          const n = contracted(runner, "hour", h, h + HOUR_MS, zone, notBefore);
          const d = counts?.byHour.get(h) ?? 0;
          due += n;
          got += d;
          short += Math.max(0, n - d);
        }
      } else {
        due = contracted(runner, "day", dayFrom, dayTo, zone, notBefore);
        for (const h of hoursOverlapping(dayFrom, dayTo, zone)) got += counts?.byHour.get(h) ?? 0;
        short = Math.max(0, due - got);
      }
      const makeGoods = makeGoodsByDay.get(`${c.id}@${dayFrom}`) ?? 0;
      if (due === 0 && got === 0 && makeGoods === 0) continue;
      if (c.makeGood) owed = Math.max(0, owed + short - makeGoods);
      rows.push({ campaign: c.id, customer: c.customer, day: toIso(dayFrom), contracted: due, delivered: got, makeGoods, shortfall: short, owed });
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
