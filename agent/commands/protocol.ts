// The control socket's wire format, shared by server and client: one JSON object per line,
// UTF-8, `\n`-terminated. Request `{ id, name, args?, user? }`, reply `{ id, ok, result }` or
// `{ id, ok: false, error: { code, message } }` (the registry's outcome with the request's id).
import { StringDecoder } from "node:string_decoder";
import { MAX_ENVELOPE_BYTES } from "../playback/schedule/limits.js";
import type { CommandError, CommandOutcome } from "./types.js";

export const CONTROL_SOCKET_NAME = "control.sock";

/**
 * The most a string of `bytes` UTF-8 bytes (decoded from a file) can grow to as JSON text: a
 * control byte becomes `\u00XX`, 6 bytes; `"` and `\` become 2; a byte that is not valid UTF-8
 * decodes to U+FFFD, 3 bytes; anything else stays as it was.
 */
const JSON_ESCAPE_FACTOR = 6;

/** Room for everything in a request line beside its one big string (id, name, user, other args). */
const LINE_OVERHEAD_BYTES = 64 * 1024;

/**
 * Longest line either side accepts. The largest request is `schedule.load`, which carries a
 * schedule file's text (the CLI reads at most MAX_ENVELOPE_BYTES + 1 bytes of it, one more than
 * the limit, so that an oversized file is still delivered and rejected on the record): at worst
 * every byte escaped six-fold. About 24 MiB; a client holds no more than that per connection.
 */
export const MAX_LINE_BYTES = JSON_ESCAPE_FACTOR * (MAX_ENVELOPE_BYTES + 1) + LINE_OVERHEAD_BYTES;

/** Codes of the socket itself, beside the registry's (the request never reached a command). */
export type ProtocolErrorCode = "bad-request" | "line-too-long";

export type RequestId = string | number;

export interface ControlRequest {
  id: RequestId;
  name: string;
  args: unknown;
  /** Who the CLI says runs it, as the client states it (the socket's mode is the gate, not this). */
  user: string | null;
}

export type ControlReply = { id: RequestId | null } & (CommandOutcome | { ok: false; error: { code: ProtocolErrorCode; message: string } });

export type ParsedRequest = { ok: true; request: ControlRequest } | { ok: false; id: RequestId | null; message: string };

const MAX_ID_CHARS = 128;
const MAX_USER_CHARS = 64;

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function requestId(x: unknown): RequestId | null {
  if (typeof x === "string" && x.length >= 1 && x.length <= MAX_ID_CHARS) return x;
  if (typeof x === "number" && Number.isSafeInteger(x)) return x;
  return null;
}

/** A line as a request, or why it is not one (with the id, when one could be read, to answer to). */
export function parseRequest(line: string): ParsedRequest {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return { ok: false, id: null, message: "not JSON: each line must be one JSON object" };
  }
  if (!isRecord(raw)) return { ok: false, id: null, message: "not a JSON object" };
  const id = requestId(raw.id);
  if (id === null) return { ok: false, id: null, message: `id: expected a string of 1–${MAX_ID_CHARS} characters or an integer` };
  const unknown = Object.keys(raw).filter((k) => !["id", "name", "args", "user"].includes(k));
  if (unknown.length) return { ok: false, id, message: `unknown field ${unknown.map((k) => JSON.stringify(k)).join(", ")}` };
  if (typeof raw.name !== "string") return { ok: false, id, message: "name: expected a string" };
  if (raw.user !== undefined && (typeof raw.user !== "string" || raw.user.length > MAX_USER_CHARS)) {
    return { ok: false, id, message: `user: expected a string of at most ${MAX_USER_CHARS} characters` };
  }
  return { ok: true, request: { id, name: raw.name, args: raw.args, user: raw.user ?? null } };
}

export function replyLine(reply: ControlReply): string {
  return `${JSON.stringify(reply)}\n`;
}

export function protocolError(id: RequestId | null, code: ProtocolErrorCode, message: string): ControlReply {
  return { id, ok: false, error: { code, message } };
}

/** A reply line as the client reads it, or null when it is not one. */
export function parseReply(line: string): ControlReply | null {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return null;
  }
  if (!isRecord(raw) || typeof raw.ok !== "boolean") return null;
  if (raw.ok) return { id: requestId(raw.id), ok: true, result: raw.result };
  const error = raw.error;
  if (!isRecord(error) || typeof error.code !== "string" || typeof error.message !== "string") return null;
  return { id: requestId(raw.id), ok: false, error: { code: error.code, message: error.message } as CommandError };
}

/**
 * Cuts a byte stream into lines, refusing to hold more than `maxBytes` of one line. UTF-8 is
 * decoded across chunk boundaries, so a character split between two reads survives.
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder("utf8");
  private pending = "";
  private pendingBytes = 0;

  constructor(private readonly maxBytes: number = MAX_LINE_BYTES) {}

  /**
   * The complete lines in this chunk; `tooLong` once a line outgrows the cap (the lines before it
   * are still returned, so requests that arrived whole are answered before the connection ends).
   */
  push(chunk: Buffer): { lines: string[]; tooLong: boolean } {
    const lines: string[] = [];
    let start = 0;
    let newline = chunk.indexOf(0x0a);
    while (newline !== -1) {
      if (this.pendingBytes + (newline - start) > this.maxBytes) return { lines, tooLong: true };
      lines.push(this.pending + this.decoder.write(chunk.subarray(start, newline)) + this.decoder.end());
      this.pending = "";
      this.pendingBytes = 0;
      start = newline + 1;
      newline = chunk.indexOf(0x0a, start);
    }
    this.pendingBytes += chunk.length - start;
    if (this.pendingBytes > this.maxBytes) return { lines, tooLong: true };
    this.pending += this.decoder.write(chunk.subarray(start));
    return { lines, tooLong: false };
  }
}
