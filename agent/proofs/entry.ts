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
