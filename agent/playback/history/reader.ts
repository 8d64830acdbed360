// The ledger as the history readers need it: the two queries LedgerReader offers, so a test can
// pass a fake and the daemon its Ledger.
import type { TimeRange } from "../../proofs/ledger.js";
import type { EventEntry, EventType, PlayEntry } from "../../proofs/types.js";

export interface HistoryReader {
  plays(range?: TimeRange): Iterable<PlayEntry>;
  events(range?: TimeRange & { type?: EventType }): Iterable<EventEntry>;
}

/** Events of several types in one list, in ledger (seq) order, as the replays need them. */
export function eventsOfTypes(reader: Pick<HistoryReader, "events">, types: readonly EventType[], range: TimeRange = {}): EventEntry[] {
  return types.flatMap((type) => [...reader.events({ ...range, type })]).sort((a, b) => a.seq - b.seq);
}

export const isoTime = (ms: number): string => new Date(ms).toISOString();
