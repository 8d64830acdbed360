// Requests and events over one mpv IPC connection: the codec above the transport. Replies are
// matched by request_id; each request has a time limit; when the connection goes, every
// request in flight is rejected with that reason. Events are stamped with the time their bytes
// arrived, translated onto the player's (injectable) clocks.
import { EventEmitter } from "node:events";
import { commandName, encodeCommand, LineDecoder, type MpvCommand } from "./codec.js";
import type { SocketTransport } from "./transport.js";

/** When something happened: wall clock (UTC ms) for records, monotonic ms for durations. */
export interface Stamp {
  wallMs: number;
  monoMs: number;
}

export interface Clocks {
  monotonicMs: () => number;
  wallMs: () => number;
}

/** mpv answered a request with an error other than "success". */
export class MpvCommandError extends Error {
  constructor(
    readonly command: string,
    readonly mpvError: string,
  ) {
    super(`mpv ${command}: ${mpvError}`);
    this.name = "MpvCommandError";
  }
}

export interface MpvClientEvents {
  event: [name: string, fields: Record<string, unknown>, at: Stamp];
  garbage: [line: string, reason: string];
  close: [error: string | undefined];
}

interface InFlight {
  command: string;
  resolve: (data: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class MpvClient extends EventEmitter<MpvClientEvents> {
  private readonly decoder = new LineDecoder();
  private readonly inFlight = new Map<number, InFlight>();
  private nextId = 1;
  private closedWith: string | null = null;

  constructor(
    private readonly transport: SocketTransport,
    private readonly clocks: Clocks,
    private readonly timeoutMs = 5000,
  ) {
    super();
    transport.on("data", (chunk, atNs) => this.onData(chunk, atNs));
    transport.on("close", (error) => this.onClose(error));
  }

  /** Sends one command; resolves with its reply's data, rejects on an mpv error, a timeout or a close. */
  command(args: MpvCommand): Promise<unknown> {
    const name = commandName(args);
    if (this.closedWith !== null) return Promise.reject(new Error(`mpv ${name}: ${this.closedWith}`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.inFlight.delete(id);
        reject(new Error(`mpv ${name}: no reply within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.inFlight.set(id, { command: name, resolve, reject, timer });
      this.transport.write(encodeCommand(id, args));
    });
  }

  close(): void {
    this.transport.end();
  }

  /**
   * The arrival stamp, moved onto the injected clocks: "now" on those clocks minus how long
   * the bytes waited for the main thread.
   */
  private stampOf(atNs: bigint): Stamp {
    const waitedMs = Math.max(0, Number(process.hrtime.bigint() - atNs) / 1e6);
    return { wallMs: this.clocks.wallMs() - waitedMs, monoMs: this.clocks.monotonicMs() - waitedMs };
  }

  private onData(chunk: Uint8Array, atNs: bigint): void {
    const at = this.stampOf(atNs);
    for (const message of this.decoder.push(chunk)) {
      if (message.kind === "event") this.emit("event", message.event, message.fields, at);
      else if (message.kind === "garbage") this.emit("garbage", message.line, message.reason);
      else this.settle(message.requestId, message.error, message.data);
    }
  }

  private settle(requestId: number, error: string, data: unknown): void {
    const waiting = this.inFlight.get(requestId);
    if (!waiting) return; // timed out already: the late reply has no one to go to
    this.inFlight.delete(requestId);
    clearTimeout(waiting.timer);
    if (error === "success") waiting.resolve(data);
    else waiting.reject(new MpvCommandError(waiting.command, error));
  }

  private onClose(error: string | undefined): void {
    this.closedWith = error === undefined ? "the connection closed" : `the connection failed: ${error}`;
    for (const [id, waiting] of this.inFlight) {
      clearTimeout(waiting.timer);
      waiting.reject(new Error(`mpv ${waiting.command}: ${this.closedWith}`));
      this.inFlight.delete(id);
    }
    this.emit("close", error);
  }
}
