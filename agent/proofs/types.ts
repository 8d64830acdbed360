// Ledger entries as spec/proof-format.md defines them (format v1).

export const GENESIS_PREV = "0".repeat(64);

export type PlayStatus = "completed" | "interrupted" | "failed" | "dark";

export interface ScreenStateStamp {
  verified: boolean;
  online: boolean;
  brightness: number | null;
  blackout: boolean | null;
}

export interface PlayRecord {
  campaign: string;
  customer: string;
  creative: string;
  creativeSha256: string;
  renditionSha256: string;
  scheduleVersion: number;
  plannedAt: string;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  status: PlayStatus;
  makeGood: boolean;
  screenState: ScreenStateStamp;
}

export const EVENT_TYPES = [
  "agent.started",
  "agent.stopped",
  "schedule.applied",
  "schedule.rejected",
  "suspended",
  "resumed",
  "takedown",
  "creative.rejected",
  "controller.fault",
  "controller.recovered",
  "clock.jump",
  "brightness.changed",
  "command.executed",
  "campaign.completed",
  "technician.note",
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** `{ type, ...detail }`: the detail fields are the event's own (reason, ids, versions …). */
export interface EventRecord {
  type: EventType;
  [detail: string]: unknown;
}

export interface ClockStamp {
  synced: boolean;
  bootId: string;
  monoMs: number;
}

interface EntryBase {
  v: 1;
  seq: number;
  screen: string;
  at: string;
  clock: ClockStamp;
  prev: string;
  sig: string;
}

export interface PlayEntry extends EntryBase {
  kind: "play";
  play: PlayRecord;
}

export interface EventEntry extends EntryBase {
  kind: "event";
  event: EventRecord;
}

export type Entry = PlayEntry | EventEntry;

/** What a caller hands the ledger; it adds v, seq, screen, at, clock, prev and sig. */
export type AppendInput = { kind: "play"; play: PlayRecord } | { kind: "event"; event: EventRecord };

/** A stub in a filtered export: another party's entry, shown only by its hash. */
export interface Stub {
  seq: number;
  hash: string;
}

/** A signed head checkpoint. */
export interface Checkpoint {
  screen: string;
  seq: number;
  hash: string;
  at: string;
  sig: string;
}
