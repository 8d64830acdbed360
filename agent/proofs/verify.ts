// Verifies an export (JSON Lines of entries and stubs) as any third party holding the device's
// public key would, one line at a time: memory stays flat however long the export is.
import type { KeyObject } from "node:crypto";
import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { verifyCanonical } from "../crypto/index.js";
import { entrySignatureValid, entryTexts, isStub, sha256Hex, type EntryTexts } from "./entry.js";
import { duplicateKey } from "./json-keys.js";
import { entryShapeProblem } from "./schema.js";
import { GENESIS_PREV, type Checkpoint, type Entry } from "./types.js";

export type VerifyFailureReason =
  | "malformed"
  | "bad signature"
  | "broken link"
  | "gap"
  | "reorder"
  | "duplicate"
  | "screen mismatch"
  | "truncated"
  | "head mismatch"
  | "bad head"
  | "empty";

export interface VerifySuccess {
  ok: true;
  entries: number;
  whole: number;
  stubs: number;
  firstSeq: number;
  lastSeq: number;
  screen: string | null;
  headSeq: number | null;
  /**
   * With a head: true when its seq was a whole, signed entry of the export; false when the
   * export reached it only through a stub (the hash matches, the entry itself was not shown).
   */
  headWhole: boolean | null;
  summary: string;
}

export interface VerifyFailure {
  ok: false;
  /** The first bad seq (null when the problem has no seq, e.g. an empty export). */
  seq: number | null;
  /** 1-based line of the export where it was found (0 when it was found at the end). */
  line: number;
  reason: VerifyFailureReason;
  message: string;
}

export type VerifyResult = VerifySuccess | VerifyFailure;

export interface VerifyOptions {
  publicKey: KeyObject;
  /** A signed head checkpoint: the export must reach its seq with its hash. */
  head?: unknown;
  /** The same, as the JSON text of a head file: read as strictly as an export line. */
  headText?: string;
}

/** Longest line accepted; an entry is well under 4 KiB. */
const MAX_LINE = 1 << 20;

class Stop extends Error {
  constructor(readonly failure: VerifyFailure) {
    super(failure.message);
  }
}

function stop(reason: VerifyFailureReason, seq: number | null, line: number, detail: string): never {
  const at = seq !== null ? ` at seq ${seq}` : line > 0 ? ` at line ${line}` : "";
  throw new Stop({ ok: false, seq, line, reason, message: `${reason}${at}: ${detail}` });
}

const HEAD_FIELDS = ["at", "hash", "screen", "seq", "sig"];
const HEX64 = /^[0-9a-f]{64}$/;
const UTC_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The head's JSON text, parsed as strictly as an export line (no field twice), or "bad head". */
function parseHeadText(text: string): unknown {
  const raw = text.startsWith("\uFEFF") ? text.slice(1) : text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    stop("bad head", null, 0, "the head is not JSON");
  }
  const dup = duplicateKey(raw);
  if (dup !== null) stop("bad head", null, 0, `the head has the field ${JSON.stringify(dup)} twice`);
  return parsed;
}

/** What is wrong with the head's shape: exactly { screen, seq, hash, at, sig }, each typed. */
function headShapeProblem(h: unknown): string | null {
  if (typeof h !== "object" || h === null || Array.isArray(h)) return "the head is not { screen, seq, hash, at, sig }";
  const x = h as Record<string, unknown>;
  const extra = Object.keys(x).filter((k) => !HEAD_FIELDS.includes(k));
  if (extra.length > 0) return `the head has a field the format does not define: ${JSON.stringify(extra[0])}`;
  const missing = HEAD_FIELDS.filter((k) => !Object.hasOwn(x, k));
  if (missing.length > 0) return `the head lacks ${missing.join(", ")}`;
  if (typeof x.screen !== "string" || x.screen === "") return "screen is not a non-empty string";
  if (!Number.isSafeInteger(x.seq) || (x.seq as number) < 1) return "seq is not an integer ≥ 1";
  if (typeof x.hash !== "string" || !HEX64.test(x.hash)) return "hash is not 64 lowercase hex digits";
  if (typeof x.at !== "string" || !UTC_MS.test(x.at)) return "at is not a UTC time with milliseconds";
  if (typeof x.sig !== "string") return "sig is not a string";
  return null;
}

function checkHead(head: unknown, publicKey: KeyObject): Checkpoint {
  const problem = headShapeProblem(head);
  if (problem) stop("bad head", null, 0, problem);
  const { sig, ...unsigned } = head as Checkpoint;
  let valid = false;
  try {
    // verifyCanonical also refuses a sig that is not canonical padded base64 of 64 bytes.
    valid = verifyCanonical(unsigned, sig, publicKey);
  } catch (err) {
    stop("bad head", null, 0, `the head cannot be canonicalised: ${(err as Error).message}`);
  }
  if (!valid) stop("bad head", null, 0, "the head's signature does not verify with this key");
  return head as Checkpoint;
}

function givenHead(opts: VerifyOptions): Checkpoint | null {
  if (opts.headText !== undefined) return checkHead(parseHeadText(opts.headText), opts.publicKey);
  return opts.head === undefined ? null : checkHead(opts.head, opts.publicKey);
}

/** Verifies the lines of an export. */
export async function verifyLines(lines: AsyncIterable<string> | Iterable<string>, opts: VerifyOptions): Promise<VerifyResult> {
  try {
    return await run(lines, opts);
  } catch (err) {
    if (err instanceof Stop) return err.failure;
    throw err;
  }
}

async function run(lines: AsyncIterable<string> | Iterable<string>, opts: VerifyOptions): Promise<VerifySuccess> {
  const head = givenHead(opts);
  let prev: { seq: number; hash: string } | null = null;
  let firstSeq = 0;
  let lineNo = 0;
  let whole = 0;
  let stubs = 0;
  let screen: string | null = head?.screen ?? null;
  let headSeen = false;
  let headWhole = false;
  // A seq that jumped ahead: a gap, unless the missing seq turns up next (then a reorder).
  let pendingGap: { expected: number; got: number; line: number } | null = null;

  for await (const text of lines) {
    lineNo++;
    // An editor may have saved the export with a byte-order mark; it is not part of the JSON.
    const invalidUtf8 = text.startsWith(INVALID_UTF8);
    const decoded = invalidUtf8 ? text.slice(INVALID_UTF8.length) : text;
    const raw = lineNo === 1 && decoded.startsWith("\uFEFF") ? decoded.slice(1) : decoded;
    const expected = prev ? prev.seq + 1 : null;
    if (raw.length > MAX_LINE) stop("malformed", expected, lineNo, `line ${lineNo} is longer than ${MAX_LINE} characters`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      stop("malformed", pendingGap?.expected ?? expected, pendingGap?.line ?? lineNo, `line ${lineNo} is not JSON`);
    }
    const claimed = (parsed as { seq?: unknown } | null)?.seq;
    const claimedSeq = Number.isSafeInteger(claimed) && (claimed as number) >= 1 ? (claimed as number) : null;

    // A seq that jumped ahead on the line before: the missing one turning up now is a reorder,
    // anything else makes it a gap, and either comes before whatever is wrong with this line.
    if (pendingGap) {
      if (claimedSeq === pendingGap.expected) stop("reorder", claimedSeq, lineNo, `seq ${claimedSeq} appears after seq ${pendingGap.got}`);
      stop("gap", pendingGap.expected, pendingGap.line, `seq ${pendingGap.expected} is missing (seq ${pendingGap.got} follows seq ${pendingGap.expected - 1})`);
    }
    if (invalidUtf8) stop("malformed", claimedSeq ?? expected, lineNo, `line ${lineNo} is not valid UTF-8`);
    const dup = duplicateKey(raw);
    if (dup !== null) stop("malformed", claimedSeq ?? expected, lineNo, `line ${lineNo} has the field ${JSON.stringify(dup)} twice`);

    let seq: number;
    let hash: string;
    let texts: EntryTexts | null = null;
    if (isStub(parsed)) {
      seq = parsed.seq;
      hash = parsed.hash;
    } else {
      const problem = entryShapeProblem(parsed);
      if (problem) stop("malformed", claimedSeq ?? expected, lineNo, `line ${lineNo}: ${problem}`);
      seq = (parsed as Entry).seq;
      try {
        texts = entryTexts(parsed as Entry);
        hash = sha256Hex(texts.full);
      } catch (err) {
        stop("malformed", seq, lineNo, `line ${lineNo}: ${(err as Error).message}`);
      }
    }

    if (prev) {
      if (seq === prev.seq) stop("duplicate", seq, lineNo, `seq ${seq} appears twice`);
      if (seq < prev.seq) stop("reorder", seq, lineNo, `seq ${seq} appears after seq ${prev.seq}`);
      if (seq > prev.seq + 1) {
        pendingGap = { expected: prev.seq + 1, got: seq, line: lineNo };
        prev = { seq, hash };
        continue;
      }
    } else {
      firstSeq = seq;
    }

    if (texts !== null) {
      const entry = parsed as Entry;
      if (!entrySignatureValid(entry, opts.publicKey, texts)) {
        stop("bad signature", seq, lineNo, "the signature does not verify with this key (the entry was altered, or it was signed by another device)");
      }
      if (screen === null) screen = entry.screen;
      else if (head && whole === 0 && entry.screen !== head.screen) {
        stop("bad head", null, 0, `the head is for screen ${JSON.stringify(head.screen)}, the export for ${JSON.stringify(entry.screen)}`);
      } else if (entry.screen !== screen) stop("screen mismatch", seq, lineNo, `entry is from screen ${JSON.stringify(entry.screen)}, expected ${JSON.stringify(screen)}`);
      const wantPrev = prev ? prev.hash : seq === 1 ? GENESIS_PREV : null;
      if (wantPrev !== null && entry.prev !== wantPrev) {
        stop("broken link", seq, lineNo, prev ? `prev does not match the hash of seq ${prev.seq}` : "seq 1 must link to 64 zeros");
      }
      whole++;
    } else {
      stubs++;
    }
    if (head && seq === head.seq) {
      if (hash !== head.hash) stop("head mismatch", seq, lineNo, "its hash differs from the signed head's (the ledger was rewritten after the checkpoint)");
      headSeen = true;
      headWhole = texts !== null;
    }
    prev = { seq, hash };
  }

  if (pendingGap) {
    stop("gap", pendingGap.expected, pendingGap.line, `seq ${pendingGap.expected} is missing (seq ${pendingGap.got} follows seq ${pendingGap.expected - 1})`);
  }
  if (!prev) stop("empty", null, 0, "the export holds no entries");
  // Stubs state hashes anyone could write: without one signed entry nothing is proved.
  if (whole === 0) stop("empty", null, 0, "the export holds no signed entry, only stubs");
  if (head && !headSeen) {
    if (prev.seq < head.seq) {
      stop("truncated", prev.seq + 1, 0, `the export ends at seq ${prev.seq} but the signed head is at seq ${head.seq}`);
    }
    stop("head mismatch", head.seq, 0, `the export starts at seq ${firstSeq}, after the head's seq ${head.seq}`);
  }
  const summary =
    `ok: ${whole + stubs} entries (${whole} signed, ${stubs} stubs), seq ${firstSeq}..${prev.seq}` +
    (screen ? `, screen ${screen}` : "") +
    (head ? `, head seq ${head.seq} matches${headWhole ? "" : " a stub: the head's entry is not in this export, only its hash"}` : "");
  return {
    ok: true,
    entries: whole + stubs,
    whole,
    stubs,
    firstSeq,
    lastSeq: prev.seq,
    screen,
    headSeq: head?.seq ?? null,
    headWhole: head ? headWhole : null,
    summary,
  };
}

let overlongLine: string | undefined;
/** Stands for a line that was too long to keep: one string past the limit, made once. */
function tooLong(): string {
  overlongLine ??= " ".repeat(MAX_LINE + 1);
  return overlongLine;
}

/** Empty, or only spaces, tabs and CRs (a line too long to keep is never blank). */
function isBlank(line: string): boolean {
  return line.length <= MAX_LINE && /^[ \t\r]*$/.test(line);
}

/**
 * Lines of a stream, without their line ends (LF or CRLF). Blank lines at the very end of the
 * file are not lines of the export (editors and `echo >>` leave them, like the final newline);
 * a blank line followed by anything else is handed on, and the verifier refuses it. A line
 * longer than MAX_LINE is not kept: the rest of it is skipped as it streams past and the
 * verifier is handed a stand-in that it reports as too long, so a hostile file cannot make
 * memory grow (held blank lines are only counted).
 */
export async function* streamLines(input: Readable): AsyncGenerator<string> {
  let heldBlank = 0;
  for await (const line of rawLines(input)) {
    if (isBlank(line)) {
      heldBlank++;
      continue;
    }
    for (; heldBlank > 0; heldBlank--) yield "";
    yield line;
  }
}

// Marks a line whose bytes are not UTF-8 (the lenient decoding follows it, for its seq). A lone
// surrogate can never come out of decoding bytes, so no line read from a file can start with it.
const INVALID_UTF8 = "\uD800";
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lenientUtf8 = new TextDecoder("utf-8", { ignoreBOM: true });
// A UTF-8 line of MAX_LINE characters takes at most this many bytes.
const MAX_LINE_BYTES = MAX_LINE * 3;

/** One line's bytes as text: decoded strictly, since a byte changed to U+FFFD would otherwise verify. */
function decodeLine(bytes: Buffer): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return INVALID_UTF8 + lenientUtf8.decode(bytes);
  }
}

// Lines are cut at LF bytes before decoding (an LF byte is never part of a multi-byte character),
// so each line is decoded, and judged, on its own.
async function* rawLines(input: Readable): AsyncGenerator<string> {
  let parts: Buffer[] = [];
  let size = 0;
  let overlong = false;
  const finish = (piece: Buffer): string => {
    if (overlong || size + piece.length > MAX_LINE_BYTES) return tooLong();
    const line = decodeLine(parts.length ? Buffer.concat([...parts, piece]) : piece);
    if (line.length > MAX_LINE) return tooLong();
    return line.endsWith("\r") ? line.slice(0, -1) : line;
  };
  const keep = (rest: Buffer): void => {
    if (overlong || rest.length === 0) return;
    if (size + rest.length > MAX_LINE_BYTES) {
      overlong = true;
      parts = [];
      size = 0;
    } else {
      parts.push(rest);
      size += rest.length;
    }
  };
  for await (const chunk of input) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : (chunk as Buffer);
    let start = 0;
    for (let nl = bytes.indexOf(0x0a); nl !== -1; nl = bytes.indexOf(0x0a, start)) {
      yield finish(bytes.subarray(start, nl));
      parts = [];
      size = 0;
      overlong = false;
      start = nl + 1;
    }
    keep(Buffer.from(bytes.subarray(start)));
  }
  if (overlong || size > 0) yield finish(Buffer.alloc(0));
}

/** Verifies an export file ("-" for stdin). */
export async function verifyFile(path: string, opts: VerifyOptions): Promise<VerifyResult> {
  const input = path === "-" ? process.stdin : createReadStream(path);
  const opened = new Promise<void>((resolve, reject) => {
    if (path === "-") resolve();
    else input.once("open", () => resolve()).once("error", reject);
  });
  await opened;
  return verifyLines(streamLines(input), opts);
}
