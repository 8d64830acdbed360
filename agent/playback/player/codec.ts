// mpv's JSON IPC protocol as a pure codec: one JSON object per line, UTF-8, '\n' terminated.
// Requests carry a numeric request_id that mpv echoes in its reply; events carry "event" and
// no request_id. Bytes in, messages out: no socket, no clock, so split reads, several messages
// in one read and garbage are tested with vectors.

/** Arguments of an mpv command: its name first, then its parameters. */
export type MpvArg = string | number | boolean;

/**
 * A command with named arguments (`{ name: "loadfile", url, flags, options }`): for commands
 * whose positional arguments moved between mpv versions (loadfile gained an index before its
 * options in 0.38), where names stay put.
 */
export interface MpvNamedCommand {
  name: string;
  [argument: string]: MpvArg;
}

export type MpvCommand = readonly MpvArg[] | MpvNamedCommand;

export function commandName(command: MpvCommand): string {
  return Array.isArray(command) ? String(command[0]) : (command as MpvNamedCommand).name;
}

export type MpvMessage =
  | { kind: "reply"; requestId: number; error: string; data: unknown }
  | { kind: "event"; event: string; fields: Record<string, unknown> }
  | { kind: "garbage"; line: string; reason: string };

/** A line longer than this is not mpv talking (its largest replies are playlists, kilobytes). */
export const MAX_LINE_BYTES = 1024 * 1024;

/** One request line, newline included. */
export function encodeCommand(requestId: number, args: MpvCommand): string {
  if (!Number.isSafeInteger(requestId) || requestId < 1) throw new RangeError(`request id ${requestId}: a positive integer`);
  const named = !Array.isArray(args);
  if (named ? typeof (args as MpvNamedCommand).name !== "string" || (args as MpvNamedCommand).name === "" : args.length === 0 || typeof args[0] !== "string") {
    throw new RangeError("a command starts with its name");
  }
  // JSON.stringify escapes '\n' inside strings, so a file name can never split the line.
  return `${JSON.stringify({ command: args, request_id: requestId })}\n`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** One line (without its '\n') as a message; anything that is not mpv's shape is garbage, with why. */
export function decodeLine(line: string): MpvMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return { kind: "garbage", line, reason: "not JSON" };
  }
  if (!isRecord(parsed)) return { kind: "garbage", line, reason: "not a JSON object" };
  if (typeof parsed.event === "string") {
    const { event, ...fields } = parsed;
    return { kind: "event", event, fields };
  }
  if (typeof parsed.error === "string") {
    const id = parsed.request_id;
    if (typeof id !== "number" || !Number.isSafeInteger(id)) return { kind: "garbage", line, reason: "a reply without a request_id" };
    return { kind: "reply", requestId: id, error: parsed.error, data: parsed.data };
  }
  return { kind: "garbage", line, reason: "neither an event nor a reply" };
}

/**
 * Splits a byte stream into messages. Lines are cut at the byte level before UTF-8 decoding,
 * so a multi-byte character split across two reads is decoded whole.
 */
export class LineDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** True while skipping the rest of a line that was already reported as too long. */
  private discarding = false;

  push(chunk: Uint8Array): MpvMessage[] {
    const out: MpvMessage[] = [];
    let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (let nl = buf.indexOf(0x0a); nl !== -1; nl = buf.indexOf(0x0a)) {
      this.take(buf.subarray(0, nl), out, true);
      buf = buf.subarray(nl + 1);
    }
    if (buf.length > 0) this.take(buf, out, false);
    return out;
  }

  private take(part: Buffer, out: MpvMessage[], endOfLine: boolean): void {
    if (!this.discarding) {
      this.pending.push(Buffer.from(part));
      this.pendingBytes += part.length;
      if (this.pendingBytes > MAX_LINE_BYTES) {
        const head = Buffer.concat(this.pending).subarray(0, 80).toString("utf8");
        out.push({ kind: "garbage", line: head, reason: `a line longer than ${MAX_LINE_BYTES} bytes` });
        this.reset();
        this.discarding = true;
      }
    }
    if (!endOfLine) return;
    if (this.discarding) {
      this.discarding = false;
      return;
    }
    const line = Buffer.concat(this.pending).toString("utf8").replace(/\r$/, "");
    this.reset();
    if (line.trim() !== "") out.push(decodeLine(line));
  }

  private reset(): void {
    this.pending = [];
    this.pendingBytes = 0;
  }
}
