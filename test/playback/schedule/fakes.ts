// An in-memory ledger for applyEnvelope: appends land in `events` (in order), lastEvent reads
// them back the way LedgerReader.lastEvent does; `failAppends` makes every append throw.
import type { ScheduleLedger } from "../../../agent/playback/schedule/index.js";
import type { AppendInput } from "../../../agent/proofs/types.js";

export function memoryLedger(events: AppendInput[] = [], opts: { failAppends?: () => boolean } = {}): ScheduleLedger {
  return {
    append(input) {
      if (opts.failAppends?.()) throw new Error("ledger append refused: disk full (test)");
      events.push(input);
    },
    lastEvent(type) {
      for (let i = events.length - 1; i >= 0; i--) {
        const e = events[i];
        if (e.kind === "event" && e.event.type === type) return { at: `2026-12-01T00:00:0${i % 10}.000Z`, event: e.event };
      }
      return null;
    },
  };
}
