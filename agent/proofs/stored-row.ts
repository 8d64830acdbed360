// A row of ledger_entries read back: its body is the entry (signed, hashed), its other columns
// only an index derived from the body at append time. Nothing read is trusted until its stored
// hash is its body's, and no index column is trusted unless it agrees with the body.
import { storedRowProblem, type StoredRow } from "./entry.js";
import { LedgerError } from "./errors.js";
import type { Entry } from "./types.js";

/** The index columns of an entry, as the ledger stores them beside its body. */
export interface IndexColumns {
  kind: string;
  /** When the entry was written: `proofs at` finds the event that explains a quiet screen by it. */
  at: string;
  /** play.startedAt for plays, at for events. */
  t: string;
  type: string | null;
  customer: string | null;
  campaign: string | null;
}

export function indexColumns(entry: Entry): IndexColumns {
  const play = entry.kind === "play" ? entry.play : undefined;
  const event = entry.kind === "event" ? entry.event : undefined;
  return {
    kind: entry.kind,
    at: entry.at,
    t: play?.startedAt ?? entry.at,
    type: event?.type ?? null,
    customer: play?.customer ?? stringOrNull(event?.customer),
    campaign: play?.campaign ?? stringOrNull(event?.campaign),
  };
}

function stringOrNull(x: unknown): string | null {
  return typeof x === "string" ? x : null;
}

const RESTORE = "restore the database from a backup (the upstream collector holds every synced entry)";

/** The entry a row holds, once its stored hash is its body's; else refused, naming the seq. */
export function trustedEntry(row: StoredRow, what = "read"): Entry {
  const problem = storedRowProblem(row);
  if (problem) throw new LedgerError(`${what} refused at seq ${row.seq}: ${problem}. To recover: ${RESTORE}`, "damaged-row");
  let entry: Entry;
  try {
    entry = JSON.parse(row.body) as Entry;
  } catch {
    throw new LedgerError(`${what} refused at seq ${row.seq}: its body is not JSON (the database was altered or damaged). To recover: ${RESTORE}`, "damaged-row");
  }
  if (entry.seq !== row.seq) {
    throw new LedgerError(`${what} refused at seq ${row.seq}: its body says seq ${String(entry.seq)} (the database was altered or damaged). To recover: ${RESTORE}`, "damaged-row");
  }
  return entry;
}

/**
 * Refuses a row whose index columns disagree with its body: a filter on them would otherwise
 * select an entry by what its index says rather than what it is (one customer's play shipped
 * whole in another's export).
 */
export function checkIndexColumns(row: IndexColumns & { seq: number }, entry: Entry, what = "read"): void {
  const want = indexColumns(entry);
  const wrong = (Object.keys(want) as (keyof IndexColumns)[]).find((k) => row[k] !== want[k]);
  if (wrong === undefined) return;
  throw new LedgerError(
    `${what} refused at seq ${row.seq}: its ${wrong} column says ${JSON.stringify(row[wrong])} but the signed entry says ${JSON.stringify(want[wrong])} ` +
      `(the database index was altered or damaged; the entry was not shown). To recover: ${RESTORE}`,
    "index-mismatch",
  );
}
