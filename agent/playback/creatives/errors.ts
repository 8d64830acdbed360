// Why a creative was refused. The reason code is stable (logs, ledger `creative.rejected`
// events, tests); the message is for people and names the detail.

export type RejectReason =
  | "not-approved"
  | "bad-url"
  | "bad-sha256"
  | "fetch-failed"
  | "not-found"
  | "timeout"
  | "too-large"
  | "hash-mismatch"
  | "empty"
  | "undecodable"
  | "no-video"
  | "duration-mismatch"
  | "transcode-failed"
  | "rendition-mismatch"
  /** The agent itself could not store or read the files (disk full, permissions …). */
  | "io-error";

export class CreativeRejected extends Error {
  constructor(
    readonly reason: RejectReason,
    message: string,
  ) {
    super(`${reason}: ${message}`);
    this.name = "CreativeRejected";
  }
}

/** The message of anything thrown, as one line. */
export function errorLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split("\n").find((l) => l.trim() !== "") ?? text;
}
