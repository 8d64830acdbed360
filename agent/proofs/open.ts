// Opens the ledger the way every command and the daemon do: the agent database, the device key.
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Logger } from "pino";
import type { Config } from "../config.js";
import { loadPrivateKey, parsePublicKey, publicKeyPem, readSigningRecord, signingRecordPath, writeRetiredKey, type KeyPair } from "../crypto/index.js";
import { agentPaths, type AgentPaths } from "../paths.js";
import { fsyncDirectory, openDatabase, writeFileDurably } from "../store/index.js";
import { systemClock, type ClockSource } from "./clock.js";
import { KeyGuard } from "./key-guard.js";
import { Ledger, LedgerReader } from "./ledger.js";
import type { Checkpoint } from "./types.js";
import { releaseQuietly, takeWriterLock } from "./writer-lock.js";

export interface OpenedLedger {
  ledger: Ledger;
  /** Records the key's high-water mark, closes the database, and releases the writer lock if held. */
  close(): void;
}

export interface OpenLedgerOptions {
  clock?: ClockSource;
  log?: Logger;
  /**
   * A writer that keeps the ledger open (the daemon): it holds the writer lock for as long as it
   * is open, so a key change refuses to archive under it, and records its high-water mark at
   * each checkpoint and on close rather than after every append.
   */
  longLived?: boolean;
}

export function openLedger(config: Pick<Config, "dataDir" | "runDir" | "screenId">, opts: OpenLedgerOptions = {}): OpenedLedger {
  const paths = agentPaths(config);
  const keys = loadPrivateKey(paths.deviceKey);
  const clock = opts.clock ?? systemClock();
  const release = opts.longLived ? takeWriterLock(paths.database) : () => undefined;
  try {
    refuseBeforeCreating(paths.database, { screenId: config.screenId, keys, clock });
    return openWriter(paths.database, { screenId: config.screenId, keys, clock, log: opts.log, markEveryAppend: !opts.longLived }, release);
  } catch (err) {
    releaseQuietly(release);
    throw err;
  }
}

function openWriter(dbPath: string, deps: Omit<ConstructorParameters<typeof Ledger>[0], "db">, release: () => void): OpenedLedger {
  const db = openDatabase(dbPath);
  let ledger: Ledger;
  try {
    ledger = new Ledger({ ...deps, db });
  } catch (err) {
    db.close();
    throw err;
  }
  const close = (): void => {
    try {
      ledger.close();
    } finally {
      db.close();
      releaseQuietly(release);
    }
  };
  return { ledger, close };
}

/**
 * A writer refused for a missing database must not leave an empty one behind (a reader would
 * then see an empty ledger and export nothing, successfully): the key's refusals that need no
 * database are made before it is opened, and so created.
 */
function refuseBeforeCreating(dbPath: string, deps: { screenId: string; keys: KeyPair; clock: ClockSource }): void {
  if (existsSync(dbPath) || !deps.keys.file) return;
  const guard = new KeyGuard(deps.keys.file, deps, dbPath);
  guard.checkKey();
  guard.checkGenesis(undefined, 0);
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

/**
 * SQLite's `quick_check` over the whole agent database, which an ordinary open no longer runs (it
 * reads every page: seconds on a large ledger). The daemon runs it once at start; throws the
 * store's StoreError naming what is damaged. A missing database passes: there is nothing to check,
 * and creating an empty one here would let a writer refused for the missing database begin a
 * fresh ledger instead (see refuseBeforeCreating).
 */
export function checkLedgerIntegrity(config: Pick<Config, "dataDir" | "runDir">): void {
  const path = agentPaths(config).database;
  if (!existsSync(path)) return;
  openDatabase(path, { mustExist: true, integrityCheck: true }).close();
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
  /** Whether the old public key was archived beside it. */
  publicKey: boolean;
}

/**
 * Retires the ledger before the device key is replaced: a final entry and a signed head under the
 * old key, then the old public key and the head written into a dated directory under the archive,
 * the old key recorded as retired (keys/retired/), and the database moved there. The key's signing
 * record is left in place until a new key replaces the old one (see retireSigningRecord).
 */
export function archiveLedger(config: Pick<Config, "dataDir" | "runDir" | "screenId">, opts: { clock?: ClockSource; reason: string }): ArchivedLedger {
  const paths = agentPaths(config);
  // A long-lived writer (the agent) would keep appending to the moved file: refused while it runs,
  // and none can start until the ledger is moved.
  const release = takeWriterLock(paths.database);
  try {
    return archiveLocked(config, paths, opts);
  } finally {
    releaseQuietly(release);
  }
}

function archiveLocked(config: Pick<Config, "dataDir" | "runDir" | "screenId">, paths: AgentPaths, opts: { clock?: ClockSource; reason: string }): ArchivedLedger {
  const clock = opts.clock ?? systemClock();
  const dir = freshArchiveDir(paths.archiveDir, clock.now());
  const { head, unclosed } = closeOldLedger(config, opts.reason, clock);
  // The old public key as it was published: the file itself, copied before a new key replaces it
  // (the private key may already be gone), so the old ledger stays verifiable.
  const publicPem = oldPublicKeyPem(paths);
  if (publicPem !== null) writeFileDurably(join(dir, "device.pub.pem"), publicPem);
  if (head) writeFileDurably(join(dir, "head.json"), JSON.stringify(head) + "\n");
  // Retired before the database moves: a writer that loaded the old key and opens the path after
  // the move must find the key retired, not an empty ledger to begin under it.
  if (publicPem !== null) writeRetiredKey(paths.deviceKey, parsePublicKey(publicPem), { at: clock.now().toISOString(), archive: dir, head: head && { seq: head.seq, hash: head.hash } });
  for (const suffix of ["", "-wal", "-shm"]) {
    if (existsSync(paths.database + suffix)) renameSync(paths.database + suffix, join(dir, basename(paths.database) + suffix));
  }
  fsyncDirectory(dir);
  fsyncDirectory(dirname(paths.database));
  return { dir, head, unclosed, publicKey: publicPem !== null };
}

/** A last entry and a signed head under the old key, when its ledger can still be extended. */
function closeOldLedger(config: Pick<Config, "dataDir" | "runDir" | "screenId">, reason: string, clock: ClockSource): { head: Checkpoint | null; unclosed: string | null } {
  if (ledgerInUse(config).entries === 0) return { head: null, unclosed: null };
  try {
    const { ledger, close } = openLedger(config, { clock });
    try {
      if (!ledger.head()) return { head: null, unclosed: null };
      ledger.event("technician.note", { text: `ledger closed: ${reason}; this is its last entry`, by: "ledagent init" });
      return { head: ledger.checkpoint(), unclosed: null };
    } finally {
      close();
    }
  } catch (err) {
    return { head: null, unclosed: (err as Error).message }; // archived as it stands: nothing may be lost
  }
}

function oldPublicKeyPem(paths: AgentPaths): string | null {
  if (existsSync(paths.devicePublicKey)) {
    const pem = readFileSync(paths.devicePublicKey, "utf8");
    try {
      parsePublicKey(pem);
      return pem;
    } catch {
      // unreadable: fall back to the private key's public half
    }
  }
  return existsSync(paths.deviceKey) ? publicKeyPem(loadPrivateKey(paths.deviceKey).publicKey) : null;
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
