// The lock every long-lived ledger writer (the daemon) holds while it has the ledger open, so that
// `init --archive-ledger` can refuse to move a ledger out from under it: `<db>.writer.lock`, the
// store's owner lock. It counts as held for as long as the process it names runs on this boot,
// however long that process stalls; the lock of a writer that died (kill -9, a crash, a reboot)
// is taken over at once.
import { tryOwnerLockSync } from "../store/index.js";
import { LedgerError } from "./errors.js";

export { releaseQuietly } from "../store/index.js";

export function writerLockPath(dbPath: string): string {
  return `${dbPath}.writer.lock`;
}

/** Takes the writer lock on the ledger at `dbPath`; returns its release. Refused while a live process holds it. */
export function takeWriterLock(dbPath: string): () => void {
  const release = tryOwnerLockSync(writerLockPath(dbPath));
  if (release) return release;
  throw new LedgerError(
    `the ledger ${dbPath} is open for writing in another process (the agent, or a key change in progress: ${writerLockPath(dbPath)}); stop the agent first`,
    "ledger-busy",
  );
}
