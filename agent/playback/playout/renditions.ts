// The renditions a schedule needs, prepared in the background one creative at a time (the
// pipeline fetches, verifies and fits; a rendition already in the cache comes back at once).
// Each schedule gets its own shelf, so a new schedule's creatives are made ready while the old
// one keeps playing from its own.
import type { Logger } from "../../log.js";
import type { PreparedCreative } from "../creatives/types.js";
import type { ScheduleDocument } from "../schedule/document.js";
import type { PlayoutCreatives } from "./types.js";

export interface Rejection {
  creative: string;
  sha256: string;
  reason: string;
  message: string;
}

export interface ShelfDeps {
  creatives: PlayoutCreatives;
  log: Logger;
  /** A creative the pipeline refused: recorded once per shelf (creative.rejected). */
  onRejected: (rejection: Rejection) => void;
}

/** The approved creatives a schedule can air, fill first (they stand in for the rest). */
export function creativesToPrepare(doc: ScheduleDocument): ScheduleDocument["creatives"] {
  const inCampaigns = new Set<string>();
  for (const c of doc.campaigns) for (const id of c.creatives) inCampaigns.add(id);
  const approved = doc.creatives.filter((c) => c.approved === true);
  const fill = new Set(doc.fill);
  // Fill first (the screen is never black), then what campaigns play, then approved creatives no
  // campaign names: ops may still play them with play.now.
  return [
    ...approved.filter((c) => fill.has(c.id)),
    ...approved.filter((c) => !fill.has(c.id) && inCampaigns.has(c.id)),
    ...approved.filter((c) => !fill.has(c.id) && !inCampaigns.has(c.id)),
  ];
}

export class Shelf {
  private readonly ready = new Map<string, PreparedCreative>();
  private fillTurn = 0;
  private readonly failures = new Map<string, number>();
  /** Settles when every creative was tried. */
  readonly done: Promise<void>;

  constructor(
    readonly doc: ScheduleDocument,
    work: (shelf: Shelf) => Promise<void>,
  ) {
    this.done = work(this);
  }

  get(creative: string): PreparedCreative | null {
    return this.ready.get(creative) ?? null;
  }

  /** Told each time a creative becomes ready (the playout places plays stood in for it again). */
  onReady: ((creative: string) => void) | null = null;

  put(prepared: PreparedCreative): void {
    this.ready.set(prepared.id, prepared);
    this.onReady?.(prepared.id);
  }

  /** The next ready fill in rotation, for an item that cannot play its own creative. */
  standIn(): PreparedCreative | null {
    const fill = this.doc.fill;
    for (let i = 0; i < fill.length; i++) {
      const id = fill[(this.fillTurn + i) % fill.length] as string;
      const prepared = this.ready.get(id);
      if (prepared) {
        this.fillTurn = (this.fillTurn + i + 1) % fill.length;
        return prepared;
      }
    }
    return null;
  }

  /** A play of `creative` failed on the player: off the shelf until prepared again. Returns its failures so far. */
  withdraw(creative: string): number {
    this.ready.delete(creative);
    const failures = (this.failures.get(creative) ?? 0) + 1;
    this.failures.set(creative, failures);
    return failures;
  }

  get readyCount(): number {
    return this.ready.size;
  }
}

/** Makes shelves, and runs their preparation one creative at a time across all of them. */
export class RenditionPreparer {
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly deps: ShelfDeps) {}

  /** A shelf for `doc`, filled in the background; ids whose bytes another shelf holds are carried over. */
  shelfFor(doc: ScheduleDocument, carry: Shelf | null = null): Shelf {
    return new Shelf(doc, (shelf) => this.fill(shelf, carry));
  }

  close(): void {
    this.closed = true;
  }

  /** Prepares one creative of the shelf's schedule again (its rendition failed to play). */
  reprepare(shelf: Shelf, creative: string): Promise<void> {
    const entry = shelf.doc.creatives.find((c) => c.id === creative);
    return entry ? this.prepareOne(shelf, entry) : Promise.resolve();
  }

  private async fill(shelf: Shelf, carry: Shelf | null): Promise<void> {
    for (const entry of creativesToPrepare(shelf.doc)) {
      const held = carry?.get(entry.id);
      if (held && held.sourceSha256 === entry.sha256.toLowerCase()) {
        shelf.put(held);
        continue;
      }
      await this.prepareOne(shelf, entry);
    }
  }

  /** Queued behind every other preparation: one fetch and one transcode at a time. */
  private prepareOne(shelf: Shelf, entry: ScheduleDocument["creatives"][number]): Promise<void> {
    const run = async (): Promise<void> => {
      if (this.closed) return;
      try {
        const prepared = await this.deps.creatives.prepare({ id: entry.id, url: entry.url, sha256: entry.sha256, durationMs: entry.durationMs });
        shelf.put(prepared);
      } catch (err) {
        const e = err as Error & { reason?: string };
        this.deps.log.warn({ creative: entry.id, reason: e.reason, err: e.message }, "creative not ready to air");
        this.deps.onRejected({ creative: entry.id, sha256: entry.sha256, reason: e.reason ?? "io-error", message: e.message });
      }
    };
    const next = this.tail.then(run, run);
    this.tail = next;
    return next;
  }
}
