// How `schedule plan` prints a plan: as a table for people or as JSON, line by line, waiting for
// the reader. A month of short items is millions of lines; building them into one string first
// cost hundreds of megabytes and, with a per-line locale lookup, most of a minute.
import type { Writable } from "node:stream";
import type { Plan } from "../playback/planner/index.js";

/** Writes `lines` to `out`, each followed by a newline, honouring back-pressure. */
export async function writeLines(out: Writable, lines: Iterable<string>): Promise<void> {
  for (const line of lines) {
    if (!out.write(`${line}\n`)) await new Promise<void>((resolve) => out.once("drain", resolve));
  }
}

const pad = (text: string, width: number): string => text.padEnd(width);

/** "YYYY-MM-DD HH:MM:SS" in `zone`, from one formatter made once. */
function localTimes(zone: string): (iso: string) => string {
  const format = new Intl.DateTimeFormat("sv-SE", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
  return (iso) => format.format(new Date(iso));
}

export function* planTableLines(p: Plan, zone: string): Generator<string> {
  const local = localTimes(zone);
  yield `plan ${p.from} .. ${p.to} (schedule v${p.scheduleVersion}, times in ${zone})`;
  yield `${pad("start", 20)} ${pad("len s", 6)} ${pad("campaign", 20)} ${pad("creative", 20)} note`;
  for (const i of p.items) {
    const note = i.blackout ? "blackout" : i.fill ? "fill" : i.makeGood ? "make-good" : "";
    yield `${pad(local(i.at), 20)} ${pad((i.durationMs / 1000).toFixed(1), 6)} ${pad(i.campaign ?? "-", 20)} ${pad(i.creative ?? "-", 20)} ${note}`;
  }
  yield p.shortfalls.length ? `shortfalls (${p.shortfalls.length}):` : "shortfalls: none";
  for (const s of p.shortfalls) yield `  ${local(s.period)} ${s.periodKind} ${s.campaign}: contracted ${s.contracted}, planned ${s.planned}, short ${s.missing} — ${s.reason}`;
  if (p.bends.length) yield `moved plays (${p.bends.length}):`;
  for (const b of p.bends) yield `  ${local(b.at)} ${b.campaign}: window ${local(b.windowFrom)}–${local(b.windowTo)} — ${b.reason}`;
  for (const m of p.makeGoods) yield `make-good ${m.campaign}: owed ${m.owed}, planned ${m.planned}`;
}

/** The plan and its warnings as one JSON object: each list element on a line of its own. */
export function* planJsonLines(p: Plan, warnings: readonly string[]): Generator<string> {
  const { items, shortfalls, bends, makeGoods, ...head } = p;
  const lists: [string, readonly unknown[]][] = [
    ["items", items],
    ["shortfalls", shortfalls],
    ["bends", bends],
    ["makeGoods", makeGoods],
    ["warnings", warnings],
  ];
  yield "{";
  for (const [key, value] of Object.entries(head)) yield `  ${JSON.stringify(key)}: ${JSON.stringify(value)},`;
  for (const [n, [key, list]] of lists.entries()) {
    const last = n === lists.length - 1;
    if (list.length === 0) {
      yield `  ${JSON.stringify(key)}: []${last ? "" : ","}`;
      continue;
    }
    yield `  ${JSON.stringify(key)}: [`;
    for (let i = 0; i < list.length; i++) yield `    ${JSON.stringify(list[i])}${i < list.length - 1 ? "," : ""}`;
    yield `  ]${last ? "" : ","}`;
  }
  yield "}";
}
