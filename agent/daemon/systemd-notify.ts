// systemd's notification protocol (sd_notify(3)): newline-separated KEY=VALUE fields in one
// datagram to the AF_UNIX socket named by $NOTIFY_SOCKET. Node's own sockets cannot send a unix
// datagram, so the sending is done by the `unix-dgram` module (a small native addon, maintained,
// built from source like better-sqlite3, needing no system library). The alternatives were
// worse: the `sd-notify` addon links libsystemd and needs its headers on every box; spawning
// `systemd-notify` sends from a short-lived child, which the unit must then trust with
// NotifyAccess=all, and which systemd before v254 often cannot attribute to the unit at all (the
// child has exited before its message is read), so a watchdog ping could be lost at random.
import { createRequire } from "node:module";
import { getSystemErrorName } from "node:util";

/** The part of unix-dgram used here (the module ships no types). */
interface DatagramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, callback: (err?: Error) => void): void;
  close(): void;
  on(event: "error", listener: (err: Error) => void): void;
}
interface UnixDgramModule {
  createSocket(type: "unix_dgram"): DatagramSocket;
}

/** Where systemd listens and what it asked of this process; null when not started by systemd with Type=notify. */
export interface NotifyTarget {
  socketPath: string;
  /** WATCHDOG_USEC in ms, when the watchdog is on for this process. */
  watchdogMs: number | null;
}

export function notifyTargetFromEnv(env: NodeJS.ProcessEnv, pid: number): NotifyTarget | null {
  const socketPath = env.NOTIFY_SOCKET;
  if (!socketPath) return null;
  return { socketPath, watchdogMs: watchdogMsFromEnv(env, pid) };
}

/**
 * The target, taken out of `env` (sd_notify's unset_environment): mpv, ffmpeg and the clock
 * probes the agent starts must not talk to systemd as if they were the agent.
 */
export function takeNotifyTarget(env: NodeJS.ProcessEnv, pid: number): NotifyTarget | null {
  const target = notifyTargetFromEnv(env, pid);
  for (const name of ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"]) delete env[name];
  return target;
}

/** sd_watchdog_enabled(3): WATCHDOG_USEC, for this pid only when WATCHDOG_PID names another. */
function watchdogMsFromEnv(env: NodeJS.ProcessEnv, pid: number): number | null {
  // systemd writes plain decimal microseconds; "1e6", hex or a sign is not what it sent.
  if (!/^\d{1,15}$/.test(env.WATCHDOG_USEC ?? "")) return null;
  const usec = Number(env.WATCHDOG_USEC);
  if (usec <= 0) return null;
  if (env.WATCHDOG_PID !== undefined && Number(env.WATCHDOG_PID) !== pid) return null;
  return Math.max(1, Math.floor(usec / 1000));
}

/** What the daemon says to systemd. */
export interface Notifier {
  send(fields: Record<string, string>): Promise<void>;
  close(): void;
}

/** One field per line; a value's own newlines would start a field of their own, so they become spaces. */
export function notifyMessage(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([key, value]) => `${key}=${value.replace(/[\r\n]+/g, " ")}`)
    .join("\n");
}

export class NotifySocketError extends Error {
  override name = "NotifySocketError";
}

/**
 * A notifier on the socket systemd named. An abstract socket ("@…") cannot be reached through
 * unix-dgram: systemd's own system manager uses a path (/run/systemd/notify), so that is a user
 * manager in a container, and it is refused with the reason rather than pinged in vain.
 */
export function openNotifier(target: NotifyTarget, load: () => UnixDgramModule = loadUnixDgram): Notifier {
  if (target.socketPath.startsWith("@")) throw new NotifySocketError(`NOTIFY_SOCKET ${target.socketPath} is an abstract socket, which this agent cannot reach`);
  const socket = load().createSocket("unix_dgram");
  // Failures come back through each send's callback; this keeps a stray one from being thrown.
  socket.on("error", () => undefined);
  let closed = false;
  return {
    send(fields) {
      if (closed) return Promise.resolve();
      const buf = Buffer.from(notifyMessage(fields));
      return new Promise((resolve, reject) =>
        socket.send(buf, 0, buf.length, target.socketPath, (err) => (err ? reject(new NotifySocketError(`systemd's socket ${target.socketPath}: ${errnoName(err)}`)) : resolve())),
      );
    },
    close() {
      if (closed) return;
      closed = true;
      socket.close();
    },
  };
}

/** unix-dgram's errors carry a negative errno and a message such as "send -2". */
function errnoName(err: Error & { errno?: unknown; code?: unknown }): string {
  const errno = typeof err.errno === "number" ? err.errno : typeof err.code === "number" ? err.code : Number(err.message.split(" ").pop());
  if (!Number.isInteger(errno) || errno >= 0) return err.message;
  try {
    return getSystemErrorName(errno);
  } catch {
    return err.message;
  }
}

function loadUnixDgram(): UnixDgramModule {
  try {
    // A native addon, loaded on demand: a box without it still plays, with the reason in the log.
    return createRequire(import.meta.url)("unix-dgram") as UnixDgramModule;
  } catch (err) {
    throw new NotifySocketError(
      `the unix-dgram module cannot be loaded (${(err as Error).message.split("\n")[0]}): systemd is never told the agent is ready or alive; rebuild it with \`npm rebuild unix-dgram\` (needs python3, make, g++)`,
    );
  }
}
