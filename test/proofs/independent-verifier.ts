// An independent verifier of proof-of-play exports (format v1), written from the contract alone
// (spec/proof-format.md and docs/proof-format.md), without ledagent's own crypto or proofs
// modules: RFC 8785 via the `canonicalize` package, Ed25519 and SHA-256 via node:crypto.
//
// Decisions where the contract leaves room (kept deliberately simple and documented, so a
// disagreement with ledagent's verifier is visible rather than hidden):
// - Checks on a line run: parse → stub or whole entry → shape → seq → signature → prev. Seq
//   comes before the signature because "the first bad seq" is the lowest one: a forged line
//   claiming seq 40 after seq 3 is a gap at 4, not a bad signature at 40. A failure names the
//   line's own seq when it has a valid one; a gap names the missing seq (previous + 1); a line
//   that is not JSON (or has no valid seq) names the seq expected there (previous + 1, or null
//   on the first line).
// - JSON Lines strictly: a blank line is malformed; the newline ending the last line is not a
//   line. A UTF-8 byte-order mark before a line is ignored (editors add one).
// - A line with duplicate object keys is malformed (RFC 8785 input must be I-JSON; duplicate keys
//   let two parsers read one signed line differently).
// - `sig` must be canonical padded standard base64 of 64 bytes; `prev` and stub `hash` must be
//   64 lowercase hex digits.
// - An export with no whole (signed) entry proves nothing and fails (seq null).
// - With a head: its shape and signature must hold (else "bad head", seq null: no entry is at
//   fault), its screen must be the entries' screen, the export must contain head.seq, and the
//   line there must hash (or, for a stub, state) head.hash. An export that ends before head.seq
//   is truncated at (last seq + 1).
import { createHash, createPublicKey, verify as edVerify, type KeyObject } from "node:crypto";
import canonicalize from "canonicalize";

export interface IndependentHead {
  screen: string;
  seq: number;
  hash: string;
  at: string;
  sig: string;
}

export interface IndependentOptions {
  /** The device public key: a KeyObject or SubjectPublicKeyInfo PEM. */
  publicKey: KeyObject | string;
  /** A signed head checkpoint; when given, truncation before it is detected. */
  head?: IndependentHead;
}

export type IndependentReason =
  | "malformed"
  | "bad signature"
  | "broken link"
  | "gap"
  | "reorder"
  | "duplicate"
  | "truncated"
  | "bad head"
  | "empty";

export type IndependentResult =
  | { ok: true; entries: number; stubs: number; firstSeq: number; lastSeq: number }
  | { ok: false; seq: number | null; reason: IndependentReason; detail: string };

const GENESIS = "0".repeat(64);
const HEX64 = /^[0-9a-f]{64}$/;
const RFC3339_MS_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const EVENT_TYPES = new Set([
  "agent.started",
  "agent.stopped",
  "schedule.applied",
  "schedule.rejected",
  "suspended",
  "resumed",
  "takedown",
  "creative.rejected",
  "controller.fault",
  "controller.recovered",
  "clock.jump",
  "brightness.changed",
  "command.executed",
  "campaign.completed",
  "technician.note",
]);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

function isObject(x: unknown): x is JsonObject {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function isSeq(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 1;
}

/** RFC 8785 canonical form as UTF-8 bytes; throws on values JCS cannot express. */
function canonicalBytes(x: unknown): Buffer {
  const text = canonicalize(x);
  if (text === undefined) throw new Error("not canonicalisable");
  return Buffer.from(text, "utf8");
}

function sha256Hex(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Strict base64: standard alphabet, padded, and exactly the canonical encoding of its bytes. */
function strictBase64(s: unknown, bytes: number): Buffer | null {
  if (typeof s !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) return null;
  const buf = Buffer.from(s, "base64");
  if (buf.length !== bytes || buf.toString("base64") !== s) return null;
  return buf;
}

/** True when the (already valid) JSON text has an object with a repeated key. */
function hasDuplicateKeys(text: string): boolean {
  type Frame = { keys: Set<string>; expectKey: boolean } | null; // null: an array
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "{") stack.push({ keys: new Set(), expectKey: true });
    else if (c === "[") stack.push(null);
    else if (c === "}" || c === "]") stack.pop();
    else if (c === ",") {
      const top = stack[stack.length - 1];
      if (top) top.expectKey = true;
    } else if (c === ":") {
      const top = stack[stack.length - 1];
      if (top) top.expectKey = false;
    } else if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return true;
        top.keys.add(key);
      }
      i = j;
    }
  }
  return false;
}

const PLAY_STATUS = new Set(["completed", "interrupted", "failed", "dark"]);
const HEX64_ANY_CASE = /^[0-9a-fA-F]{64}$/;

/** Why a play record is not the spec's, or null. */
function playProblem(p: JsonObject): string | null {
  for (const k of ["campaign", "customer", "creative"]) if (typeof p[k] !== "string") return `${k} is not a string`;
  for (const k of ["creativeSha256", "renditionSha256"]) if (typeof p[k] !== "string" || !HEX64_ANY_CASE.test(p[k])) return `${k} is not hex SHA-256`;
  for (const k of ["plannedAt", "startedAt", "endedAt"]) if (typeof p[k] !== "string" || !RFC3339_MS_Z.test(p[k])) return `${k} is not a UTC time with ms`;
  if (!Number.isSafeInteger(p.scheduleVersion)) return "scheduleVersion is not an integer";
  if (!Number.isSafeInteger(p.durationMs)) return "durationMs is not an integer";
  if (typeof p.status !== "string" || !PLAY_STATUS.has(p.status)) return "status is not completed | interrupted | failed | dark";
  if (typeof p.makeGood !== "boolean") return "makeGood is not a boolean";
  const s = p.screenState;
  if (!isObject(s) || typeof s.verified !== "boolean" || typeof s.online !== "boolean") return "screenState is not { verified, online, … }";
  const b = s.brightness;
  if (b !== null && !(Number.isSafeInteger(b) && (b as number) >= 0 && (b as number) <= 100)) return "screenState.brightness is not 0..100 or null";
  if (s.blackout !== null && typeof s.blackout !== "boolean") return "screenState.blackout is not a boolean or null";
  return null;
}

/** Why a whole entry's shape is not format v1, or null. */
function shapeProblem(e: JsonObject): string | null {
  if (e.v !== 1) return "v is not 1";
  if (!isSeq(e.seq)) return "seq is not an integer ≥ 1";
  if (typeof e.screen !== "string" || e.screen === "") return "screen is not a string";
  if (typeof e.at !== "string" || !RFC3339_MS_Z.test(e.at)) return "at is not a UTC RFC 3339 time with ms";
  const c = e.clock;
  if (!isObject(c) || typeof c.synced !== "boolean" || typeof c.bootId !== "string" || !Number.isSafeInteger(c.monoMs)) {
    return "clock is not { synced, bootId, monoMs }";
  }
  if (typeof e.prev !== "string" || !HEX64.test(e.prev)) return "prev is not 64 lowercase hex digits";
  if (strictBase64(e.sig, 64) === null) return "sig is not padded base64 of 64 bytes";
  if (e.kind === "play") {
    if (!isObject(e.play) || "event" in e) return "a play entry needs play (and no event)";
    const problem = playProblem(e.play);
    if (problem !== null) return `play.${problem}`;
  } else if (e.kind === "event") {
    if (!isObject(e.event) || "play" in e) return "an event entry needs event (and no play)";
    if (typeof e.event.type !== "string" || !EVENT_TYPES.has(e.event.type)) return "unknown event type";
  } else {
    return "kind is neither play nor event";
  }
  return null;
}

function signatureValid(payload: JsonObject, sigB64: string, key: KeyObject): boolean {
  const sig = strictBase64(sigB64, 64);
  if (!sig) return false;
  try {
    return edVerify(null, canonicalBytes(payload), key, sig);
  } catch {
    return false;
  }
}

function withoutSig(x: JsonObject): JsonObject {
  const { sig: _sig, ...rest } = x;
  return rest;
}

interface ParsedLine {
  /** The parsed value, or undefined when the line is not (I-)JSON. */
  value: JsonObject | undefined;
  why: string;
}

function parseLine(line: string): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { value: undefined, why: "not JSON" };
  }
  if (!isObject(value)) return { value: undefined, why: "not a JSON object" };
  if (hasDuplicateKeys(line)) return { value: undefined, why: "an object has a duplicate key" };
  return { value, why: "" };
}

function fail(seq: number | null, reason: IndependentReason, detail: string): IndependentResult {
  return { ok: false, seq, reason, detail };
}

/** Splits export text into its lines; the newline that ends the last line does not start another. */
export function exportLines(text: string): string[] {
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/** Verifies an export given as its text or as its lines. */
export function independentVerify(input: string | readonly string[], opts: IndependentOptions): IndependentResult {
  const key = typeof opts.publicKey === "string" ? createPublicKey(opts.publicKey) : opts.publicKey;
  const lines = (typeof input === "string" ? exportLines(input) : [...input]).map((l) => l.replace(/^\uFEFF/, ""));
  const parsed = lines.map(parseLine);
  const hashes = new Map<number, string>();
  let prevSeq: number | null = null;
  let prevHash: string | null = null;
  let firstSeq: number | null = null;
  let entries = 0;
  let stubs = 0;
  let screen: string | null = null;

  for (let i = 0; i < lines.length; i++) {
    const expected = prevSeq === null ? null : prevSeq + 1;
    const { value: v, why } = parsed[i];
    if (v === undefined) return fail(expected, "malformed", `line ${i + 1} is ${why}`);
    const ownSeq = isSeq(v.seq) ? v.seq : null;
    const keys = Object.keys(v);
    const isStub = keys.length === 2 && "seq" in v && "hash" in v;

    let hash: string;
    if (isStub) {
      if (ownSeq === null) return fail(expected, "malformed", `line ${i + 1}: a stub's seq is not an integer ≥ 1`);
      if (typeof v.hash !== "string" || !HEX64.test(v.hash)) return fail(ownSeq, "malformed", "a stub's hash is not 64 lowercase hex digits");
      hash = v.hash;
    } else {
      const problem = shapeProblem(v);
      if (problem !== null) return fail(ownSeq ?? expected, "malformed", `line ${i + 1}: ${problem}`);
      const seq = ownSeq as number;
      let bytes: Buffer;
      try {
        bytes = canonicalBytes(v);
      } catch (err) {
        return fail(seq, "malformed", `line ${i + 1} has no canonical form: ${(err as Error).message}`);
      }
      hash = sha256Hex(bytes);
    }

    // Contiguity before the signature: a gap or reorder is named at the lowest seq it touches,
    // even when the line that reveals it is also forged (an edited seq 4 → 40 is "gap at 4").
    const seq = ownSeq as number;
    if (prevSeq !== null && seq !== prevSeq + 1) {
      if (seq === prevSeq) return fail(seq, "duplicate", `seq ${seq} appears twice`);
      if (seq < prevSeq) return fail(seq, "reorder", `seq ${seq} appears after seq ${prevSeq}`);
      const missing = prevSeq + 1;
      const next = parsed[i + 1]?.value;
      if (next !== undefined && next.seq === missing) return fail(missing, "reorder", `seq ${missing} appears after seq ${seq}`);
      return fail(missing, "gap", `seq ${missing} is missing (seq ${seq} follows seq ${prevSeq})`);
    }
    if (!isStub) {
      if (!signatureValid(withoutSig(v), v.sig as string, key)) {
        return fail(seq, "bad signature", "the signature does not verify with this key");
      }
      if (screen === null) screen = v.screen as string;
      else if (v.screen !== screen) return fail(seq, "malformed", `screen ${String(v.screen)} differs from ${screen}`);
      if (prevHash !== null && v.prev !== prevHash) return fail(seq, "broken link", `prev does not match the hash of seq ${seq - 1}`);
      if (prevHash === null && seq === 1 && v.prev !== GENESIS) return fail(seq, "broken link", "seq 1's prev is not 64 zeros");
      entries++;
    } else {
      stubs++;
    }
    hashes.set(seq, hash);
    firstSeq ??= seq;
    prevSeq = seq;
    prevHash = hash;
  }

  if (prevSeq === null || firstSeq === null) return fail(null, "empty", "the export holds no entries");
  if (entries === 0) return fail(null, "empty", "the export holds only stubs: nothing is signed");

  const h = opts.head;
  if (h !== undefined) {
    const headSeq = isSeq(h.seq) ? h.seq : null;
    const hv = h as unknown as JsonObject;
    const headKeys = Object.keys(hv).sort().join(",");
    if (
      headKeys !== "at,hash,screen,seq,sig" ||
      headSeq === null ||
      typeof h.screen !== "string" ||
      typeof h.at !== "string" ||
      typeof h.hash !== "string" ||
      !HEX64.test(h.hash)
    ) {
      return fail(null, "bad head", "the head is not { screen, seq, hash, at, sig }");
    }
    if (!signatureValid(withoutSig(hv), h.sig, key)) return fail(null, "bad head", "the head's signature does not verify");
    if (screen !== null && h.screen !== screen) return fail(headSeq, "bad head", `the head is for screen ${h.screen}, the export for ${screen}`);
    if (prevSeq < headSeq) return fail(prevSeq + 1, "truncated", `the export ends at seq ${prevSeq} but the signed head is at seq ${headSeq}`);
    const at = hashes.get(headSeq);
    if (at === undefined) return fail(headSeq, "bad head", `the export does not hold the head's seq ${headSeq}`);
    if (at !== h.hash) return fail(headSeq, "bad head", `seq ${headSeq} does not hash to the signed head's hash`);
  }
  return { ok: true, entries, stubs, firstSeq, lastSeq: prevSeq };
}
