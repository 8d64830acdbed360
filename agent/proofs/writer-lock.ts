// The lock every long-lived ledger writer (the daemon) holds while it has the ledger open, so that
// `init --archive-ledger` can refuse to move a ledger out from under it: `<db>.writer.lock`,
// through the store's inter-process lock (a holder killed with -9 leaves a lock that goes stale
// after STALE_MS and no longer counts).
import { tryLockSync } from "../store/index.js";
import { LedgerError } from "./errors.js";

export { releaseQuietly } from "../store/index.js";

const STALE_MS = 20_000;

function lockTarget(dbPath: string): string {
  return `${dbPath}.writer`;
}

/** Takes the writer lock on the ledger at `dbPath`; returns its release. Refused while another process holds it. */
export function takeWriterLock(dbPath: string, onCompromised: (err: Error) => void = () => undefined): () => void {
  const release = tryLockSync(lockTarget(dbPath), { staleMs: STALE_MS, onCompromised });
  if (release) return release;
  throw new LedgerError(
    `the ledger ${dbPath} is open for writing in another process (the agent, or a key change in progress: ${lockTarget(dbPath)}.lock); stop the agent first`,
    "ledger-busy",
  );
}
