// The NovaStar MCTRL/MSD frame codec (spec/novastar.md): bytes ⇄ frames, no I/O, no clock.
// The decoder is incremental: feed it whatever the transport delivered, in any chunking,
// with any noise around the frames, and it hands back every frame whose checksum holds.

export const REQUEST_HEAD = 0x55aa;
export const REPLY_HEAD = 0xaa55;
const HEADER_BYTES = 18;
const CHECKSUM_BYTES = 2;
export const MAX_DATA_BYTES = 0xffff;

export const SRC_PC = 0xfe;
export const ALL_UNITS = 0xff;
export const ALL_PORTS = 0xff;
export const ALL_BOARDS = 0xffff;

export const DevType = { SendingCard: 0x00, ReceivingCard: 0x01, FunctionCard: 0x02 } as const;

export const Code = { Read: 0x00, Write: 0x01 } as const;

/** Reply acks: 00 ok, then the documented failures. */
export const ACK = {
  ok: 0x00,
  timeout: 0x01,
  requestChecksum: 0x02,
  ackChecksum: 0x03,
  invalidCommand: 0x04,
} as const;

export const ACK_MEANING: Record<number, string> = {
  0x00: "ok",
  0x01: "receiving card did not answer (ack 01)",
  0x02: "controller saw a request checksum error (ack 02)",
  0x03: "controller saw an ack checksum error (ack 03)",
  0x04: "controller rejected the command as invalid (ack 04)",
};

export interface Frame {
  kind: "request" | "reply";
  ack: number;
  serial: number;
  /** As on the wire: in replies src and dst are swapped relative to the request. */
  src: number;
  dst: number;
  devType: number;
  port: number;
  board: number;
  code: number;
  address: number;
  /** Write: payload length; read: bytes wanted. */
  length: number;
  data: Uint8Array;
}

export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FrameError";
  }
}

function checkByte(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xff) throw new FrameError(`${name} must be a byte 0..255, got ${value}`);
}

/** (sum of bytes 2 .. end-1) + 0x5555, low 16 bits. */
export function checksum(bytes: Uint8Array, start: number, end: number): number {
  let sum = 0x5555;
  for (let i = start; i < end; i++) sum += bytes[i];
  return sum & 0xffff;
}

/** Whether a frame of this kind/code/ack carries `length` data bytes after the header. */
function carriesData(kind: Frame["kind"], code: number): boolean {
  return kind === "request" ? code === Code.Write : code === Code.Read;
}

export function encodeFrame(frame: Frame): Uint8Array {
  for (const [name, v] of [["ack", frame.ack], ["serial", frame.serial], ["src", frame.src], ["dst", frame.dst], ["devType", frame.devType], ["port", frame.port], ["code", frame.code]] as const) {
    checkByte(name, v);
  }
  if (!Number.isInteger(frame.board) || frame.board < 0 || frame.board > 0xffff) throw new FrameError(`board must be 0..65535, got ${frame.board}`);
  if (!Number.isInteger(frame.address) || frame.address < 0 || frame.address > 0xffffffff) throw new FrameError(`address must be a 32-bit unsigned integer, got ${frame.address}`);
  if (!Number.isInteger(frame.length) || frame.length < 0 || frame.length > MAX_DATA_BYTES) throw new FrameError(`length must be 0..65535, got ${frame.length}`);
  const withData = carriesData(frame.kind, frame.code) && frame.data.length > 0;
  if (carriesData(frame.kind, frame.code) && frame.data.length !== frame.length && !(frame.kind === "reply" && frame.data.length === 0)) {
    throw new FrameError(`length field ${frame.length} does not match ${frame.data.length} data bytes`);
  }
  const n = withData ? frame.data.length : 0;
  const out = new Uint8Array(HEADER_BYTES + n + CHECKSUM_BYTES);
  const view = new DataView(out.buffer);
  view.setUint16(0, frame.kind === "request" ? REQUEST_HEAD : REPLY_HEAD, false);
  out[2] = frame.ack;
  out[3] = frame.serial;
  out[4] = frame.src;
  out[5] = frame.dst;
  out[6] = frame.devType;
  out[7] = frame.port;
  view.setUint16(8, frame.board, true);
  out[10] = frame.code;
  out[11] = 0;
  view.setUint32(12, frame.address, true);
  view.setUint16(16, frame.length, true);
  if (n > 0) out.set(frame.data, HEADER_BYTES);
  view.setUint16(HEADER_BYTES + n, checksum(out, 2, HEADER_BYTES + n), true);
  return out;
}

function headAt(bytes: Uint8Array, i: number): Frame["kind"] | null {
  if (bytes[i] === 0x55 && bytes[i + 1] === 0xaa) return "request";
  if (bytes[i] === 0xaa && bytes[i + 1] === 0x55) return "reply";
  return null;
}

/**
 * The data lengths a frame starting with this header may have, most likely first. A read reply
 * carrying an error ack may or may not carry its data (firmware differs; the spec only says read
 * replies carry data), so both are tried and the checksum decides.
 */
function candidateDataLengths(kind: Frame["kind"], code: number, ack: number, length: number): number[] {
  if (!carriesData(kind, code)) return [0];
  if (kind === "reply" && ack !== ACK.ok && length > 0) return [length, 0];
  return [length];
}

function readHeader(buf: Uint8Array, start: number, kind: Frame["kind"]): Frame {
  const view = new DataView(buf.buffer, buf.byteOffset + start, HEADER_BYTES);
  return {
    kind,
    ack: buf[start + 2],
    serial: buf[start + 3],
    src: buf[start + 4],
    dst: buf[start + 5],
    devType: buf[start + 6],
    port: buf[start + 7],
    board: view.getUint16(8, true),
    code: buf[start + 10],
    address: view.getUint32(12, true),
    length: view.getUint16(16, true),
    data: new Uint8Array(0),
  };
}

type Attempt = { frame: Frame; size: number } | "incomplete" | "invalid";

function tryFrameAt(buf: Uint8Array, start: number, end: number): Attempt {
  if (end - start === 1) return buf[start] === 0x55 || buf[start] === 0xaa ? "incomplete" : "invalid";
  const kind = headAt(buf, start);
  if (kind === null) return "invalid";
  if (end - start < HEADER_BYTES) return "incomplete";
  const view = new DataView(buf.buffer, buf.byteOffset + start, HEADER_BYTES);
  const length = view.getUint16(16, true);
  const code = buf[start + 10];
  const ack = buf[start + 2];
  let incomplete = false;
  for (const n of candidateDataLengths(kind, code, ack, length)) {
    const size = HEADER_BYTES + n + CHECKSUM_BYTES;
    if (end - start < size) {
      incomplete = true;
      continue;
    }
    const sumAt = start + HEADER_BYTES + n;
    const wire = buf[sumAt] | (buf[sumAt + 1] << 8);
    if (wire !== checksum(buf, start + 2, sumAt)) continue;
    const frame = readHeader(buf, start, kind);
    frame.data = buf.slice(start + HEADER_BYTES, start + HEADER_BYTES + n);
    return { frame, size };
  }
  return incomplete ? "incomplete" : "invalid";
}

export interface DecoderStats {
  /** Bytes thrown away while looking for a frame: noise, torn frames, bad checksums. */
  discardedBytes: number;
  frames: number;
}

/**
 * Incremental decoder. `push(chunk)` returns the frames completed by that chunk. Bytes that are
 * not part of a valid frame are discarded one at a time (so a frame hiding right after a false
 * head is still found), and a complete valid frame later in the buffer is not held up behind a
 * false head that claims a long payload.
 */
export interface DecoderOptions {
  /**
   * Called for a complete request (its size is unambiguous) whose checksum is wrong: a device
   * answers those with ack 02. The bytes are still treated as noise, since a false head in
   * garbage looks the same.
   */
  onRequestChecksumError?: (header: Frame) => void;
}

export class FrameDecoder {
  private buf = new Uint8Array(0);
  readonly stats: DecoderStats = { discardedBytes: 0, frames: 0 };

  constructor(private readonly options: DecoderOptions = {}) {}

  push(chunk: Uint8Array): Frame[] {
    if (chunk.length > 0) {
      const joined = new Uint8Array(this.buf.length + chunk.length);
      joined.set(this.buf, 0);
      joined.set(chunk, this.buf.length);
      this.buf = joined;
    }
    const frames: Frame[] = [];
    let pos = 0;
    const end = this.buf.length;
    while (pos < end) {
      const attempt = tryFrameAt(this.buf, pos, end);
      if (attempt === "invalid") {
        this.reportBadRequest(pos, end);
        pos++;
        continue;
      }
      if (attempt === "incomplete") {
        const later = this.findCompleteAfter(pos + 1, end);
        if (later === null) break;
        pos = later;
        continue;
      }
      frames.push(attempt.frame);
      pos += attempt.size;
    }
    this.stats.discardedBytes += pos - frames.reduce((s, f) => s + HEADER_BYTES + f.data.length + CHECKSUM_BYTES, 0);
    this.stats.frames += frames.length;
    this.buf = this.buf.slice(pos);
    return frames;
  }

  /** Drops whatever partial frame is buffered (after a reconnect or a long silence). */
  reset(): void {
    this.stats.discardedBytes += this.buf.length;
    this.buf = new Uint8Array(0);
  }

  get buffered(): number {
    return this.buf.length;
  }

  private reportBadRequest(pos: number, end: number): void {
    if (!this.options.onRequestChecksumError || headAt(this.buf, pos) !== "request" || end - pos < HEADER_BYTES) return;
    const header = readHeader(this.buf, pos, "request");
    const size = HEADER_BYTES + (header.code === Code.Write ? header.length : 0) + CHECKSUM_BYTES;
    if (end - pos >= size) this.options.onRequestChecksumError(header);
  }

  private findCompleteAfter(from: number, end: number): number | null {
    for (let i = from; i + HEADER_BYTES + CHECKSUM_BYTES <= end; i++) {
      if (headAt(this.buf, i) === null) continue;
      const attempt = tryFrameAt(this.buf, i, end);
      if (typeof attempt === "object") return i;
    }
    return null;
  }
}

/** Hex dump as in the spec: `55 AA 00 15 …`. */
export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).toUpperCase().padStart(2, "0")).join(" ");
}

export function fromHex(text: string): Uint8Array {
  const parts = text.trim().split(/\s+/).filter(Boolean);
  return Uint8Array.from(parts.map((p) => {
    if (!/^[0-9a-fA-F]{2}$/.test(p)) throw new FrameError(`not a hex byte: ${JSON.stringify(p)}`);
    return parseInt(p, 16);
  }));
}
