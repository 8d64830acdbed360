// The planner's `delivered` input kept up to date play by play: the daemon reads the ledger once
// at start, then adds each play it records, instead of reading the history again for every plan.
// The same per-play rule as countDelivered (agent/playback/delivery/delivery.ts).
import { tallyDelivered, type DeliveredTallies, type TallyOptions } from "../delivery/delivery.js";
import type { DeliveredCounts } from "../planner/types.js";
import type { PlayEntry } from "../../proofs/types.js";

export class DeliveredTally {
  private readonly tallies: DeliveredTallies = new Map();

  /**
   * Counts are kept by clock hour in `zone`: a schedule in another zone (one whose hours do not
   * line up, such as +05:30 against +08:00) needs a fresh tally read from the ledger.
   */
  constructor(private readonly opts: TallyOptions) {}

  get zone(): string {
    return this.opts.zone;
  }

  /** Counts one play (once: the tally cannot tell a play it has seen). Returns whether it counted as delivered. */
  add(entry: PlayEntry): boolean {
    return tallyDelivered(this.tallies, entry, this.opts);
  }

  addAll(entries: Iterable<PlayEntry>): this {
    for (const entry of entries) this.add(entry);
    return this;
  }

  /** A live view, for the planner to read during one plan: it changes with every add(). */
  counts(): ReadonlyMap<string, DeliveredCounts> {
    return this.tallies;
  }
}
