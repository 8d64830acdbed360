// One ledger entry: build, sign, hash, and check the shape of one read back from anywhere.
import { createHash, sign, type KeyObject } from "node:crypto";
import { canonicalString, verifyCanonical } from "../crypto/index.js";
import { EVENT_TYPES, type AppendInput, type ClockStamp, type Entry } from "./types.js";

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
  // "sig" sorts just before "v", the last key, whose value is always 1: splice it in rather
  // than serialise the whole entry a second time (an append's largest cost after the signature).
  const tail = ',"v":1}';
  const text = unsignedText.endsWith(tail) ? `${unsignedText.slice(0, -tail.length)},"sig":${JSON.stringify(sig)}${tail}` : canonicalString(entry);
  return { entry, text };
}

export function entrySignatureValid(entry: Entry, publicKey: KeyObject): boolean {
  const { sig, ...unsigned } = entry;
  return verifyCanonical(unsigned, sig, publicKey);
}

const HEX64 = /^[0-9a-f]{64}$/;
const RFC3339_MS_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/**
 * Why `x` is not a well-formed v1 entry, or null when it is. Checks shape only (types and
 * required fields), not signature or chain.
 */
export function entryShapeProblem(x: unknown): string | null {
  if (!isObject(x)) return "not a JSON object";
  if (x.v !== 1) return `unsupported version ${JSON.stringify(x.v)}`;
  if (!Number.isSafeInteger(x.seq) || (x.seq as number) < 1) return "seq is not an integer ≥ 1";
  if (typeof x.screen !== "string" || x.screen === "") return "screen is missing";
  if (typeof x.at !== "string" || !RFC3339_MS_Z.test(x.at)) return "at is not an RFC 3339 UTC time with milliseconds";
  const c = x.clock;
  if (!isObject(c) || typeof c.synced !== "boolean" || typeof c.bootId !== "string" || !Number.isSafeInteger(c.monoMs)) {
    return "clock is not { synced, bootId, monoMs }";
  }
  if (typeof x.prev !== "string" || !HEX64.test(x.prev)) return "prev is not a lowercase hex SHA-256";
  if (typeof x.sig !== "string") return "sig is missing";
  if (x.kind === "play") {
    if (!isObject(x.play)) return "play entry without a play object";
    if ("event" in x) return "play entry also carries an event";
    const p = x.play;
    for (const k of ["campaign", "customer", "creative", "status", "startedAt", "endedAt"]) {
      if (typeof p[k] !== "string") return `play.${k} is missing`;
    }
  } else if (x.kind === "event") {
    if (!isObject(x.event) || typeof x.event.type !== "string") return "event entry without an event type";
    if ("play" in x) return "event entry also carries a play";
    if (!(EVENT_TYPES as readonly string[]).includes(x.event.type)) return `unknown event type ${JSON.stringify(x.event.type)}`;
  } else {
    return `kind is ${JSON.stringify(x.kind)}, expected "play" or "event"`;
  }
  return null;
}

/** `{ seq, hash }` and nothing else: a filtered export's stand-in for someone else's entry. */
export function isStub(x: unknown): x is { seq: number; hash: string } {
  return isObject(x) && Object.keys(x).length === 2 && Number.isSafeInteger(x.seq) && typeof x.hash === "string" && HEX64.test(x.hash);
}
