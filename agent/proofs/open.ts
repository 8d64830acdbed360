// Opens the ledger the way every command and the daemon do: the agent database, the device key.
import { existsSync, mkdirSync, renameSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Logger } from "pino";
import type { Config } from "../config.js";
import { loadPrivateKey, publicKeyPem, readSigningRecord, signingRecordPath } from "../crypto/index.js";
import { agentPaths } from "../paths.js";
import { fsyncDirectory, openDatabase, writeFileDurably } from "../store/index.js";
import { systemClock, type ClockSource } from "./clock.js";
import { Ledger, LedgerReader } from "./ledger.js";
import type { Checkpoint } from "./types.js";

export interface OpenedLedger {
  ledger: Ledger;
  close(): void;
}

export function openLedger(config: Pick<Config, "dataDir" | "runDir" | "screenId">, opts: { clock?: ClockSource; log?: Logger } = {}): OpenedLedger {
  const paths = agentPaths(config);
  const keys = loadPrivateKey(paths.deviceKey);
  const db = openDatabase(paths.database);
  try {
    const ledger = new Ledger({ db, screenId: config.screenId, keys, clock: opts.clock ?? systemClock(), log: opts.log });
    return { ledger, close: () => db.close() };
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Read-only use (exports, reports): needs no key. */
export function openLedgerReader(config: Pick<Config, "dataDir" | "runDir">): { reader: LedgerReader; close(): void } {
  const db = openDatabase(agentPaths(config).database, { mustExist: true });
  try {
    return { reader: new LedgerReader(db), close: () => db.close() };
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Whether the device key has begun a ledger: entries in the database, or a record that it signed one. */
export function ledgerInUse(config: Pick<Config, "dataDir" | "runDir">): { entries: number; recorded: boolean } {
  const paths = agentPaths(config);
  let recorded = false;
  if (existsSync(paths.deviceKey)) recorded = readSigningRecord(paths.deviceKey, loadPrivateKey(paths.deviceKey).publicKey)?.state === "committed";
  if (!existsSync(paths.database)) return { entries: 0, recorded };
  const { reader, close } = openLedgerReader(config);
  try {
    return { entries: reader.head()?.seq ?? 0, recorded };
  } finally {
    close();
  }
}

export interface ArchivedLedger {
  dir: string;
  /** The final signed head under the old key, or null when the old ledger could not be closed. */
  head: Checkpoint | null;
  /** Why it could not be closed, when it could not. */
  unclosed: string | null;
}

/**
 * Retires the ledger before the device key is replaced: a final entry and a signed head under the
 * old key, then the database, the old public key and the head moved into a dated directory under
 * the archive. The key's signing record is left in place: until a new key replaces the old one the
 * old key must still refuse to begin a second ledger (see retireSigningRecord).
 */
export function archiveLedger(config: Pick<Config, "dataDir" | "runDir" | "screenId">, opts: { clock?: ClockSource; reason: string }): ArchivedLedger {
  const paths = agentPaths(config);
  const clock = opts.clock ?? systemClock();
  const dir = freshArchiveDir(paths.archiveDir, clock.now());
  let head: Checkpoint | null = null;
  let unclosed: string | null = null;
  if (ledgerInUse(config).entries > 0) {
    try {
      const { ledger, close } = openLedger(config, { clock });
      try {
        if (ledger.head()) {
          ledger.event("technician.note", { text: `ledger closed: ${opts.reason}; this is its last entry`, by: "ledagent init" });
          head = ledger.checkpoint();
        }
      } finally {
        close();
      }
    } catch (err) {
      unclosed = (err as Error).message; // archived as it stands: nothing may be lost
    }
  }
  if (existsSync(paths.deviceKey)) writeFileDurably(join(dir, "device.pub.pem"), publicKeyPem(loadPrivateKey(paths.deviceKey).publicKey));
  if (head) writeFileDurably(join(dir, "head.json"), JSON.stringify(head) + "\n");
  for (const suffix of ["", "-wal", "-shm"]) {
    if (existsSync(paths.database + suffix)) renameSync(paths.database + suffix, join(dir, basename(paths.database) + suffix));
  }
  fsyncDirectory(dir);
  fsyncDirectory(dirname(paths.database));
  return { dir, head, unclosed };
}

/** Moves the old key's signing record into the archive, once a new key has replaced the old one. */
export function retireSigningRecord(config: Pick<Config, "dataDir" | "runDir">, archived: ArchivedLedger): void {
  const record = signingRecordPath(agentPaths(config).deviceKey);
  if (!existsSync(record)) return;
  renameSync(record, join(archived.dir, "device.key.ledger.json"));
  fsyncDirectory(archived.dir);
  fsyncDirectory(dirname(record));
}

function freshArchiveDir(root: string, now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  mkdirSync(root, { recursive: true, mode: 0o700 });
  for (let n = 1; ; n++) {
    const dir = join(root, n === 1 ? stamp : `${stamp}-${n}`);
    try {
      mkdirSync(dir, { mode: 0o700 });
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
}
