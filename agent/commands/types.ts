// What the command registry speaks: outcomes shaped exactly like spec/mqtt-api.md's cmd/result,
// stable error codes, who asked, and the parts a handler may need. The parts are interfaces the
// daemon fills in: a command whose part is not running answers `unavailable`, never crashes.
import type { Logger } from "pino";
import type { Controller, ControllerStatus } from "../drivers/types.js";
import type { EventEntry, EventType } from "../proofs/types.js";
import type { Head } from "../proofs/ledger.js";
import type { ApplyResult } from "../playback/schedule/apply.js";

/**
 * Stable strings: they travel to operators in cmd/result and to technicians' scripts.
 * - bad-args: the args failed the command's schema or its checks; the message names the field
 * - unknown-command: no command by that name
 * - local-only: a technician's command asked for over MQTT
 * - unavailable: the part the command needs is not running (the message names it)
 * - failed: the part tried and failed (message says why)
 * - timeout: the command did not finish within its time limit (it may still take effect)
 * - unsupported: the controller's driver cannot do this
 * - controller-offline: the controller did not answer
 * - not-found: no such campaign, creative, file or live order
 * - not-approved: the creative has not passed compliance review for this screen
 * - not-suspended: resume with no live suspension
 * - too-large: the result would exceed its size limit (screenshot > 256 KiB)
 */
export const COMMAND_ERROR_CODES = [
  "bad-args",
  "unknown-command",
  "local-only",
  "unavailable",
  "failed",
  "timeout",
  "unsupported",
  "controller-offline",
  "not-found",
  "not-approved",
  "not-suspended",
  "too-large",
] as const;

export type CommandErrorCode = (typeof COMMAND_ERROR_CODES)[number];

/** The codes a part (playout, proof sync) may refuse with, by throwing an error carrying one. */
export const PART_REFUSAL_CODES = ["unsupported", "not-found", "not-approved", "not-suspended", "too-large"] as const satisfies readonly CommandErrorCode[];
export type PartRefusalCode = (typeof PART_REFUSAL_CODES)[number];

export interface CommandError {
  code: CommandErrorCode;
  message: string;
}

export type CommandOutcome = { ok: true; result: unknown } | { ok: false; error: CommandError };

/** Who asked: the technician at the local CLI, or the ops backend by a signed MQTT command. */
export type CommandOrigin = { kind: "local"; user: string } | { kind: "mqtt"; commandId: string };

export interface CommandContext {
  origin: CommandOrigin;
}

/** A refusal with a stable code; handlers throw it, parts may throw any error with such a `code`. */
export class CommandFailure extends Error {
  constructor(
    readonly code: CommandErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "CommandFailure";
  }
}

// ---- What the playout (agent/playback/playout.ts) offers the commands ----

export interface NowPlaying {
  campaign: string | null;
  creative: string;
  /** ISO time the item started on screen. */
  since: string;
  makeGood: boolean;
  /** A technician's test play or pattern, not a paid play. */
  test: boolean;
}

export interface LiveSuspension {
  reason: string;
  /** ISO time, or null when open-ended. */
  until: string | null;
  /** null: the whole screen. */
  campaigns: string[] | null;
  blackout: boolean;
  since: string;
}

export interface LiveTakedown {
  campaign: string | null;
  creative: string | null;
  since: string;
}

export interface PlayoutStatus {
  scheduleVersion: number | null;
  nowPlaying: NowPlaying | null;
  next: { campaign: string | null; creative: string; at: string } | null;
  suspension: LiveSuspension | null;
  takedowns: LiveTakedown[];
}

export interface SuspendOrder {
  reason: string;
  until: string | null;
  campaigns: string[] | null;
  blackout: boolean;
  origin: CommandOrigin;
}

export type TakedownTarget = { campaign: string } | { creative: string };

export interface TakedownOrder {
  target: TakedownTarget;
  /** Cut the item on screen now rather than at its end. */
  immediate: boolean;
  origin: CommandOrigin;
}

/**
 * The live orders the playout takes. Implementations record their own ledger events (suspended,
 * resumed, takedown …) with the order's origin, and refuse by throwing an error whose `code` is
 * one of PART_REFUSAL_CODES (e.g. resume with no suspension: `not-suspended`).
 */
export interface PlayoutControl {
  status(): Promise<PlayoutStatus>;
  suspend(order: SuspendOrder): Promise<LiveSuspension>;
  resume(origin: CommandOrigin): Promise<{ suspendedFor: number }>;
  takedown(order: TakedownOrder): Promise<LiveTakedown>;
  /** Lifts a standing takedown of exactly this target; `not-found` when there is none. */
  liftTakedown(target: TakedownTarget, origin: CommandOrigin): Promise<void>;
  /** Interrupts with an approved creative of the applied schedule, `times` plays in a row. */
  playNow(creative: string, times: number, origin: CommandOrigin): Promise<{ queued: number }>;
  /** A technician's test play of a local file: ledger events, never paid plays. */
  testPlay(file: string, times: number, origin: CommandOrigin): Promise<{ queued: number }>;
  /** A test pattern rendered at the panel's exact size, shown for `seconds`. */
  showPattern(name: PlayerPatternName, seconds: number, origin: CommandOrigin): Promise<void>;
  /** A JPEG of what the player shows now. */
  screenshot(): Promise<Buffer>;
}

/** The player's rendered test patterns (agent/playback/creatives/patterns.ts). */
export type PlayerPatternName = "bars" | "grid" | "white" | "red" | "green" | "blue" | "gradient";

/** Where the proof outbox stands: what the collector acked, what waits, the batch in flight. */
export interface ProofSyncStatus {
  ackedThrough: number;
  unsynced: number;
  /** sentAt null: recorded (to be sent again with its id) but not sent since this process started. */
  inFlight: { batch: string; fromSeq: number; throughSeq: number; sentAt: string | null } | null;
}

/** The link's proof sync (agent/link): push the outbox now, resolve when the collector acked. */
export interface ProofSync {
  syncNow(): Promise<{ through: number }>;
  status(): ProofSyncStatus;
}

/** The machine's own state, for status and telemetry. */
export interface HostFacts {
  /** Free bytes for the agent on the file system of its data directory; null when it cannot be read. */
  diskFreeBytes(): number | null;
  /** Was the wall clock synchronised (NTP) as of the last check. */
  clockSynced(): boolean;
  /** Is the MQTT link connected; null when no link is configured. */
  linkConnected(): boolean | null;
}

/** The daemon itself: a clean exit that systemd turns into a restart. */
export interface AgentLifecycle {
  restart(reason: string): void;
}

/** The brightness scheduler's override (agent/drivers/brightness-schedule.ts). */
export interface BrightnessOverride {
  override(percent: number, untilMs: number): Promise<void>;
  clearOverride(): Promise<void>;
}

/**
 * Applies a signed schedule envelope the technician brought (a USB stick), with the same checks as
 * an MQTT delivery: the daemon applies one at a time, then hands the new schedule to the playout
 * and the brightness schedule. `text` is the file's text, `source` says where it came from.
 */
export interface ScheduleLoader {
  load(text: string, source: string): Promise<ApplyResult>;
}

/** The ledger as the registry uses it: record events, read the head. */
export interface CommandLedger {
  event(type: EventType, detail?: Record<string, unknown>): EventEntry;
  head(): Head | null;
}

export interface CommandDeps {
  ledger?: CommandLedger;
  controller?: Controller;
  brightness?: BrightnessOverride;
  playout?: PlayoutControl;
  proofSync?: ProofSync;
  agent?: AgentLifecycle;
  schedule?: ScheduleLoader;
  host?: HostFacts;
  log?: Logger;
  /** Wall clock, UTC ms; tests pin it. */
  now?: () => number;
}

export type { ApplyResult, ControllerStatus };
