// What a play was, from what mpv reported and what the controller said during it: the ledger's
// play record (spec/proof-format.md). Pure: the playout hands in the airing, mpv's end event and
// the screen states sampled at the first frame and at the end.
import type { ScreenState } from "../../drivers/types.js";
import type { PlayRecord, PlayStatus } from "../../proofs/types.js";
import type { EndedEvent } from "../player/entries.js";
import type { Airing } from "./airing.js";

/** proof-format.md: `completed` is played to its end within ±500 ms of its length. */
export const COMPLETED_TOLERANCE_MS = 500;

const UNVERIFIED: ScreenState = { verified: false, online: false, brightness: null, blackout: null };

/**
 * The state over the whole play, as bad as its worst sample: verified only when both reads were,
 * dark when either was. A screen that went dark for half the play did not show it whole.
 */
export function combineScreenStates(a: ScreenState, b: ScreenState): ScreenState {
  const brightness = a.brightness === null || b.brightness === null ? null : Math.min(a.brightness, b.brightness);
  const blackout = a.blackout === null && b.blackout === null ? null : a.blackout === true || b.blackout === true;
  return { verified: a.verified && b.verified, online: a.online && b.online, brightness, blackout };
}

/** Not visibly showing: the controller is offline, blacked out, or at brightness 0. */
export function screenDark(state: ScreenState): boolean {
  return !state.online || state.blackout === true || state.brightness === 0;
}

/** How the play went on the player alone, before the screen is considered. */
export function playerStatus(ended: Pick<EndedEvent, "reason" | "startedAt">, measuredMs: number, expectedMs: number): PlayStatus {
  if (ended.startedAt === null || ended.reason === "error") return "failed";
  if (ended.reason === "stop" || ended.reason === "quit") return "interrupted";
  // mpv reached the end of the file (or of its cut), but not in the time the file lasts: frames
  // were dropped or the clock stalled. Not a whole play, and the player's fault.
  return Math.abs(measuredMs - expectedMs) <= COMPLETED_TOLERANCE_MS ? "completed" : "failed";
}

export interface RecordInput {
  airing: Airing;
  ended: EndedEvent;
  /** Sampled at the first frame and at the end; null without a controller. */
  screenAtStart: ScreenState | null;
  screenAtEnd: ScreenState | null;
}

/** The ledger's play record for one airing. */
export function playRecord(input: RecordInput): PlayRecord {
  const { airing, ended } = input;
  const started = ended.startedAt ?? ended.at;
  const durationMs = Math.max(0, Math.round(ended.at.monoMs - started.monoMs));
  let status = playerStatus(ended, durationMs, airing.expectedLengthMs);
  let screenState = UNVERIFIED;
  if (input.screenAtEnd) {
    // An item that never showed a frame was sampled only at its end.
    screenState = combineScreenStates(input.screenAtStart ?? input.screenAtEnd, input.screenAtEnd);
    if (status !== "failed" && screenDark(screenState)) status = "dark";
  }
  return {
    campaign: airing.campaign,
    customer: airing.customer,
    creative: airing.creative,
    creativeSha256: airing.prepared.sourceSha256,
    renditionSha256: airing.prepared.rendition.sha256,
    scheduleVersion: airing.scheduleVersion,
    plannedAt: new Date(airing.plannedMs).toISOString(),
    startedAt: new Date(started.wallMs).toISOString(),
    endedAt: new Date(ended.at.wallMs).toISOString(),
    durationMs,
    status,
    makeGood: airing.makeGood,
    screenState,
  };
}
