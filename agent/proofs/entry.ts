// One ledger entry: build, sign, hash, and check the shape of one read back from anywhere.
import { createHash, sign, type KeyObject } from "node:crypto";
import { canonicalString, verifyText } from "../crypto/index.js";
import type { AppendInput, ClockStamp, Entry } from "./types.js";

/** hash(entry) = SHA-256(canonical(entry including sig)), lowercase hex. */
export function entryHash(entry: Entry): string {
  return sha256Hex(canonicalString(entry));
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

export interface EntryContext {
  seq: number;
  screen: string;
  at: Date;
  clock: ClockStamp;
  prev: string;
}

/** A signed entry and its canonical text (what is stored, and hashed). */
export interface SignedEntry {
  entry: Entry;
  text: string;
}

/** The entry, signed: sig = Ed25519(canonical(entry without sig)). */
export function signEntry(input: AppendInput, ctx: EntryContext, privateKey: KeyObject): SignedEntry {
  const body = {
    v: 1 as const,
    seq: ctx.seq,
    screen: ctx.screen,
    at: ctx.at.toISOString(),
    clock: ctx.clock,
    prev: ctx.prev,
    ...(input.kind === "play" ? { kind: "play" as const, play: input.play } : { kind: "event" as const, event: input.event }),
  };
  const unsignedText = canonicalString(body);
  const sig = sign(null, Buffer.from(unsignedText, "utf8"), privateKey).toString("base64");
  const entry = { ...body, sig } as Entry;
  return { entry, text: spliceSig(unsignedText, sig, () => canonicalString(entry)) };
}

/**
 * canonical(entry) from canonical(entry without sig): "sig" sorts just before "v", the last key,
 * whose value is always 1, so it is spliced in rather than the whole entry serialised again
 * (the largest cost of an append, or a verify, after the signature itself).
 */
function spliceSig(unsignedText: string, sig: string, whole: () => string): string {
  const tail = ',"v":1}';
  return unsignedText.endsWith(tail) ? `${unsignedText.slice(0, -tail.length)},"sig":${JSON.stringify(sig)}${tail}` : whole();
}

/** An entry's two canonical texts: what its signature covers, and what its hash covers. */
export interface EntryTexts {
  unsigned: string;
  full: string;
}

export function entryTexts(entry: Entry): EntryTexts {
  const { sig, ...unsigned } = entry;
  const text = canonicalString(unsigned);
  return { unsigned: text, full: spliceSig(text, sig, () => canonicalString(entry)) };
}

export function entrySignatureValid(entry: Entry, publicKey: KeyObject, texts: EntryTexts = entryTexts(entry)): boolean {
  return verifyText(texts.unsigned, entry.sig, publicKey);
}

const HEX64 = /^[0-9a-f]{64}$/;

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** `{ seq, hash }` and nothing else: a filtered export's stand-in for someone else's entry. */
export function isStub(x: unknown): x is { seq: number; hash: string } {
  return isObject(x) && Object.keys(x).length === 2 && Number.isSafeInteger(x.seq) && (x.seq as number) >= 1 && typeof x.hash === "string" && HEX64.test(x.hash);
}

/** A row as the ledger stores it: the entry's canonical text and the hash recorded beside it. */
export interface StoredRow {
  seq: number;
  body: string;
  hash: string;
}

/** Why a stored row cannot be trusted as itself (its recorded hash is not its body's), or null. */
export function storedRowProblem(row: StoredRow): string | null {
  return sha256Hex(row.body) === row.hash ? null : `its stored hash does not match its body (the database was altered or damaged)`;
}

/**
 * Why the head row (tail[0]) cannot be chained onto, or null: its hash against its body, its
 * signature under `publicKey`, and its link to the row before it (tail[1]) or to genesis.
 */
export function headProblem(tail: StoredRow[], publicKey: KeyObject): string | null {
  const [head, before] = tail;
  // Said of "the head entry (seq n)": a phrase that follows its subject.
  if (storedRowProblem(head)) return "has a stored hash that does not match its body (the database was altered or damaged)";
  let entry: Entry;
  try {
    entry = JSON.parse(head.body) as Entry;
  } catch {
    return "is not JSON (the database was altered or damaged)";
  }
  if (entry.seq !== head.seq) return `says it is seq ${String(entry.seq)} (the database was altered or damaged)`;
  if (!entrySignatureValid(entry, publicKey)) return "is not signed by this device key (the key was replaced, or the entry altered)";
  if (head.seq === 1) return entry.prev === "0".repeat(64) ? null : "is seq 1 but does not start the chain (its prev is not 64 zeros)";
  if (before?.seq !== head.seq - 1) return `follows a gap (seq ${head.seq - 1} is missing)`;
  if (storedRowProblem(before)) return `follows seq ${before.seq}, whose stored hash does not match its body (the database was altered or damaged)`;
  return entry.prev === before.hash ? null : `does not link to seq ${before.seq} (its prev is not that entry's hash)`;
}
