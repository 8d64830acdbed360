// Taking `<runDir>/control.sock` safely. Whatever sits at that name may be a live daemon's
// socket, a socket left by one that died, or something planted there (a symbolic link to
// another service's socket or to a file): only a socket nobody answers on is removed, and the
// new socket appears under the name in one step (link(2) fails if anything got there first),
// already with its final mode, so no client ever sees it half set up.
import { randomBytes } from "node:crypto";
import { chmod, link, lstat, mkdir, unlink } from "node:fs/promises";
import { connect, type Server } from "node:net";
import { dirname, join } from "node:path";

export const SOCKET_MODE = 0o660;

/** How long a socket at the name may take to answer before it counts as a live daemon's. */
const PROBE_TIMEOUT_MS = 1000;

export type ControlSocketErrorCode = "in-use" | "not-a-socket" | "listen-failed";

export class ControlSocketError extends Error {
  constructor(
    message: string,
    readonly code: ControlSocketErrorCode,
  ) {
    super(message);
    this.name = "ControlSocketError";
  }
}

/** The name's identity once bound, so stop() removes only a name that is still ours. */
export interface BoundSocket {
  dev: number;
  ino: number;
}

type Probe = "live" | "stale" | "gone";

function probeSocket(path: string): Promise<Probe> {
  return new Promise((resolve) => {
    const socket = connect(path);
    const done = (probe: Probe) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(probe);
    };
    // No answer at all in time: something holds it; refusing is safer than taking it over.
    const timer = setTimeout(() => done("live"), PROBE_TIMEOUT_MS);
    socket.once("connect", () => done("live"));
    socket.once("error", (err: NodeJS.ErrnoException) => done(err.code === "ENOENT" ? "gone" : err.code === "ECONNREFUSED" ? "stale" : "live"));
  });
}

/** Clears the name for a new socket, or refuses: a live daemon, or anything that is not a socket. */
export async function clearSocketName(path: string): Promise<void> {
  let info;
  try {
    info = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  if (!info.isSocket()) {
    const what = info.isSymbolicLink() ? "a symbolic link" : info.isDirectory() ? "a directory" : "not a socket";
    throw new ControlSocketError(`${path} is ${what}; it is left alone (remove it if it is not needed)`, "not-a-socket");
  }
  const probe = await probeSocket(path);
  if (probe === "live") throw new ControlSocketError(`another daemon answers on ${path}: is ledagent already running?`, "in-use");
  if (probe === "stale") await unlink(path).catch((err: NodeJS.ErrnoException) => (err.code === "ENOENT" ? undefined : Promise.reject(err)));
}

function listenOn(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (err: Error) => reject(new ControlSocketError(`cannot listen on ${path}: ${err.message}`, "listen-failed"));
    server.once("error", failed);
    server.listen(path, () => {
      server.off("error", failed);
      resolve();
    });
  });
}

/** Binds `server` under a private name, sets its mode, then links it in at `path`. */
export async function bindControlSocket(server: Server, path: string): Promise<BoundSocket> {
  await mkdir(dirname(path), { recursive: true, mode: 0o750 });
  await clearSocketName(path);
  const privateName = join(dirname(path), `.${randomBytes(6).toString("hex")}.sock`);
  await listenOn(server, privateName);
  try {
    await chmod(privateName, SOCKET_MODE);
    await link(privateName, path);
  } catch (err) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await unlink(privateName).catch(() => undefined);
    if ((err as NodeJS.ErrnoException).code === "EEXIST") throw new ControlSocketError(`${path} appeared while this daemon was starting: is ledagent already running?`, "in-use");
    throw new ControlSocketError(`cannot create ${path}: ${(err as Error).message}`, "listen-failed");
  }
  await unlink(privateName);
  const info = await lstat(path);
  return { dev: info.dev, ino: info.ino };
}

/** Removes `path` if it is still the socket this daemon bound (a successor's is left alone). */
export async function releaseSocketName(path: string, bound: BoundSocket): Promise<void> {
  try {
    const info = await lstat(path);
    if (info.dev === bound.dev && info.ino === bound.ino) await unlink(path);
  } catch {
    // Already gone: nothing to release.
  }
}
