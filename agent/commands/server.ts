// The control socket: the local CLI's way into a running daemon. Newline-delimited JSON, many
// clients at once, each request answered by id. A client that misbehaves (an endless line, a
// flood of requests, vanishing mid-reply) costs itself its connection, never the daemon.
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import type { Logger } from "pino";
import { CONTROL_SOCKET_NAME, LineSplitter, MAX_LINE_BYTES, parseRequest, protocolError, replyLine, type ControlReply, type ControlRequest } from "./protocol.js";
import { bindControlSocket, releaseSocketName, type BoundSocket } from "./socket-path.js";
import type { CommandContext, CommandOutcome } from "./types.js";

/** What the server needs of the registry (a fake in tests). */
export interface CommandExecutor {
  execute(name: string, rawArgs: unknown, ctx: CommandContext): Promise<CommandOutcome>;
}

export interface ControlServerDeps {
  registry: CommandExecutor;
  runDir: string;
  log?: Logger;
  maxLineBytes?: number;
  /** Requests one connection may have running at once before its reading pauses. */
  maxInFlight?: number;
  maxConnections?: number;
  /** A connection with nothing running and nothing said for this long is closed. */
  idleTimeoutMs?: number;
}

const DEFAULTS = { maxInFlight: 16, maxConnections: 64, idleTimeoutMs: 5 * 60_000 };

/** How long a refused connection gets to read its last reply before it is cut. */
const CLOSE_GRACE_MS = 2000;

/** Per-connection state. */
interface Connection {
  socket: Socket;
  lines: LineSplitter;
  inFlight: number;
  /** No more reading: the connection ends once its running requests are answered. */
  closing: boolean;
  /** The last line it gets before the end (why it was closed). */
  farewell: ControlReply | null;
}

export class ControlSocketServer {
  readonly path: string;
  private server: Server | null = null;
  private bound: BoundSocket | null = null;
  private readonly connections = new Set<Connection>();

  constructor(private readonly deps: ControlServerDeps) {
    this.path = join(deps.runDir, CONTROL_SOCKET_NAME);
  }

  /** Refuses (ControlSocketError) when a live daemon holds the socket or the name is not a socket. */
  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((socket) => this.accept(socket));
    server.maxConnections = this.deps.maxConnections ?? DEFAULTS.maxConnections;
    this.bound = await bindControlSocket(server, this.path);
    server.on("error", (err) => this.deps.log?.error({ err }, "control socket error"));
    this.server = server;
    this.deps.log?.info({ path: this.path }, "control socket listening");
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const c of this.connections) c.socket.destroy();
    await closed;
    if (this.bound) await releaseSocketName(this.path, this.bound);
    this.bound = null;
  }

  private accept(socket: Socket): void {
    const c: Connection = { socket, lines: new LineSplitter(this.deps.maxLineBytes ?? MAX_LINE_BYTES), inFlight: 0, closing: false, farewell: null };
    this.connections.add(c);
    socket.setTimeout(this.deps.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs);
    socket.on("timeout", () => {
      if (c.inFlight === 0) socket.destroy();
    });
    socket.on("data", (chunk: Buffer) => this.receive(c, chunk));
    socket.on("drain", () => this.maybeResume(c));
    // A client gone mid-reply (EPIPE, ECONNRESET) only ends its own connection.
    socket.on("error", (err) => this.deps.log?.debug({ err }, "control socket client error"));
    socket.on("close", () => this.connections.delete(c));
  }

  private receive(c: Connection, chunk: Buffer): void {
    if (c.closing) return;
    const { lines, tooLong } = c.lines.push(chunk);
    for (const line of lines) this.handleLine(c, line.replace(/\r$/, ""));
    if (tooLong) {
      const limit = this.deps.maxLineBytes ?? MAX_LINE_BYTES;
      this.closeWith(c, protocolError(null, "line-too-long", `a request line is over ${limit} bytes; the connection is closed`));
    }
  }

  private handleLine(c: Connection, line: string): void {
    if (line.trim() === "") return;
    const parsed = parseRequest(line);
    if (!parsed.ok) {
      this.send(c, protocolError(parsed.id, "bad-request", parsed.message));
      return;
    }
    c.inFlight++;
    if (c.inFlight >= (this.deps.maxInFlight ?? DEFAULTS.maxInFlight)) c.socket.pause();
    void this.execute(parsed.request).then((reply) => {
      c.inFlight--;
      this.send(c, reply);
      if (c.closing) this.endIfDone(c);
      else this.maybeResume(c);
    });
  }

  private async execute(request: ControlRequest): Promise<ControlReply> {
    const ctx: CommandContext = { origin: { kind: "local", user: request.user ?? "unknown" } };
    try {
      return { id: request.id, ...(await this.deps.registry.execute(request.name, request.args, ctx)) };
    } catch (err) {
      // The registry never throws; a stand-in that does still gets its client an answer.
      return { id: request.id, ok: false, error: { code: "failed", message: (err as Error).message ?? String(err) } };
    }
  }

  private send(c: Connection, reply: ControlReply): void {
    if (c.socket.destroyed || !c.socket.writable) return;
    // A client that does not read its replies stops being read from until it catches up.
    if (!c.socket.write(replyLine(reply))) c.socket.pause();
  }

  /** Reading resumes once this connection's requests and unread replies are back under their bounds. */
  private maybeResume(c: Connection): void {
    if (c.closing || c.socket.destroyed) return;
    if (c.inFlight < (this.deps.maxInFlight ?? DEFAULTS.maxInFlight) && !c.socket.writableNeedDrain) c.socket.resume();
  }

  private closeWith(c: Connection, reply: ControlReply): void {
    c.closing = true;
    c.farewell = reply;
    c.socket.pause();
    this.endIfDone(c);
  }

  /** Ends a closing connection once nothing of it is running, its farewell the last line. */
  private endIfDone(c: Connection): void {
    if (c.inFlight > 0 || c.socket.destroyed || !c.socket.writable) return;
    const destroy = () => c.socket.destroy();
    if (c.farewell) c.socket.end(replyLine(c.farewell), destroy);
    else c.socket.end(destroy);
    // A client that never reads the refusal does not keep the connection either.
    setTimeout(() => c.socket.destroy(), CLOSE_GRACE_MS).unref();
  }
}
