// Which item an mpv event is about. Pure: commands sent and events received go in, the
// player's item events come out, so the mapping is tested without mpv.
//
// How events find their item: every loadfile reply carries the playlist_entry_id mpv gave the
// file (mpv ≥ 0.34), and mpv 0.35 puts that id in start-file and end-file. The id is mpv's own
// and never reused, so it stays right however many items are queued, replaced or fail: no
// counting of positions, no file-name matching (the same creative is often queued twice in a
// row). file-loaded and playback-restart carry no id: they belong to the entry of the last
// start-file. The first playback-restart after a start-file is the first frame (the file is
// decoded and the clock runs); that is when an item has `started`.
//
// Replies and events come over one connection, but not always in the order mpv produced them:
// mpv's IPC thread writes a reply as soon as its command returns, ahead of events the core
// queued meanwhile. So an event for an id whose reply has not been read yet is kept and
// replayed when the reply arrives. A replace or stop is confirmed by its reply: entries that
// had not started by then never will, and are reported `discarded`. A clear keeps mpv's
// current entry, which the events read so far may not show (its start-file overtaken by the
// reply, or an entry a loadfile made current on an idle mpv before its start-file), so a clear
// is confirmed by mpv's playlist as listed right after it.
import type { Stamp } from "./client.js";

export interface PlayItem {
  /** The caller's id for this play; returned in every event about it. */
  id: string;
  /** An absolute path to a fitted creative. */
  file: string;
  kind: "video" | "still";
  /** How long a still stays on screen; a video plays to its end and this is not used. */
  durationMs?: number;
  /**
   * A cut: the item plays at most this long. A video stops there (mpv reports it as eof); for
   * a still it replaces durationMs.
   */
  lengthMs?: number;
}

export type EndReason = "eof" | "stop" | "error" | "quit";

export interface StartedEvent {
  item: PlayItem;
  at: Stamp;
}

export interface EndedEvent {
  item: PlayItem;
  reason: EndReason;
  at: Stamp;
  /** Its first frame, or null when it ended before showing one (an unreadable file). */
  startedAt: Stamp | null;
  /** Why, for reason "error": mpv's file_error, or the player's death. */
  error?: string;
}

export interface DiscardedEvent {
  item: PlayItem;
  /** What took its place before it started: "replaced", "stopped", "cleared", "mpv died", "closed". */
  why: string;
}

export type ItemOutcome =
  | { type: "started"; event: StartedEvent }
  | { type: "ended"; event: EndedEvent }
  | { type: "discarded"; event: DiscardedEvent };

/** One loadfile sent: an item on its way into mpv's playlist. */
export interface Slot {
  readonly seq: number;
  readonly item: PlayItem;
  entryId: number | null;
  startedAt: Stamp | null;
}

type EntryEvent = { name: string; fields: Record<string, unknown>; at: Stamp };

const END_REASONS: ReadonlySet<string> = new Set(["eof", "stop", "error", "quit"]);

export class EntryTracker {
  private seq = 0;
  /** mpv's playlist as the commands sent so far leave it (ids may still be unknown). */
  private playlist: Slot[] = [];
  /** Sent and neither ended nor discarded. */
  private readonly live = new Set<Slot>();
  private readonly byEntry = new Map<number, Slot>();
  /** Events about entries whose loadfile reply has not been read yet. */
  private readonly early = new Map<number, EntryEvent[]>();
  private currentEntryId: number | null = null;
  /** Clears sent and not yet confirmed: until they are, `playlist` may hold entries mpv dropped. */
  private readonly unconfirmedClears = new Set<number>();
  /** A clear failed after mpv may have run it: `playlist` is a guess until a replace or stop. */
  private playlistUnknown = false;

  /** A loadfile append: the item joins the end of the playlist. */
  appended(item: PlayItem): Slot {
    const slot = this.newSlot(item);
    this.playlist.push(slot);
    return slot;
  }

  /** A loadfile replace: mpv clears its playlist and plays this item. */
  replaced(item: PlayItem): Slot {
    const slot = this.newSlot(item);
    this.playlist = [slot];
    this.playlistUnknown = false;
    return slot;
  }

  /** A stop: mpv clears its playlist. Returns the seq that stopConfirmed takes. */
  stopped(): number {
    this.playlist = [];
    this.playlistUnknown = false;
    return ++this.seq;
  }

  /** A playlist-clear: mpv keeps only its current entry. Returns the seq that clearConfirmed takes. */
  clearSent(): number {
    this.unconfirmedClears.add(++this.seq);
    return this.seq;
  }

  /**
   * mpv's playlist listed right after the clear (its entry ids): what was queued before the
   * clear and is not listed was dropped and will never start. Anything queued after the clear
   * stays, listed or not (its loadfile may have been run after the listing).
   */
  clearConfirmed(clearSeq: number, listedEntryIds: readonly number[]): ItemOutcome[] {
    this.unconfirmedClears.delete(clearSeq);
    const listed = new Set(listedEntryIds);
    const stays = (slot: Slot) => slot.seq > clearSeq || (slot.entryId !== null && listed.has(slot.entryId));
    this.playlist = this.playlist.filter(stays);
    return this.discardBefore(clearSeq, "cleared", stays);
  }

  /** The clear or its listing failed: nothing is known to be dropped, and pruning waits. */
  clearFailed(clearSeq: number): void {
    this.unconfirmedClears.delete(clearSeq);
    this.playlistUnknown = true;
  }

  /** mpv's reply to a loadfile: the entry id it gave the item. */
  assigned(slot: Slot, entryId: number, replace: boolean): ItemOutcome[] {
    const out = replace ? this.discardBefore(slot.seq, "replaced") : [];
    if (!this.live.has(slot)) return out;
    slot.entryId = entryId;
    this.byEntry.set(entryId, slot);
    const waiting = this.early.get(entryId) ?? [];
    this.early.delete(entryId);
    for (const e of waiting) out.push(...this.onEvent(e.name, e.fields, e.at));
    return out;
  }

  /** The loadfile was refused: the item never entered the playlist. */
  refused(slot: Slot): void {
    this.live.delete(slot);
    this.playlist = this.playlist.filter((s) => s !== slot);
  }

  /** mpv's reply to a stop: what was queued before it will never play. */
  stopConfirmed(stopSeq: number): ItemOutcome[] {
    return this.discardBefore(stopSeq, "stopped");
  }

  /** An event from mpv; the outcomes for items, if any. */
  onEvent(name: string, fields: Record<string, unknown>, at: Stamp): ItemOutcome[] {
    const id = typeof fields.playlist_entry_id === "number" ? fields.playlist_entry_id : null;
    if (name === "start-file" && id !== null) {
      this.currentEntryId = id;
      return this.forEntry(id, name, fields, at, () => []);
    }
    if (name === "playback-restart" && this.currentEntryId !== null) {
      return this.forEntry(this.currentEntryId, name, fields, at, (slot) => this.firstFrame(slot, at));
    }
    if (name === "end-file" && id !== null) {
      if (id === this.currentEntryId) this.currentEntryId = null;
      return this.forEntry(id, name, fields, at, (slot) => [this.end(slot, fields, at)]);
    }
    return [];
  }

  /** How many finished entries sit before `entryId` in mpv's playlist (safe to remove). */
  finishedBefore(entryId: number): number {
    // A wrong count would remove entries still to play, or the one on screen.
    if (this.unconfirmedClears.size > 0 || this.playlistUnknown) return 0;
    const index = this.playlist.findIndex((s) => s.entryId === entryId);
    return Math.max(0, index);
  }

  /** The first `count` entries were removed from mpv's playlist. */
  removedFromFront(count: number): void {
    this.playlist = this.playlist.slice(count);
  }

  /** mpv is gone (died or closed): what played ended, what waited never will. */
  lost(at: Stamp, reason: "error" | "quit", error: string): ItemOutcome[] {
    const out: ItemOutcome[] = [];
    for (const slot of [...this.live].sort((a, b) => a.seq - b.seq)) {
      if (slot.startedAt !== null) {
        const event: EndedEvent = { item: slot.item, reason, at, startedAt: slot.startedAt };
        out.push({ type: "ended", event: reason === "error" ? { ...event, error } : event });
      } else out.push({ type: "discarded", event: { item: slot.item, why: error } });
    }
    this.live.clear();
    this.byEntry.clear();
    this.early.clear();
    this.playlist = [];
    this.currentEntryId = null;
    this.unconfirmedClears.clear();
    this.playlistUnknown = false;
    return out;
  }

  /** Items sent and not yet ended or discarded, oldest first. */
  pending(): PlayItem[] {
    return [...this.live].sort((a, b) => a.seq - b.seq).map((s) => s.item);
  }

  private newSlot(item: PlayItem): Slot {
    const slot: Slot = { seq: ++this.seq, item, entryId: null, startedAt: null };
    this.live.add(slot);
    return slot;
  }

  private forEntry(id: number, name: string, fields: Record<string, unknown>, at: Stamp, act: (slot: Slot) => ItemOutcome[]): ItemOutcome[] {
    const slot = this.byEntry.get(id);
    if (slot) return act(slot);
    // Not ours yet (its reply is still to be read), or not ours at all (a file mpv was given
    // by someone else, or one already discarded): kept a little while, then forgotten.
    const list = this.early.get(id) ?? [];
    list.push({ name, fields, at });
    this.early.set(id, list);
    if (this.early.size > 64) this.early.delete(this.early.keys().next().value as number);
    return [];
  }

  private firstFrame(slot: Slot, at: Stamp): ItemOutcome[] {
    if (slot.startedAt !== null) return []; // a later playback-restart is a seek, not a start
    slot.startedAt = at;
    return [{ type: "started", event: { item: slot.item, at } }];
  }

  private end(slot: Slot, fields: Record<string, unknown>, at: Stamp): ItemOutcome {
    this.live.delete(slot);
    if (slot.entryId !== null) this.byEntry.delete(slot.entryId);
    const raw = typeof fields.reason === "string" ? fields.reason : "unknown";
    const reason: EndReason = END_REASONS.has(raw) ? (raw as EndReason) : "error";
    const event: EndedEvent = { item: slot.item, reason, at, startedAt: slot.startedAt };
    if (reason === "error") {
      const fileError = typeof fields.file_error === "string" ? fields.file_error : null;
      event.error = fileError ?? (raw === "error" ? "mpv reported an error" : `mpv ended it (${raw})`);
    }
    return { type: "ended", event };
  }

  private discardBefore(seq: number, why: string, stays: (slot: Slot) => boolean = () => false): ItemOutcome[] {
    const out: ItemOutcome[] = [];
    for (const slot of [...this.live].sort((a, b) => a.seq - b.seq)) {
      if (slot.seq >= seq || slot.startedAt !== null || stays(slot)) continue;
      this.live.delete(slot);
      if (slot.entryId !== null) this.byEntry.delete(slot.entryId);
      out.push({ type: "discarded", event: { item: slot.item, why } });
    }
    return out;
  }
}
