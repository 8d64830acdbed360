// The NovaStar simulator on the wire: the simulated device behind a TCP listener and/or a serial
// port, with injectable faults (drop, delay, garbage, split replies, silence, error acks).
import { once } from "node:events";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { SerialPort } from "serialport";
import type { Logger } from "../../../log.js";
import { ACK, encodeFrame, FrameDecoder, type Frame } from "../codec.js";
import { DEFAULT_SETUP, SimulatedNovaStar, type DeviceSetup } from "./device.js";

export type SimulatorFault =
  /** The next `count` replies are not sent (undefined: until cleared). */
  | { kind: "drop"; count?: number }
  /** Replies are sent `ms` late. */
  | { kind: "delay"; ms: number; count?: number }
  /** `bytes` of noise (default 7) go out before each reply. */
  | { kind: "garbage"; bytes?: number; count?: number }
  /** Each reply goes out in pieces of `pieceBytes` (default 3), `gapMs` apart (default 2). */
  | { kind: "split"; pieceBytes?: number; gapMs?: number; count?: number }
  /** No replies at all until cleared. */
  | { kind: "silence" }
  /** Replies carry this error ack instead of being served. */
  | { kind: "ack"; ack: number; count?: number };

export interface SimulatorDeps {
  log: Logger;
  setup?: DeviceSetup;
  /** Noise source for the garbage fault; tests pass a seeded one. */
  random?: () => number;
}

interface Wire {
  write(bytes: Uint8Array): void;
  alive(): boolean;
}

interface ActiveFault {
  fault: SimulatorFault;
  remaining: number;
}

export class NovaStarSimulator {
  readonly device: SimulatedNovaStar;
  private faults: ActiveFault[] = [];
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private serial: SerialPort | null = null;
  private readonly random: () => number;

  constructor(private readonly deps: SimulatorDeps) {
    this.device = new SimulatedNovaStar(deps.setup ?? DEFAULT_SETUP);
    this.random = deps.random ?? Math.random;
  }

  inject(fault: SimulatorFault): void {
    const count = "count" in fault && fault.count !== undefined ? fault.count : Number.POSITIVE_INFINITY;
    this.faults.push({ fault, remaining: count });
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** Listens on host:port (port 0 picks a free one); resolves with the URL a driver should use. */
  async listenTcp(host: string, port: number): Promise<string> {
    const server = createServer((socket) => this.serveSocket(socket));
    server.listen(port, host);
    await Promise.race([once(server, "listening"), once(server, "error").then(([err]) => Promise.reject(err as Error))]);
    this.server = server;
    const address = server.address() as AddressInfo;
    return `tcp://${host}:${address.port}`;
  }

  /** Serves on a serial device (one end of a pty pair, or a real port to a real PC). */
  async attachSerial(path: string, baudRate: number): Promise<void> {
    const port = new SerialPort({ path, baudRate, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(new Error(`${path}: ${err.message}`)) : resolve())));
    this.serial = port;
    port.on("error", (err) => this.deps.log.warn({ err: err.message, path }, "simulator serial error"));
    this.serve({ write: (bytes) => port.write(Buffer.from(bytes)), alive: () => port.isOpen }, (onData) => port.on("data", onData));
  }

  /** Stops listening and drops every connection (a "restart" is close() then listen again). */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (this.server) {
      const server = this.server;
      this.server = null;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    if (this.serial?.isOpen) {
      const port = this.serial;
      await new Promise<void>((resolve) => port.close(() => resolve()));
    }
    this.serial = null;
  }

  private serveSocket(socket: Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    this.serve({ write: (bytes) => socket.write(bytes), alive: () => !socket.destroyed }, (onData) => socket.on("data", onData));
  }

  private serve(wire: Wire, subscribe: (onData: (chunk: Buffer) => void) => void): void {
    // Replies on one wire go out in order even when some are delayed.
    let outgoing: Promise<void> = Promise.resolve();
    const send = (reply: Frame | null): void => {
      if (!reply) return;
      const plan = this.plan(reply);
      outgoing = outgoing.then(() => this.transmit(wire, plan)).catch((err: Error) => this.deps.log.warn({ err: err.message }, "simulator send failed"));
    };
    const decoder = new FrameDecoder({ onRequestChecksumError: (header) => send(this.device.errorReply(header, ACK.requestChecksum)) });
    subscribe((chunk) => {
      for (const frame of decoder.push(chunk)) {
        if (frame.kind !== "request") continue;
        const forced = this.take("ack");
        send(forced?.kind === "ack" ? this.device.errorReply(frame, forced.ack) : this.device.handle(frame));
      }
    });
  }

  /** Turns a reply into what actually goes on the wire under the active faults. */
  private plan(reply: Frame): { delayMs: number; pieces: Uint8Array[]; gapMs: number } | null {
    if (this.faults.some((f) => f.fault.kind === "silence")) return null;
    if (this.take("drop")) return null;
    let bytes = encodeFrame(reply);
    const delay = this.take("delay");
    const garbage = this.take("garbage");
    const split = this.take("split");
    if (garbage?.kind === "garbage") {
      const noise = Uint8Array.from({ length: garbage.bytes ?? 7 }, () => Math.floor(this.random() * 256));
      const joined = new Uint8Array(noise.length + bytes.length);
      joined.set(noise);
      joined.set(bytes, noise.length);
      bytes = joined;
    }
    let pieces = [bytes];
    let gapMs = 0;
    if (split?.kind === "split") {
      const size = Math.max(1, split.pieceBytes ?? 3);
      pieces = [];
      for (let i = 0; i < bytes.length; i += size) pieces.push(bytes.slice(i, i + size));
      gapMs = split.gapMs ?? 2;
    }
    return { delayMs: delay?.kind === "delay" ? delay.ms : 0, pieces, gapMs };
  }

  private async transmit(wire: Wire, plan: { delayMs: number; pieces: Uint8Array[]; gapMs: number } | null): Promise<void> {
    if (!plan) return;
    if (plan.delayMs > 0) await sleep(plan.delayMs);
    for (const [i, piece] of plan.pieces.entries()) {
      if (!wire.alive()) return;
      if (i > 0 && plan.gapMs > 0) await sleep(plan.gapMs);
      wire.write(piece);
    }
  }

  /** Consumes one use of the first active fault of this kind. */
  private take(kind: SimulatorFault["kind"]): SimulatorFault | null {
    const active = this.faults.find((f) => f.fault.kind === kind && f.remaining > 0);
    if (!active) return null;
    active.remaining--;
    if (active.remaining <= 0) this.faults = this.faults.filter((f) => f !== active);
    return active.fault;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
