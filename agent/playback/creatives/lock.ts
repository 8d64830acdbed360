// One fetcher at a time per sha256, across processes: the daemon and a technician's
// `creatives prepare --sha256 H` share staging/<sha256>.part. Without a lock one process's
// fresh part could replace the other's between its hash check and its rename, and unverified
// bytes would be adopted under a verified name. proper-lockfile takes the lock as a directory
// (mkdir is atomic across processes) and keeps touching it; a holder that crashed stops
// touching it, and after `staleMs` the next fetcher takes it over.
import { join } from "node:path";
import { lock } from "proper-lockfile";
import { CreativeRejected } from "./errors.js";

export interface SourceLockDeps {
  stagingDir: string;
  /** A lock untouched this long belongs to a holder that died; proper-lockfile's floor is 2 s. */
  staleMs?: number;
  /** How often a waiter tries again. */
  pollMs?: number;
}

/** Releases a held lock; never throws (a lock already gone has nothing left to release). */
export type ReleaseLock = () => Promise<void>;

const DEFAULT_STALE_MS = 30_000;

function isHeldElsewhere(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === "ELOCKED";
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

export class SourceLocks {
  constructor(private readonly deps: SourceLockDeps) {}

  lockPath(sha256: string): string {
    return join(this.deps.stagingDir, `${sha256}.lock`);
  }

  /**
   * Waits for the lock on `sha256` until `deadline` aborts. `onLost` is called if the lock is
   * taken from this holder (it could not be kept fresh): the holder must stop writing.
   * `waitedS` names the bound in the refusal when the deadline passes first.
   */
  async acquire(sha256: string, deadline: AbortSignal, waitedS: number, onLost: (err: Error) => void): Promise<ReleaseLock> {
    const options = {
      retries: 0,
      stale: this.deps.staleMs ?? DEFAULT_STALE_MS,
      realpath: false,
      lockfilePath: this.lockPath(sha256),
      onCompromised: onLost,
    };
    const file = join(this.deps.stagingDir, `${sha256}.part`);
    for (;;) {
      try {
        const release = await lock(file, options);
        return () => release().catch(() => undefined);
      } catch (err) {
        if (!isHeldElsewhere(err)) throw err;
      }
      if (deadline.aborted) break;
      await wait(this.deps.pollMs ?? 100, deadline);
      if (deadline.aborted) break;
    }
    const reason: unknown = deadline.reason;
    // A stop asked for by the caller (shutdown) is not the creative's failure.
    if (!(reason instanceof DOMException && reason.name === "TimeoutError")) throw reason;
    throw new CreativeRejected("timeout", `another fetch of the same creative (another process at work) still held it after ${waitedS} s (creatives.fetchTimeoutS)`);
  }
}
