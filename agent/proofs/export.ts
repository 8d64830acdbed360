// Exports the ledger as JSON Lines (verifiable) or CSV play detail (a report), a page of rows at
// a time with backpressure, so a ledger of any length exports in flat memory.
import { once } from "node:events";
import type { Writable } from "node:stream";
import { DateTime } from "luxon";
import { pagesBySeq } from "../store/index.js";
import type { LedgerReader } from "./ledger.js";
import { checkIndexColumns, indexColumns, trustedEntry, type IndexColumns } from "./stored-row.js";
import type { Entry, PlayEntry } from "./types.js";

export interface ExportFilter {
  customer?: string;
  campaign?: string;
  /** Inclusive ISO time; plays by startedAt, events by at. */
  from?: string;
  /** Exclusive ISO time. */
  to?: string;
}

export interface ExportResult {
  lines: number;
  entries: number;
  stubs: number;
  firstSeq: number | null;
  lastSeq: number | null;
}

const PAGE = 250;

// The filters; plays are matched by start (t), events by when written.
const FILTER_KEYS: readonly (keyof ExportFilter)[] = ["customer", "campaign", "from", "to"];

/**
 * Whether the entry itself (its signed body, never the index columns beside it) matches the
 * filter: the index only narrows what is read.
 */
function matches(entry: Entry, f: ExportFilter): boolean {
  const c = indexColumns(entry);
  return (
    (f.customer === undefined || c.customer === f.customer) &&
    (f.campaign === undefined || c.campaign === f.campaign) &&
    (f.from === undefined || c.t >= f.from) &&
    (f.to === undefined || c.t < f.to)
  );
}

export function isFiltered(f: ExportFilter): boolean {
  return FILTER_KEYS.some((key) => f[key] !== undefined);
}

async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, "drain");
}

/**
 * Writes the export. Unfiltered: every entry. Filtered: the range from the first matching entry
 * to the ledger's head (to the last matching entry when `to` is given), matching entries whole and
 * every other entry as a `{ "seq", "hash" }` stub, so the chain still links and, without `to`,
 * the export can be checked against a signed head.
 *
 * Every row from seq 1 is read and checked, stubs' too: a stub states a hash, and it must be its
 * entry's; and both whether a row is shown whole and where the range starts and ends are decided by
 * signed bodies, never by the index columns beside them, which anyone with the file could edit to
 * drop a customer's entry off the edge of their export.
 */
export async function exportJsonl(reader: LedgerReader, filter: ExportFilter, out: Writable): Promise<ExportResult> {
  const result: ExportResult = { lines: 0, entries: 0, stubs: 0, firstSeq: null, lastSeq: null };
  const filtered = isFiltered(filter);
  const stubs = reader.db.prepare("SELECT seq, hash FROM ledger_entries WHERE seq >= ? AND seq <= ? ORDER BY seq");
  // Non-matching rows after the last match: stubs only once a later match (or the head) shows
  // they are inside the range. Kept as a seq range, read back when needed: flat memory.
  let pendingFrom: number | null = null;
  const emitStubs = async (from: number, to: number): Promise<void> => {
    let chunk = "";
    for (const r of stubs.iterate(from, to) as Iterable<{ seq: number; hash: string }>) {
      chunk += `{"seq":${r.seq},"hash":"${r.hash}"}\n`;
      result.stubs++;
      result.lines++;
      if (chunk.length > 64 * 1024) {
        await write(out, chunk);
        chunk = "";
      }
    }
    await write(out, chunk);
  };
  const page = reader.db.prepare(`SELECT ${ROW_COLUMNS} FROM ledger_entries WHERE seq > ? ORDER BY seq LIMIT ?`);
  for (const rows of pagesBySeq((after) => page.all(after, PAGE) as Row[], PAGE)) {
    let chunk = "";
    for (const r of rows) {
      const entry = checkedEntry(r);
      if (filtered && !matches(entry, filter)) {
        if (result.firstSeq !== null) pendingFrom ??= r.seq;
        continue;
      }
      if (pendingFrom !== null) {
        await write(out, chunk);
        chunk = "";
        await emitStubs(pendingFrom, r.seq - 1);
        pendingFrom = null;
      }
      chunk += r.body + "\n";
      result.entries++;
      result.lines++;
      result.firstSeq ??= r.seq;
      result.lastSeq = r.seq;
    }
    await write(out, chunk);
  }
  // Without `to`, the range runs to the head, so the export can be checked against a signed head.
  if (pendingFrom !== null && filter.to === undefined) {
    const head = reader.head()?.seq ?? pendingFrom - 1;
    await emitStubs(pendingFrom, head);
    result.lastSeq = head;
  }
  return result;
}

type Row = { seq: number; hash: string; body: string } & IndexColumns;
const ROW_COLUMNS = "seq, hash, body, kind, at, t, type, customer, campaign";

/**
 * The row's entry, refused (naming the seq) when its stored hash is not its body's or its index
 * columns disagree with its body: exported, it would carry a wrong hash as a stub, or be shown
 * whole to a customer it does not belong to, and a damaged ledger would leave the device looking
 * valid. Nothing for the row or after it is written.
 */
function checkedEntry(r: Row): Entry {
  const entry = trustedEntry(r, "export");
  checkIndexColumns(r, entry, "export");
  return entry;
}

const CSV_HEADER = ["seq", "customer", "campaign", "creative", "start", "end", "durationMs", "status", "makeGood", "screenVerified"];

function csvField(value: string | number | boolean): string {
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function localTime(iso: string, timezone: string): string {
  const t = DateTime.fromISO(iso, { zone: "utc" }).setZone(timezone);
  return t.isValid ? (t.toISO() ?? iso) : iso;
}

/** The human play detail: one row per matching play, times in `timezone`. Not a verifiable artefact. */
export async function exportCsv(reader: LedgerReader, filter: ExportFilter, timezone: string, out: Writable): Promise<ExportResult> {
  const result: ExportResult = { lines: 0, entries: 0, stubs: 0, firstSeq: null, lastSeq: null };
  await write(out, CSV_HEADER.join(",") + "\n");
  // Every row is read and checked, and matched by its body: a play whose index columns were
  // edited (its kind, customer or time) must be refused, not silently left out of a report.
  const page = reader.db.prepare(`SELECT ${ROW_COLUMNS} FROM ledger_entries WHERE seq > ? ORDER BY seq LIMIT ?`);
  for (const rows of pagesBySeq((after) => page.all(after, PAGE) as Row[], PAGE)) {
    let chunk = "";
    for (const r of rows) {
      const entry = checkedEntry(r);
      if (entry.kind !== "play" || !matches(entry, filter)) continue;
      const { play } = entry as PlayEntry;
      const row = [
        r.seq, play.customer, play.campaign, play.creative,
        localTime(play.startedAt, timezone), localTime(play.endedAt, timezone),
        play.durationMs, play.status, play.makeGood, play.screenState.verified,
      ];
      chunk += row.map(csvField).join(",") + "\n";
      result.entries++;
      result.lines++;
      result.firstSeq ??= r.seq;
      result.lastSeq = r.seq;
    }
    await write(out, chunk);
  }
  return result;
}
