// The CLI's side of the control socket. It must tell "no daemon is running" (then the CLI works
// on the files and the controller itself) from "the daemon answered" (whatever it answered) and
// from "a daemon is there but could not be talked to" (never a reason to go around it: it holds
// the serial port and the schedule).
import { randomUUID } from "node:crypto";
import { connect } from "node:net";
import { userInfo } from "node:os";
import { join } from "node:path";
import { CONTROL_SOCKET_NAME, LineSplitter, MAX_LINE_BYTES, parseReply, type ControlReply } from "./protocol.js";
import type { CommandError, CommandOutcome } from "./types.js";

export type DaemonCall = { daemon: "absent"; reason: string } | { daemon: "answered"; outcome: CommandOutcome };

/**
 * - timeout: no answer in time (the command may still take effect in the daemon)
 * - access: the socket exists but this user may not use it (not in the agent's group)
 * - closed: the daemon closed the connection before answering
 * - protocol: the daemon refused the request itself or answered with something unreadable
 * - connect-failed: any other reason the socket could not be reached
 */
export type DaemonCallErrorCode = "timeout" | "access" | "closed" | "protocol" | "connect-failed";

export class DaemonCallError extends Error {
  constructor(
    message: string,
    readonly code: DaemonCallErrorCode,
  ) {
    super(message);
    this.name = "DaemonCallError";
  }
}

export interface CallOptions {
  timeoutMs?: number;
  /** Who runs the CLI, for the ledger's command.executed; defaults to the login name. */
  user?: string;
}

export const DEFAULT_CALL_TIMEOUT_MS = 35_000;

/** Errors at connect that mean no daemon listens there: no socket, or a socket nobody holds. */
const NO_DAEMON = new Set(["ENOENT", "ECONNREFUSED", "ENOTDIR"]);

function loginName(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? "unknown"}`;
  }
}

function connectError(path: string, err: NodeJS.ErrnoException): DaemonCall | DaemonCallError {
  if (err.code && NO_DAEMON.has(err.code)) return { daemon: "absent", reason: `no daemon on ${path} (${err.code})` };
  if (err.code === "EACCES" || err.code === "EPERM") return new DaemonCallError(`permission denied on ${path}: the user needs the agent's group`, "access");
  return new DaemonCallError(`cannot reach the daemon on ${path}: ${err.message}`, "connect-failed");
}

function answered(reply: ControlReply): DaemonCall | DaemonCallError {
  if (reply.ok) return { daemon: "answered", outcome: { ok: true, result: reply.result } };
  if (reply.error.code === "bad-request" || reply.error.code === "line-too-long") return new DaemonCallError(`the daemon refused the request: ${reply.error.message}`, "protocol");
  // The protocol's own codes are out; what is left is the registry's.
  return { daemon: "answered", outcome: { ok: false, error: reply.error as CommandError } };
}

/** Runs one command in the daemon under `runDir`. Resolves `absent` when none runs; throws DaemonCallError otherwise. */
export function callDaemon(runDir: string, name: string, args: unknown, options: CallOptions = {}): Promise<DaemonCall> {
  const path = join(runDir, CONTROL_SOCKET_NAME);
  const id = randomUUID();
  const timeoutMs = options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const lines = new LineSplitter(MAX_LINE_BYTES);
    let connected = false;
    let settled = false;
    const finish = (result: DaemonCall | DaemonCallError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (result instanceof DaemonCallError) reject(result);
      else resolve(result);
    };
    const timer = setTimeout(() => finish(new DaemonCallError(`the daemon did not answer ${name} within ${timeoutMs} ms`, "timeout")), timeoutMs);
    socket.once("connect", () => {
      connected = true;
      socket.write(`${JSON.stringify({ id, name, args: args ?? {}, user: options.user ?? loginName() })}\n`);
    });
    socket.on("data", (chunk: Buffer) => {
      const got = lines.push(chunk);
      for (const line of got.lines) {
        const reply = parseReply(line);
        if (!reply) return finish(new DaemonCallError("the daemon answered with something that is not a reply", "protocol"));
        // A reply with no id is the daemon refusing the line itself.
        if (reply.id === id || reply.id === null) return finish(answered(reply));
      }
      if (got.tooLong) finish(new DaemonCallError("the daemon's reply is over the line limit", "protocol"));
    });
    socket.on("error", (err: NodeJS.ErrnoException) => {
      finish(connected ? new DaemonCallError(`the connection to the daemon failed: ${err.message}`, "closed") : connectError(path, err));
    });
    socket.on("close", () => finish(new DaemonCallError(`the daemon closed the connection before answering ${name}`, "closed")));
  });
}
