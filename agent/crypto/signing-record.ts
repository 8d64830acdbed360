// A device key's durable evidence that it has begun a ledger. Without it, a key whose ledger file
// was deleted or emptied would start a second history at seq 1 that no verifier can tell from the
// first. The record lives beside the private key file, so it outlives the database, and names the
// key (by fingerprint), the screen, and the hash of the genesis entry (seq 1).
//
// It is written twice around the first append: "pending" (durably, before the insert: the key is
// about to sign a genesis entry) and "committed" (once that entry is in the database). A pending
// record with an empty ledger is a first append cut short (kill -9, power cut): the entry was never
// acknowledged, so starting again is safe. A committed record with an empty ledger, or with a
// ledger whose seq 1 is another entry, is a second history, and is refused.
//
// Once committed, the record also carries a high-water mark: the highest seq (and its hash) this
// key is known to have signed. A database whose head is below it, or holds another entry at its
// seq, is an older copy (a restored backup, a lost WAL, deleted rows): appending to it would sign
// a second entry at a seq already signed.
//
// A key replaced by `init --archive-ledger` is recorded as retired in keys/retired/, by its
// fingerprint, and can never begin or extend a ledger again.
import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { writeFileDurably } from "../store/durable-file.js";
import { KeyError } from "./ed25519.js";

export interface SigningRecord {
  v: 1;
  /** SHA-256 (hex) of the public key's SubjectPublicKeyInfo DER: which key this record is about. */
  key: string;
  screen: string;
  /** Hash of the ledger's seq 1 entry, signed by this key. */
  genesis: string;
  state: "pending" | "committed";
  /** When the record was written (UTC ISO). */
  at: string;
  /** The highest entry this key is known to have signed (committed records only). */
  mark?: HighWaterMark;
}

export interface HighWaterMark {
  seq: number;
  hash: string;
  /** When the mark was written (UTC ISO). */
  at: string;
}

/** Where the signing record of the private key at `keyFile` is kept. */
export function signingRecordPath(keyFile: string): string {
  return `${keyFile}.ledger.json`;
}

export function keyFingerprint(key: KeyObject): string {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  return createHash("sha256").update(pub.export({ type: "spki", format: "der" })).digest("hex");
}

function isRecord(x: unknown): x is SigningRecord {
  if (typeof x !== "object" || x === null) return false;
  const r = x as Record<string, unknown>;
  return (
    r.v === 1 &&
    typeof r.key === "string" &&
    typeof r.screen === "string" &&
    typeof r.genesis === "string" &&
    /^[0-9a-f]{64}$/.test(r.genesis) &&
    (r.state === "pending" || r.state === "committed") &&
    typeof r.at === "string" &&
    (r.mark === undefined || isMark(r.mark))
  );
}

function isMark(x: unknown): x is HighWaterMark {
  if (typeof x !== "object" || x === null) return false;
  const m = x as Record<string, unknown>;
  return Number.isSafeInteger(m.seq) && (m.seq as number) >= 1 && typeof m.hash === "string" && /^[0-9a-f]{64}$/.test(m.hash) && typeof m.at === "string";
}

/**
 * The record of the key at `keyFile`, or null when it has none. A record left by another key (one
 * that was replaced) says nothing about this key and reads as none. An unreadable record is refused:
 * it is the only evidence that the key has signed, so guessing would defeat it.
 */
export function readSigningRecord(keyFile: string, publicKey: KeyObject): SigningRecord | null {
  const path = signingRecordPath(keyFile);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new KeyError(`cannot read the key's signing record ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  if (!isRecord(parsed)) {
    throw new KeyError(`the key's signing record ${path} is damaged; restore it from a backup (it names the screen and the hash of seq 1 of the ledger this key began)`);
  }
  return parsed.key === keyFingerprint(publicKey) ? parsed : null;
}

export function writeSigningRecord(keyFile: string, record: Omit<SigningRecord, "v" | "key">, publicKey: KeyObject): void {
  const full: SigningRecord = { v: 1, key: keyFingerprint(publicKey), ...record };
  writeFileDurably(signingRecordPath(keyFile), JSON.stringify(full) + "\n", 0o600);
}

/** Where the retirement of the key with `fingerprint` is recorded, beside the device key at `keyFile`. */
export function retiredKeyPath(keyFile: string, fingerprint: string): string {
  return join(dirname(keyFile), "retired", `${fingerprint}.json`);
}

export interface RetiredKey {
  v: 1;
  key: string;
  /** When it was retired (UTC ISO). */
  at: string;
  /** Where its ledger was archived. */
  archive: string;
  /** The archived ledger's last entry under this key, when it could be closed. */
  head: { seq: number; hash: string } | null;
}

/** Records, durably, that the key is retired: it never signs another entry. Idempotent. */
export function writeRetiredKey(keyFile: string, publicKey: KeyObject, info: Omit<RetiredKey, "v" | "key">): void {
  const key = keyFingerprint(publicKey);
  const path = retiredKeyPath(keyFile, key);
  if (existsSync(path)) return; // the first retirement is the one that counts
  writeFileDurably(path, JSON.stringify({ v: 1, key, ...info } satisfies RetiredKey) + "\n", 0o600);
}

/** The path of the key's retirement record when it has been retired, else null. */
export function retiredKeyRecord(keyFile: string, publicKey: KeyObject): string | null {
  const path = retiredKeyPath(keyFile, keyFingerprint(publicKey));
  return existsSync(path) ? path : null;
}
