// Why a creative was refused. The reason code is stable (logs, ledger `creative.rejected`
// events, tests); the message is for people and names the detail.

export type RejectReason =
  | "not-approved"
  | "bad-url"
  | "bad-sha256"
  | "fetch-failed"
  /** A redirect off http(s) (file:, data: …), a loop, or a chain too long to be a CDN's. */
  | "bad-redirect"
  | "not-found"
  | "timeout"
  | "too-large"
  | "hash-mismatch"
  | "empty"
  | "undecodable"
  | "no-video"
  /** A frame (width × height) or pixel rate (× fps) beyond creatives.maxSourcePixels / maxSourcePixelRate. */
  | "too-many-pixels"
  | "duration-mismatch"
  /** Pixels or a picture so far from square that fitting them multiplies the work (see checkAspect). */
  | "bad-aspect"
  | "transcode-failed"
  /** ffmpeg works (a test pattern encodes) but fitting this input outran the transcode time limit. */
  | "transcode-timeout"
  | "rendition-mismatch"
  /** The agent itself could not store or read the files (disk full, permissions …). */
  | "io-error"
  /**
   * ffmpeg or ffprobe itself failed (cannot be spawned, was killed, exited without a word about
   * the input, or is not ffmpeg/ffprobe at all): the environment's fault, not the creative's.
   * Verified bytes are kept, so a later attempt with a working tool needs no new download.
   */
  | "tool-failed";

/** Reasons that say nothing about the creative: the agent's own trouble, worth a later retry. */
export const AGENT_FAULTS: ReadonlySet<RejectReason> = new Set<RejectReason>(["io-error", "tool-failed"]);

export class CreativeRejected extends Error {
  constructor(
    readonly reason: RejectReason,
    /** The message without the reason code in front. */
    readonly detail: string,
  ) {
    super(`${reason}: ${detail}`);
    this.name = "CreativeRejected";
  }
}

/** The message of anything thrown, as one line. */
export function errorLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split("\n").find((l) => l.trim() !== "") ?? text;
}
