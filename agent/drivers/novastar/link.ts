// The NovaStar link: one request in flight, replies matched by serial number, timeout and retry,
// reconnect forever with backoff. Every failure is an event (and a rejected request with the
// reason), never a crash.
import type { Logger } from "../../log.js";
import type { ByteConnection, ByteTransport } from "../transport/types.js";
import { ACK, ALL_UNITS, Code, encodeFrame, FrameDecoder, SRC_PC, type Frame } from "./codec.js";

export interface LinkOptions {
  /** How long one attempt waits for its reply (and for a connection, when there is none). */
  timeoutMs: number;
  /** Further attempts after the first when one times out or the controller reports a checksum error. */
  retries: number;
  reconnectInitialMs: number;
  reconnectMaxMs: number;
  /** Consecutive failed requests after which the connection is dropped and made afresh (a half-open TCP link stays silent). */
  reconnectAfterFailures: number;
  /** After a write to all sending units (which do not answer), the pause before the next request. */
  broadcastGapMs: number;
}

export const DEFAULT_LINK_OPTIONS: LinkOptions = {
  timeoutMs: 1000,
  retries: 2,
  reconnectInitialMs: 250,
  reconnectMaxMs: 10_000,
  reconnectAfterFailures: 3,
  broadcastGapMs: 30,
};

export type LinkEvent =
  | { type: "connected"; url: string }
  | { type: "disconnected"; url: string; reason: string }
  | { type: "connect-failed"; url: string; reason: string; retryInMs: number }
  | { type: "timeout"; url: string; serial: number; attempt: number; address: number }
  | { type: "retry"; url: string; serial: number; attempt: number; reason: string }
  | { type: "unmatched-reply"; url: string; serial: number };

export interface Target {
  /** Sending unit in the daisy chain; 0xFF = all (no reply is awaited). */
  unit: number;
  devType: number;
  port: number;
  board: number;
}

export interface LinkDeps {
  transport: ByteTransport;
  log: Logger;
  options?: Partial<LinkOptions>;
  onEvent?: (event: LinkEvent) => void;
}

/**
 * A request got no usable reply; `reason` says whether the controller was silent (timeout), could
 * not be reached (not-connected), closed the connection on the request (closed), or the link was
 * stopped.
 */
export class LinkError extends Error {
  constructor(
    message: string,
    readonly reason: "timeout" | "not-connected" | "closed" | "stopped",
  ) {
    super(message);
    this.name = "LinkError";
  }
}

/** Why one attempt got no reply; `text` is what retry events carry. */
interface AttemptFailure {
  kind: "not-connected" | "no-reply" | "lost" | "stopped";
  /** The transport's words: a connect error, a close reason. */
  cause: string;
  text: string;
}

/** The close reason the TCP transport gives when the controller ends the connection. */
const PEER_CLOSED = "connection closed by peer";

interface Pending {
  serial: number;
  resolve(frame: Frame): void;
  fail(failure: AttemptFailure): void;
}

export class NovaStarLink {
  readonly url: string;
  readonly options: LinkOptions;
  private readonly decoder = new FrameDecoder();
  private connection: ByteConnection | null = null;
  private connectionClosed: (() => void) | null = null;
  private lastProblem = "not connected yet";
  private running = false;
  private loop: Promise<void> | null = null;
  private wakeLoop: (() => void) | null = null;
  private connectWaiters = new Set<() => void>();
  private pending: Pending | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private nextSerial = 1;
  private consecutiveFailures = 0;

  constructor(private readonly deps: LinkDeps) {
    this.url = deps.transport.url;
    this.options = { ...DEFAULT_LINK_OPTIONS, ...deps.options };
  }

  get connected(): boolean {
    return this.connection !== null;
  }

  /** Why the link is not connected (the last connect error or close reason). */
  get problem(): string {
    return this.lastProblem;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.connectForever();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wakeLoop?.();
    this.connection?.close();
    this.pending?.fail({ kind: "stopped", cause: "link stopped", text: "link stopped" });
    for (const wake of this.connectWaiters) wake();
    await this.loop;
    this.loop = null;
  }

  /** Resolves true once connected, false after `ms` without a connection. */
  waitConnected(ms: number): Promise<boolean> {
    if (this.connection) return Promise.resolve(true);
    if (!this.running) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.connectWaiters.delete(done);
        resolve(this.connection !== null);
      };
      const timer = setTimeout(done, ms);
      this.connectWaiters.add(done);
    });
  }

  read(target: Target, address: number, length: number): Promise<Frame> {
    return this.transact({ target, code: Code.Read, address, length, data: new Uint8Array(0) });
  }

  /** Resolves with the reply, or with null for a write to all sending units (they do not answer). */
  write(target: Target, address: number, data: Uint8Array): Promise<Frame | null> {
    const request = { target, code: Code.Write, address, length: data.length, data };
    if (target.unit === ALL_UNITS) return this.enqueue(() => this.broadcast(request));
    return this.transact(request);
  }

  private transact(request: Request): Promise<Frame> {
    return this.enqueue(() => this.attempts(request));
  }

  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    const run = this.queue.then(job);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async attempts(request: Request): Promise<Frame> {
    const started = performance.now(); // a duration: the wall clock may step meanwhile
    let last: AttemptFailure | null = null;
    const attempts = 1 + this.options.retries;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (!this.running) throw new LinkError(`controller ${this.url}: link stopped`, "stopped");
      const outcome = await this.attempt(request, attempt);
      if (!isFailure(outcome)) {
        const ack = outcome.ack;
        if ((ack === ACK.requestChecksum || ack === ACK.ackChecksum) && attempt < attempts) {
          this.event({ type: "retry", url: this.url, serial: outcome.serial, attempt, reason: `ack ${ack}` });
          continue;
        }
        this.consecutiveFailures = 0;
        return outcome;
      }
      last = outcome;
      if (attempt < attempts) this.event({ type: "retry", url: this.url, serial: -1, attempt, reason: outcome.text });
    }
    this.consecutiveFailures++;
    if (this.consecutiveFailures >= this.options.reconnectAfterFailures && this.connection) {
      this.deps.log.warn({ url: this.url, failures: this.consecutiveFailures }, "controller silent: reconnecting");
      this.consecutiveFailures = 0;
      this.connection.close();
    }
    throw this.failure(last, attempts, Math.round(performance.now() - started));
  }

  /** The error for a request whose every attempt failed, named after what happened last. */
  private failure(last: AttemptFailure | null, attempts: number, elapsedMs: number): LinkError {
    const seconds = Math.max(1, Math.round(elapsedMs / 1000));
    const tries = `${attempts} attempt${attempts === 1 ? "" : "s"}`;
    if (last === null || last.kind === "no-reply") return new LinkError(`controller ${this.url} did not answer within ${seconds} s`, "timeout");
    if (last.kind === "stopped") return new LinkError(`controller ${this.url}: link stopped`, "stopped");
    // A connection the controller accepts and then closes is "lost" on the request, or gone
    // again by the time the next attempt looks for it: either way the controller closed it.
    if (last.cause === PEER_CLOSED) return new LinkError(`controller ${this.url} closed the connection without answering (${tries})`, "closed");
    if (last.kind === "lost") return new LinkError(`controller ${this.url} dropped the connection (${last.cause}; ${tries})`, "closed");
    if (last.cause === "ECONNREFUSED") return new LinkError(`controller ${this.url} refused the connection (ECONNREFUSED)`, "not-connected");
    return new LinkError(`controller ${this.url} is not reachable (${last.cause}) after ${seconds} s`, "not-connected");
  }

  /** One try: a reply frame, or why there was none. */
  private async attempt(request: Request, attemptNo: number): Promise<Frame | AttemptFailure> {
    const notConnected = (): AttemptFailure => ({ kind: "not-connected", cause: this.lastProblem, text: `not connected: ${this.lastProblem}` });
    if (!this.connection && !(await this.waitConnected(this.options.timeoutMs))) return notConnected();
    const connection = this.connection;
    if (!connection) return notConnected();
    const serial = this.takeSerial();
    const bytes = encodeFrame(requestFrame(request, serial));
    return new Promise<Frame | AttemptFailure>((resolve) => {
      const timer = setTimeout(() => {
        this.pending = null;
        this.decoder.reset();
        this.event({ type: "timeout", url: this.url, serial, attempt: attemptNo, address: request.address });
        const text = `no reply within ${this.options.timeoutMs} ms`;
        resolve({ kind: "no-reply", cause: text, text });
      }, this.options.timeoutMs);
      this.pending = {
        serial,
        resolve: (frame) => {
          clearTimeout(timer);
          this.pending = null;
          resolve(frame);
        },
        fail: (failure) => {
          clearTimeout(timer);
          this.pending = null;
          resolve(failure);
        },
      };
      connection.write(bytes);
    });
  }

  private async broadcast(request: Request): Promise<null> {
    if (!this.connection && !(await this.waitConnected(this.options.timeoutMs))) {
      throw new LinkError(`controller ${this.url} is not reachable (${this.lastProblem})`, "not-connected");
    }
    this.connection?.write(encodeFrame(requestFrame(request, this.takeSerial())));
    await sleep(this.options.broadcastGapMs);
    return null;
  }

  private takeSerial(): number {
    const serial = this.nextSerial;
    this.nextSerial = (this.nextSerial + 1) & 0xff;
    return serial;
  }

  private onBytes(chunk: Uint8Array): void {
    for (const frame of this.decoder.push(chunk)) {
      if (frame.kind !== "reply") continue;
      if (this.pending && frame.serial === this.pending.serial) this.pending.resolve(frame);
      else this.event({ type: "unmatched-reply", url: this.url, serial: frame.serial });
    }
  }

  private async connectForever(): Promise<void> {
    let delay = this.options.reconnectInitialMs;
    while (this.running) {
      try {
        const closed = new Promise<string>((resolve) => {
          this.connectionClosed = () => resolve(this.lastProblem);
        });
        this.connection = await this.deps.transport.connect({
          data: (chunk) => this.onBytes(chunk),
          closed: (reason) => {
            this.lastProblem = reason;
            this.connection = null;
            this.connectionClosed?.();
          },
        });
        if (!this.running) {
          this.connection.close();
          break;
        }
        this.decoder.reset();
        this.lastProblem = "connected";
        delay = this.options.reconnectInitialMs;
        this.event({ type: "connected", url: this.url });
        for (const wake of [...this.connectWaiters]) wake();
        const reason = await closed;
        this.pending?.fail({ kind: "lost", cause: reason, text: `connection lost: ${reason}` });
        this.event({ type: "disconnected", url: this.url, reason });
      } catch (err) {
        this.lastProblem = (err as Error).message;
        this.event({ type: "connect-failed", url: this.url, reason: this.lastProblem, retryInMs: delay });
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.wakeLoop = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        delay = Math.min(delay * 2, this.options.reconnectMaxMs);
        continue;
      }
      if (this.running) await sleep(Math.min(delay, 100));
    }
  }

  private event(event: LinkEvent): void {
    this.deps.log.debug(event, "link");
    try {
      this.deps.onEvent?.(event);
    } catch (err) {
      this.deps.log.error({ err }, "link event listener threw");
    }
  }
}

interface Request {
  target: Target;
  code: number;
  address: number;
  length: number;
  data: Uint8Array;
}

function requestFrame(request: Request, serial: number): Frame {
  const { target } = request;
  return {
    kind: "request",
    ack: 0,
    serial,
    src: SRC_PC,
    dst: target.unit,
    devType: target.devType,
    port: target.port,
    board: target.board,
    code: request.code,
    address: request.address,
    length: request.length,
    data: request.data,
  };
}

function isFailure(outcome: Frame | AttemptFailure): outcome is AttemptFailure {
  return "text" in outcome;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

