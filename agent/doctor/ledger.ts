// The ledger, read only: it opens, where its head is and when it was written, the last entries
// chain and carry the device key's signatures, and the key's own record (which ledger it began, how
// far it has signed) agrees with the database. These are the refusals the agent would meet at
// start, found before a restart meets them. The full page-by-page integrity check is the agent's
// at start (seconds on a big ledger), not the doctor's.
import { existsSync, readFileSync } from "node:fs";
import type { KeyObject } from "node:crypto";
import type { Config } from "../config.js";
import { keyFingerprint, loadPrivateKey, parsePublicKey, readSigningRecord, type SigningRecord } from "../crypto/index.js";
import { agentPaths } from "../paths.js";
import { checkCheckpoints } from "../proofs/db-guard.js";
import { entrySignatureValid, storedRowProblem, type StoredRow } from "../proofs/entry.js";
import { RECOVER } from "../proofs/errors.js";
import { GENESIS_PREV, type Entry } from "../proofs/types.js";
import { openDatabase, type Db } from "../store/index.js";
import { fail, firstLine, ok, type CheckResult } from "./types.js";

/** Entries from the head back that are checked: cheap (milliseconds), and where damage shows first. */
export const TAIL_CHECKED = 100;

const NAME = "ledger";

interface KeyView {
  publicKey: KeyObject | null;
  record: SigningRecord | null;
}

/** The device key's public half (from the private key, else the published PEM) and its record. */
function deviceKeyView(keyFile: string, publicFile: string): KeyView {
  let publicKey: KeyObject | null = null;
  try {
    publicKey = loadPrivateKey(keyFile).publicKey;
  } catch {
    try {
      publicKey = parsePublicKey(readFileSync(publicFile, "utf8"));
    } catch {
      publicKey = null;
    }
  }
  let record: SigningRecord | null = null;
  try {
    record = publicKey ? readSigningRecord(keyFile, publicKey) : null;
  } catch {
    record = null; // the device key check names a damaged record
  }
  return { publicKey, record };
}

/** The first thing wrong in `tail` (ascending seqs, ending at the head), or null. */
function tailProblem(tail: StoredRow[], screenId: string, publicKey: KeyObject | null): string | null {
  let prev: StoredRow | null = null;
  for (const row of tail) {
    if (storedRowProblem(row)) return `seq ${row.seq}: its stored hash does not match its body (the database was altered or damaged)`;
    let entry: Entry;
    try {
      entry = JSON.parse(row.body) as Entry;
    } catch {
      return `seq ${row.seq}: its body is not JSON (the database was altered or damaged)`;
    }
    if (entry.seq !== row.seq) return `seq ${row.seq}: its body says seq ${String(entry.seq)} (the database was altered or damaged)`;
    if (entry.screen !== screenId) return `seq ${row.seq} belongs to screen ${JSON.stringify(entry.screen)}, but the config says ${JSON.stringify(screenId)}`;
    if (publicKey && !entrySignatureValid(entry, publicKey)) return `seq ${row.seq} is not signed by this device key (the key was replaced, or the entry altered)`;
    if (prev && prev.seq !== row.seq - 1) return `seq ${prev.seq + 1} is missing (a gap before seq ${row.seq})`;
    if (prev && entry.prev !== prev.hash) return `seq ${row.seq} does not link to seq ${prev.seq} (its prev is not that entry's hash)`;
    if (row.seq === 1 && entry.prev !== GENESIS_PREV) return "seq 1 does not start the chain (its prev is not 64 zeros)";
    prev = row;
  }
  return null;
}

/** What the key's record says that the database contradicts, or null. */
function recordProblem(db: Db, record: SigningRecord | null, headSeq: number): string | null {
  if (!record || record.state !== "committed") return null;
  const first = db.prepare("SELECT hash FROM ledger_entries WHERE seq = 1").get() as { hash: string } | undefined;
  if (!first) return "seq 1 is missing";
  if (first.hash !== record.genesis) return `seq 1 is not the entry this device key began its ledger with (the key's record names hash ${record.genesis.slice(0, 16)}…): another history`;
  if (!record.mark) return null;
  if (headSeq < record.mark.seq) return `the head is at seq ${headSeq}, but this key has signed up to seq ${record.mark.seq}: this database is an older copy (a restored backup, a lost WAL)`;
  const at = db.prepare("SELECT hash FROM ledger_entries WHERE seq = ?").get(record.mark.seq) as { hash: string } | undefined;
  if (at?.hash !== record.mark.hash) return `seq ${record.mark.seq} is not the entry this key signed there: another history`;
  return null;
}

function localWhen(body: string): string {
  try {
    return (JSON.parse(body) as Entry).at;
  } catch {
    return "?";
  }
}

export function checkLedger(config: Pick<Config, "dataDir" | "runDir" | "screenId">, tailSize = TAIL_CHECKED): CheckResult {
  const paths = agentPaths(config);
  const key = deviceKeyView(paths.deviceKey, paths.devicePublicKey);
  if (!existsSync(paths.database)) {
    if (key.record?.state === "committed") {
      return fail(NAME, `no ledger at ${paths.database}, but the device key began one (seq 1 hash ${key.record.genesis.slice(0, 16)}…): it was deleted or moved`, RECOVER);
    }
    return ok(NAME, `none yet at ${paths.database}: the agent begins it at its first start`);
  }
  let db: Db;
  try {
    db = openDatabase(paths.database, { readonly: true });
  } catch (err) {
    return fail(NAME, firstLine(err), `check the owner and mode of ${config.dataDir} and its files (\`ls -la ${config.dataDir}\`); if the file is damaged, restore it from the backup`);
  }
  try {
    const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger_entries'").get();
    const rows = table ? (db.prepare("SELECT seq, body, hash FROM ledger_entries ORDER BY seq DESC LIMIT ?").all(tailSize) as StoredRow[]).reverse() : [];
    const head = rows[rows.length - 1];
    if (!head) {
      if (key.record?.state === "committed") return fail(NAME, `${paths.database} is empty, but the device key began a ledger: it was emptied or replaced`, RECOVER);
      return ok(NAME, `${paths.database}: empty (the agent begins it at its next start)`);
    }
    const problem = tailProblem(rows, config.screenId, key.publicKey) ?? recordProblem(db, key.record, head.seq);
    if (problem) return fail(NAME, `${paths.database}: ${problem}`, /belongs to screen/.test(problem) ? "a renamed screen needs a new data directory: put the old screenId back, or point dataDir at a new directory (keep the old ledger for its proofs)" : RECOVER);
    try {
      checkCheckpoints(db);
    } catch (err) {
      return fail(NAME, firstLine(err).replace(/ To recover: .*$/, ""), RECOVER);
    }
    const signed = key.publicKey ? `chained and signed by the device key (${keyFingerprint(key.publicKey).slice(0, 16)}…)` : "chained (signatures not checked: no usable device key)";
    return ok(NAME, `head seq ${head.seq}, written ${localWhen(head.body)}; the last ${rows.length} entries ${signed}`);
  } finally {
    db.close();
  }
}
