// What the playout needs from the parts around it, as narrow interfaces: the daemon passes the
// real ones, a test passes fakes for any of them.
import type { Logger } from "../../log.js";
import type { ScreenState } from "../../drivers/types.js";
import type { EventEntry, EventRecord, EventType, PlayEntry, PlayRecord } from "../../proofs/types.js";
import type { TimeRange } from "../../proofs/ledger.js";
import type { CurrentSchedule } from "../schedule/store.js";
import type { CreativeRequest } from "../creatives/pipeline.js";
import type { PreparedCreative } from "../creatives/types.js";
import type { PatternName } from "../creatives/patterns.js";
import type { Player } from "../player/player.js";

/** The ledger as the playout uses it: durable appends, and the history it plans from. */
export interface PlayoutLedger {
  append(input: { kind: "play"; play: PlayRecord } | { kind: "event"; event: EventRecord }): PlayEntry | EventEntry | unknown;
  event(type: EventType, detail?: Record<string, unknown>): EventEntry;
  plays(range?: TimeRange): Iterable<PlayEntry>;
  events(range?: TimeRange & { type?: EventType }): Iterable<EventEntry>;
  lastEvent(type: EventType): EventEntry | null;
}

/** The creatives pipeline as the playout uses it. */
export interface PlayoutCreatives {
  prepare(request: CreativeRequest): Promise<PreparedCreative>;
  renderPattern(name: PatternName): Promise<string>;
}

/** The controller's view of the screen (the status poller), stamped onto each play. */
export interface ScreenWatch {
  screenState(): ScreenState;
}

export interface PlayoutClock {
  /** Wall clock, UTC ms. */
  wallMs(): number;
  /** Monotonic, ms. */
  monoMs(): number;
}

export type PlayoutPlayer = Pick<Player, "start" | "close" | "play" | "queue" | "stop" | "clearQueued" | "screenshot" | "playlistLength" | "on" | "off" | "isRunning">;

export interface PlayoutDeps {
  screenId: string;
  /** false for the `none` driver: plays are then stamped unverified by design, never dark. */
  controllerConfigured: boolean;
  ledger: PlayoutLedger;
  schedules: { current(): CurrentSchedule | null };
  player: PlayoutPlayer;
  creatives: PlayoutCreatives;
  /** null when no controller is configured. */
  screen: ScreenWatch | null;
  /** Where screenshots are written for a moment. */
  runDir: string;
  log: Logger;
  clock?: PlayoutClock;
  /** Items handed to mpv beyond the one playing (default 2). */
  queueDepth?: number;
  /** How far ahead each plan reaches (default 2 h); the next is made before it runs out. */
  planHorizonMs?: number;
}
