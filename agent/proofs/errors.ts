// Why the ledger refused or failed: one code per refusal, so callers and tests tell them apart.

export type LedgerErrorCode =
  | "invalid-entry"
  | "append-failed"
  | "disk-full"
  | "empty"
  | "other-screen"
  | "damaged-head"
  | "damaged-row"
  | "foreign-key"
  | "key-already-signed"
  | "other-genesis"
  | "behind-high-water"
  | "behind-checkpoint"
  | "checkpoint-mismatch"
  | "retired-key"
  | "key-replaced"
  | "ledger-moved"
  | "ledger-busy"
  | "index-mismatch";

export class LedgerError extends Error {
  constructor(
    message: string,
    readonly code: LedgerErrorCode = "append-failed",
  ) {
    super(message);
    this.name = "LedgerError";
  }
}

// How to get out of a refusal on open without losing anything: said once, used by every refusal.
export const RECOVER =
  "restore the database from a backup, or start a new ledger deliberately under a new key with " +
  "`ledagent init --force --new-key --archive-ledger` (it keeps the old ledger and public key for the old proofs)";
