// What the device key itself remembers about the ledgers it signed (crypto/signing-record.ts),
// checked before a writer appends: the key is not retired and is still the key on disk, it began
// this ledger's seq 1 and no other, and it has not signed past this database's head.
import type { Logger } from "pino";
import {
  keyFingerprint,
  loadPrivateKey,
  readSigningRecord,
  retiredKeyRecord,
  signingRecordPath,
  writeSigningRecord,
  type KeyPair,
  type SigningRecord,
} from "../crypto/index.js";
import { diskFullReason, failureReason } from "../store/index.js";
import type { ClockSource } from "./clock.js";
import { headProblem, type StoredRow } from "./entry.js";
import { LedgerError, RECOVER } from "./errors.js";

export interface KeyGuardDeps {
  screenId: string;
  keys: KeyPair;
  clock: ClockSource;
  log?: Logger;
}

export class KeyGuard {
  constructor(
    private readonly keyFile: string,
    private readonly deps: KeyGuardDeps,
    private readonly dbPath: string,
  ) {}

  /**
   * A retired key never signs again, and a writer that loaded its key before it was replaced
   * (a `note` racing `init --new-key`) must not sign with a key that is no longer the device's.
   */
  checkKey(): void {
    const retired = retiredKeyRecord(this.keyFile, this.deps.keys.publicKey);
    if (retired) {
      throw new LedgerError(
        `ledger refused: this device key was retired (${retired}) when its ledger was archived; it never signs again. ` +
          "Run the command again: it loads the device's current key",
        "retired-key",
      );
    }
    let onDisk: KeyPair;
    try {
      onDisk = loadPrivateKey(this.keyFile);
    } catch (err) {
      throw new LedgerError(`ledger refused: the device key this writer loaded is no longer at ${this.keyFile} (${(err as Error).message})`, "key-replaced");
    }
    if (keyFingerprint(onDisk.publicKey) !== keyFingerprint(this.deps.keys.publicKey)) {
      throw new LedgerError(
        `ledger refused: the device key at ${this.keyFile} was replaced after this writer loaded it; run the command again to use the current key`,
        "key-replaced",
      );
    }
  }

  /** Refuses a second history under this key (seq 1 missing, empty, or another entry). */
  checkGenesis(first: StoredRow | undefined, headSeq: number): void {
    const record = this.record();
    const where = `${signingRecordPath(this.keyFile)} records that this device key began the ledger of screen ${JSON.stringify(record?.screen)} (seq 1 hash ${record?.genesis.slice(0, 16)}…)`;
    if (!first) {
      if (headSeq > 0) throw new LedgerError(`ledger refused: seq 1 is missing from ${this.dbPath} (the database was altered or damaged). To recover: ${RECOVER}`, "damaged-head");
      // A pending record with no entry is a first append cut short: nothing was acknowledged.
      if (record?.state === "committed") throw keyAlreadySigned(where, this.dbPath);
      return;
    }
    if (record?.genesis === first.hash) {
      if (record.state === "pending") this.begun(first.hash);
      return;
    }
    if (record?.state === "committed") {
      throw new LedgerError(
        `ledger refused: ${where}, but seq 1 of ${this.dbPath} is another entry (hash ${first.hash.slice(0, 16)}…); appending would extend a history this key did not begin. To recover: ${RECOVER}`,
        "other-genesis",
      );
    }
    this.adopt(first); // a ledger begun before signing records existed, or a first append cut short
  }

  /**
   * Refuses a database older than what the key has signed: its head below the mark, or another
   * entry at the mark's seq. Appending would sign a second entry at a seq already signed.
   */
  checkHighWater(head: { seq: number } | null, hashAt: (seq: number) => string | undefined): void {
    const mark = this.record()?.mark;
    if (!mark) return;
    const headSeq = head?.seq ?? 0;
    const restore =
      `To recover: restore the database (with its -wal file) from a backup that reaches seq ${mark.seq}, or from the upstream collector, ` +
      "which holds every synced entry; or start a new ledger deliberately under a new key with `ledagent init --force --new-key --archive-ledger`";
    const signed = `this device key has signed up to seq ${mark.seq} (hash ${mark.hash.slice(0, 16)}…, recorded in ${signingRecordPath(this.keyFile)} at ${mark.at})`;
    if (headSeq < mark.seq) {
      throw new LedgerError(
        `ledger refused: the head of ${this.dbPath} is seq ${headSeq}, but ${signed}: the database is older than its ledger ` +
          `(a restored backup, a lost write-ahead log, or deleted entries), and appending would sign a second entry at seq ${headSeq + 1}. ${restore}`,
        "behind-high-water",
      );
    }
    const hash = hashAt(mark.seq);
    if (hash !== mark.hash) {
      throw new LedgerError(
        `ledger refused: ${signed}, but ${this.dbPath} holds ${hash ? `another entry (hash ${hash.slice(0, 16)}…)` : "no entry"} at seq ${mark.seq}: ` +
          `it is another history under the same key. ${restore}`,
        "behind-high-water",
      );
    }
  }

  /**
   * Durably records that the key has signed up to `head`. Never lowers the mark: another writer
   * (the daemon beside a `note`) may have recorded a later entry already.
   */
  markHighWater(head: { seq: number; hash: string }): void {
    const record = this.record();
    if (record?.state !== "committed" || (record.mark && record.mark.seq >= head.seq)) return;
    this.write({ ...record, mark: { seq: head.seq, hash: head.hash, at: this.deps.clock.now().toISOString() } });
  }

  /** Before the genesis entry is stored: the key is about to sign it. */
  beginning(hash: string): void {
    this.writeGenesis(hash, "pending");
  }

  /** The genesis entry is stored. */
  begun(hash: string): void {
    this.writeGenesis(hash, "committed");
  }

  /** Records the ledger's existing seq 1, once it is known to be this key's. */
  adopt(first: StoredRow | undefined): void {
    if (!first) return;
    const problem = headProblem([first], this.deps.keys.publicKey);
    if (problem) throw new LedgerError(`ledger refused: its first entry (seq 1) ${problem}. To recover: ${RECOVER}`, /not signed/.test(problem) ? "foreign-key" : "damaged-head");
    this.begun(first.hash);
  }

  private record(): SigningRecord | null {
    return readSigningRecord(this.keyFile, this.deps.keys.publicKey);
  }

  private writeGenesis(genesis: string, state: "pending" | "committed"): void {
    this.write({ screen: this.deps.screenId, genesis, state, at: this.deps.clock.now().toISOString() });
  }

  private write(record: Omit<SigningRecord, "v" | "key">): void {
    try {
      writeSigningRecord(this.keyFile, record, this.deps.keys.publicKey);
    } catch (err) {
      const why = failureReason(err, this.keyFile);
      throw new LedgerError(`ledger append failed: cannot record what the device key has signed: ${why}`, diskFullReason(err, this.keyFile) ? "disk-full" : "append-failed");
    }
  }
}

export function keyAlreadySigned(where: string, dbPath: string): LedgerError {
  return new LedgerError(
    `ledger refused: ${where}, but the ledger database ${dbPath} is empty or missing; appending would start a second history under the same key. To recover: ${RECOVER}`,
    "key-already-signed",
  );
}
