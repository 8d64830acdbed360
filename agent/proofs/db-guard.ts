// What the database must be before a writer appends to it: its head chainable (this screen's,
// undamaged, signed by this key), every kept checkpoint still in it, and, per append, still the
// file at the ledger's path (an archive moves it away; a connection would follow the rename).
import { statSync } from "node:fs";
import type { KeyPair } from "../crypto/index.js";
import type { Db } from "../store/index.js";
import { headProblem, storedRowProblem, type StoredRow } from "./entry.js";
import { LedgerError, RECOVER } from "./errors.js";
import type { Entry } from "./types.js";

/** Refuses a ledger whose head an append must not chain onto: another screen's, damaged, or another key's. */
export function checkHead(tail: StoredRow[], deps: { screenId: string; keys: KeyPair }): void {
  if (tail.length === 0) return;
  const head = tail[0];
  // One ledger, one screen: entries under a new id would fail every verification after them.
  const screen = storedRowProblem(head) ? null : screenOf(head.body);
  if (screen !== null && screen !== deps.screenId) {
    throw new LedgerError(
      `this ledger belongs to screen ${JSON.stringify(screen)} but the config says ${JSON.stringify(deps.screenId)}; ` +
        "a renamed screen needs a new data directory (keep the old ledger for its proofs)",
      "other-screen",
    );
  }
  const problem = headProblem(tail, deps.keys.publicKey);
  if (problem) {
    throw new LedgerError(
      `ledger refused: the head entry (seq ${head.seq}) ${problem}; an append would chain onto it and break the chain for good. To recover: ${RECOVER}`,
      /not signed by this device key/.test(problem) ? "foreign-key" : "damaged-head",
    );
  }
}

function screenOf(body: string): string | null {
  try {
    return (JSON.parse(body) as Entry).screen;
  } catch {
    return null;
  }
}

/**
 * Refuses a database that lost entries a kept checkpoint covers (its seq above the head) or that
 * holds another entry at a checkpoint's seq: a signed head already stated what is there.
 */
export function checkCheckpoints(db: Db): void {
  const bad = db
    .prepare(
      `SELECT c.seq AS seq, json_extract(c.body, '$.hash') AS signed, e.hash AS stored
       FROM ledger_checkpoints c LEFT JOIN ledger_entries e ON e.seq = c.seq
       WHERE e.hash IS NULL OR e.hash IS NOT json_extract(c.body, '$.hash')
       ORDER BY c.seq LIMIT 1`,
    )
    .get() as { seq: number; signed: string | null; stored: string | null } | undefined;
  if (!bad) return;
  if (bad.stored === null) {
    throw new LedgerError(
      `ledger refused: a signed checkpoint of this ledger is at seq ${bad.seq}, but the database has no entry there ` +
        `(entries were lost or deleted); appending would sign a second entry at a seq already signed. To recover: ${RECOVER}`,
      "behind-checkpoint",
    );
  }
  throw new LedgerError(
    `ledger refused: the signed checkpoint at seq ${bad.seq} names hash ${String(bad.signed).slice(0, 16)}…, but the entry there has hash ` +
      `${bad.stored.slice(0, 16)}… (the database was altered, or is another history). To recover: ${RECOVER}`,
    "checkpoint-mismatch",
  );
}

/**
 * The file a writer opened, by device and inode. A stat of the path costs a few microseconds, so
 * it is checked before every append: once the database is renamed away (archived), its
 * connection would otherwise keep appending to a ledger that was closed.
 */
export class DatabasePlace {
  private readonly id: string | null;

  constructor(private readonly path: string) {
    this.id = this.current();
  }

  private current(): string | null {
    try {
      const s = statSync(this.path, { bigint: true });
      return `${s.dev}:${s.ino}`;
    } catch {
      return null;
    }
  }

  check(): void {
    if (this.id === null || this.current() === this.id) return;
    throw new LedgerError(
      `ledger append refused: the ledger database is no longer at ${this.path} (it was archived or moved while this process had it open); ` +
        "nothing was appended. Restart the agent: it opens the current ledger with the current key",
      "ledger-moved",
    );
  }
}
