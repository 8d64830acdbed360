// SQLite as every part of the agent opens it: WAL, synchronous=FULL on every open (a reopened
// WAL database otherwise falls back to NORMAL in better-sqlite3's build), a busy timeout, an
// integrity check when asked for, and numbered migrations kept per part so parts never edit each
// other's lists.
import Database from "better-sqlite3";
import { existsSync, mkdirSync, statfsSync } from "node:fs";
import { dirname } from "node:path";

export type Db = Database.Database;

export interface Migration {
  /** 1, 2, 3 … in order; never renumbered once released. */
  version: number;
  /** What it does, for the log and for `schema_migrations`. */
  name: string;
  sql: string;
}

export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoreError";
  }
}

export interface OpenOptions {
  readonly?: boolean;
  busyTimeoutMs?: number;
  /** Fail rather than create a new, empty database (readers: a wrong path must not look like an empty ledger). */
  mustExist?: boolean;
  /**
   * Run `quick_check` over the whole file and refuse it when damaged. It reads every page (some
   * 2 s at 400k ledger entries, growing with the file), so it is not paid on every open: the
   * daemon asks for it once at start, through proofs' checkLedgerIntegrity.
   */
  integrityCheck?: boolean;
}

/** Free bytes for an unprivileged writer on the file system holding `dir`. */
export type FreeSpace = (dir: string) => number;

const statfsFree: FreeSpace = (dir) => {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
};

// Below this much free space a failed write is put down to the full disk: SQLite grows files a
// page, a WAL frame or a 32 KiB shared-memory region at a time.
const NEARLY_FULL_BYTES = 256 * 1024;

/**
 * "the disk is full" when `err` is a failed write caused by a full disk, else null. SQLite says
 * SQLITE_FULL only for the database file; a full disk met while growing its WAL index (-shm) or
 * on fsync comes back as a bare "disk I/O error" (SQLITE_IOERR_*), and only the free space on the
 * file system tells the two apart.
 */
export function diskFullReason(err: unknown, path: string, freeSpace: FreeSpace = statfsFree): string | null {
  const code = (err as { code?: unknown }).code;
  if (code === "SQLITE_FULL" || code === "ENOSPC") return "the disk is full";
  if (typeof code !== "string" || !code.startsWith("SQLITE_IOERR")) return null;
  try {
    return freeSpace(dirname(path)) < NEARLY_FULL_BYTES ? "the disk is full" : null;
  } catch {
    return null;
  }
}

/** The reason to report for a failed database operation: the full disk when that is the cause. */
export function failureReason(err: unknown, path: string, freeSpace?: FreeSpace): string {
  const full = diskFullReason(err, path, freeSpace);
  return full ? `${full} (free space on ${dirname(path)} and retry)` : (err as Error).message;
}

export function openDatabase(path: string, opts: OpenOptions = {}): Db {
  if (!opts.readonly && !opts.mustExist && path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  let db: Db;
  try {
    db = new Database(path, { readonly: opts.readonly ?? false, fileMustExist: (opts.readonly || opts.mustExist) ?? false });
  } catch (err) {
    if (opts.mustExist && !existsSync(path)) {
      throw new StoreError(`no database at ${path} (is dataDir right? \`ledagent init\` creates one)`);
    }
    throw new StoreError(`cannot open database ${path}: ${(err as Error).message}`);
  }
  try {
    prepare(db, path, opts);
  } catch (err) {
    db.close();
    if (err instanceof StoreError) throw err;
    if (diskFullReason(err, path) && path !== ":memory:") return openOnFullDisk(path, opts, err);
    throw new StoreError(`cannot use database ${path}: ${failureReason(err, path)}`);
  }
  return db;
}

function prepare(db: Db, path: string, opts: OpenOptions): void {
  db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 5000}`);
  if (!opts.readonly) db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("foreign_keys = ON");
  if (opts.integrityCheck) {
    const rows = db.pragma("quick_check") as { quick_check: string }[];
    const bad = rows.map((r) => r.quick_check).filter((r) => r !== "ok");
    if (bad.length > 0) throw new StoreError(`database ${path} failed its integrity check: ${bad.slice(0, 3).join("; ")}`);
  }
}

/**
 * On a full disk a WAL database cannot be opened as usual: the first read must grow the WAL index
 * file (-shm) beside it, and that write fails. In exclusive locking mode SQLite keeps the index in
 * the process's memory instead, so reads (exports, spot checks, signing a head) still work and
 * writes fail cleanly with SQLITE_FULL. The price is that this connection locks out others, which
 * could not write to a full disk anyway.
 */
function openOnFullDisk(path: string, opts: OpenOptions, first: unknown): Db {
  let db: Db;
  try {
    db = new Database(path, { readonly: opts.readonly ?? false, fileMustExist: true });
  } catch {
    throw new StoreError(`cannot use database ${path}: ${failureReason(first, path)}`);
  }
  try {
    db.pragma("locking_mode = EXCLUSIVE");
    prepare(db, path, opts);
  } catch (err) {
    db.close();
    if (err instanceof StoreError) throw err;
    throw new StoreError(`cannot use database ${path}: ${failureReason(err, path)}`);
  }
  return db;
}

/**
 * Applies `part`'s migrations above its recorded version. Reading the version and applying run in
 * one IMMEDIATE transaction, so two processes opening a new database at once (the daemon and a
 * technician's command) cannot both apply the same migration.
 */
export function migrate(db: Db, part: string, migrations: readonly Migration[]): number {
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  sorted.forEach((m, i) => {
    if (m.version !== i + 1) throw new StoreError(`${part} migrations must be numbered 1, 2, 3 …; found ${m.version} at position ${i + 1}`);
  });
  const apply = db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      part TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL,
      PRIMARY KEY (part, version))`);
    const row = db.prepare("SELECT MAX(version) AS v FROM schema_migrations WHERE part = ?").get(part) as { v: number | null };
    const current = row.v ?? 0;
    if (current > sorted.length) {
      throw new StoreError(`${part} schema is at version ${current}, newer than this agent knows (${sorted.length}); refusing to run an older agent on it`);
    }
    const record = db.prepare("INSERT INTO schema_migrations (part, version, name, applied_at) VALUES (?, ?, ?, ?)");
    for (const m of sorted.slice(current)) {
      db.exec(m.sql);
      record.run(part, m.version, m.name, new Date().toISOString());
    }
  });
  // Up to date already (the common case): a read is enough, no write lock needed.
  if (isCurrent(db, part, sorted.length)) return sorted.length;
  try {
    apply.immediate();
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw new StoreError(`cannot bring the ${part} schema of ${db.name} up to date: ${failureReason(err, db.name)}`);
  }
  return sorted.length;
}

function isCurrent(db: Db, part: string, version: number): boolean {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  if (!exists) return false;
  const row = db.prepare("SELECT MAX(version) AS v FROM schema_migrations WHERE part = ?").get(part) as { v: number | null };
  return row.v === version;
}
