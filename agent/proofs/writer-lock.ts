// The lock every long-lived ledger writer (the daemon) holds while it has the ledger open, so that
// `init --archive-ledger` can refuse to move a ledger out from under it. proper-lockfile: an atomic
// mkdir of `<db>.writer.lock` whose mtime the holder refreshes; a holder killed with -9 leaves a
// lock that goes stale after STALE_MS and no longer counts.
import lockfile from "proper-lockfile";
import { LedgerError } from "./errors.js";

const STALE_MS = 20_000;

function lockTarget(dbPath: string): string {
  return `${dbPath}.writer`;
}

/** Takes the writer lock on the ledger at `dbPath`; returns its release. Refused while another process holds it. */
export function takeWriterLock(dbPath: string, onCompromised: (err: Error) => void = () => undefined): () => void {
  try {
    return lockfile.lockSync(lockTarget(dbPath), { realpath: false, stale: STALE_MS, onCompromised });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ELOCKED") throw err;
    throw new LedgerError(
      `the ledger ${dbPath} is open for writing in another process (the agent, or a key change in progress: ${lockTarget(dbPath)}.lock); stop the agent first`,
      "ledger-busy",
    );
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
