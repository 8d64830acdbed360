// An inter-process lock on a path (proper-lockfile: an atomic mkdir of `<path>.lock`, whose mtime
// the holder refreshes; a holder killed with -9 leaves a lock that goes stale and is taken over).
// For work that a daemon and a technician's command may start at the same moment, such as two
// schedule applies, which must not interleave their checks and their writes.
import lockfile from "proper-lockfile";

/** The lock stayed held by someone else for longer than the caller would wait. */
export class LockBusyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LockBusyError";
  }
}

export interface LockOptions {
  /** What is locked, for messages ("the schedule"). */
  what: string;
  /** How long to wait for another holder (ms). */
  waitMs?: number;
  /** A lock not refreshed for this long belongs to a dead holder (ms; proper-lockfile's minimum is 2000). */
  staleMs?: number;
}

const POLL_MS = 25;
const sleepLock = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the thread for `ms`: only while waiting for a lock that synchronous work needs. */
function sleepSync(ms: number): void {
  Atomics.wait(sleepLock, 0, 0, ms);
}

/**
 * Takes the lock on `path` if no live holder has it, without waiting; null when one has. A lock
 * found compromised while held (its directory removed by hand, or taken over as stale) is passed
 * to `onCompromised`, never thrown from a timer.
 */
export function tryLockSync(path: string, opts: { staleMs?: number; onCompromised?: (err: Error) => void } = {}): (() => void) | null {
  try {
    return lockfile.lockSync(path, { realpath: false, stale: opts.staleMs ?? 20_000, onCompromised: opts.onCompromised ?? (() => undefined) });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ELOCKED") return null;
    throw err;
  }
}

/** Releases a lock, ignoring one already lost (taken over as stale): there is nothing to undo. */
export function releaseQuietly(release: () => void): void {
  try {
    release();
  } catch {
    // already released
  }
}

/**
 * Runs `fn` holding the lock on `path`, waiting up to `waitMs` for another holder. Synchronous, for
 * synchronous work (the ledger and the schedule store are synchronous).
 */
export function withFileLockSync<T>(path: string, fn: () => T, opts: LockOptions, onCompromised: (err: Error) => void = () => undefined): T {
  const deadline = performance.now() + (opts.waitMs ?? 15_000);
  let release = tryLockSync(path, { staleMs: opts.staleMs, onCompromised });
  while (release === null) {
    if (performance.now() >= deadline) {
      throw new LockBusyError(`${opts.what} is busy: another ledagent process holds ${path}.lock; try again when it has finished`);
    }
    sleepSync(POLL_MS);
    release = tryLockSync(path, { staleMs: opts.staleMs, onCompromised });
  }
  try {
    return fn();
  } finally {
    releaseQuietly(release);
  }
}
