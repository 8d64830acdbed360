// The device's append-only ledger in SQLite. An append builds, signs, hashes and commits one
// entry in one autocommit insert keyed by seq, so appenders in this process and in others (a
// technician's `ledagent note` beside the daemon) serialise on the key, and the entry is durable
// (WAL, synchronous=FULL) when append returns.
import type { Logger } from "pino";
import { canonicalString, readSigningRecord, signCanonical, signingRecordPath, writeSigningRecord, type KeyPair } from "../crypto/index.js";
import { diskFullReason, failureReason, migrate, pagesBySeq, type Db } from "../store/index.js";
import type { ClockSource } from "./clock.js";
import { headProblem, sha256Hex, signEntry, storedRowProblem } from "./entry.js";
import { ledgerMigrations } from "./migrations.js";
import { appendProblem } from "./schema.js";
import { GENESIS_PREV, type AppendInput, type Checkpoint, type Entry, type EventEntry, type EventType, type PlayEntry } from "./types.js";

export interface LedgerDeps {
  db: Db;
  screenId: string;
  keys: KeyPair;
  clock: ClockSource;
  log?: Logger;
}

export interface Head {
  seq: number;
  hash: string;
}

export interface StoredEntry {
  seq: number;
  body: string;
  hash: string;
}

export interface TimeRange {
  /** Inclusive, ISO time. */
  from?: string;
  /** Exclusive, ISO time. */
  to?: string;
}

const PAGE = 1000;

/** The longest entry the ledger writes (canonical JSON characters); verifiers accept lines up to 1 MiB. */
export const MAX_ENTRY_CHARS = 64 * 1024;

/** Why the ledger refused or failed, for callers and tests that must tell refusals apart. */
export type LedgerErrorCode =
  | "invalid-entry"
  | "append-failed"
  | "disk-full"
  | "empty"
  | "other-screen"
  | "damaged-head"
  | "foreign-key"
  | "key-already-signed"
  | "other-genesis";

export class LedgerError extends Error {
  constructor(
    message: string,
    readonly code: LedgerErrorCode = "append-failed",
  ) {
    super(message);
    this.name = "LedgerError";
  }
}

/** Read access to the ledger: needs the database only, never the device key. */
export class LedgerReader {
  protected readonly lastRow;

  constructor(readonly db: Db) {
    migrate(db, "ledger", ledgerMigrations);
    this.lastRow = db.prepare("SELECT seq, hash FROM ledger_entries ORDER BY seq DESC LIMIT 1");
  }

  head(): Head | null {
    return (this.lastRow.get() as Head | undefined) ?? null;
  }

  /** Stored entries with seq in [fromSeq, toSeq], ascending, read a page at a time. */
  *rows(fromSeq = 1, toSeq = Number.MAX_SAFE_INTEGER): Generator<StoredEntry> {
    const page = this.db.prepare("SELECT seq, body, hash FROM ledger_entries WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?");
    for (const rows of pagesBySeq((after) => page.all(after, toSeq, PAGE) as StoredEntry[], PAGE, fromSeq - 1)) yield* rows;
  }

  /** Play entries whose play started in the range, ascending seq. */
  *plays(range: TimeRange = {}): Generator<PlayEntry> {
    yield* this.byTime("play", null, range) as Generator<PlayEntry>;
  }

  /** Event entries written in the range (optionally of one type), ascending seq. */
  *events(range: TimeRange & { type?: EventType } = {}): Generator<EventEntry> {
    yield* this.byTime("event", range.type ?? null, range) as Generator<EventEntry>;
  }

  private *byTime(kind: "play" | "event", type: string | null, range: TimeRange): Generator<Entry> {
    const page = this.db.prepare(
      `SELECT seq, body FROM ledger_entries
       WHERE kind = ? AND (? IS NULL OR type = ?) AND t >= ? AND t < ? AND seq > ?
       ORDER BY seq LIMIT ?`,
    );
    const fetch = (after: number): { seq: number; body: string }[] =>
      page.all(kind, type, type, range.from ?? "", range.to ?? "\uffff", after, PAGE) as { seq: number; body: string }[];
    for (const rows of pagesBySeq(fetch, PAGE)) for (const r of rows) yield JSON.parse(r.body) as Entry;
  }

  /** The play on screen at `at` (started at or before, ended after), else the last event before it. */
  onScreenAt(at: string): Entry | null {
    const row = this.db
      .prepare("SELECT body FROM ledger_entries WHERE kind = 'play' AND t <= ? ORDER BY t DESC, seq DESC LIMIT 1")
      .get(at) as { body: string } | undefined;
    const play = row ? (JSON.parse(row.body) as Entry) : null;
    if (play?.kind === "play" && play.play.endedAt > at) return play;
    const ev = this.db.prepare("SELECT body FROM ledger_entries WHERE kind = 'event' AND at <= ? ORDER BY seq DESC LIMIT 1").get(at) as
      | { body: string }
      | undefined;
    return ev ? (JSON.parse(ev.body) as Entry) : null;
  }

  /** The most recent event of `type`, or null when there is none. */
  lastEvent(type: EventType): EventEntry | null {
    const row = this.db.prepare("SELECT body FROM ledger_entries WHERE kind = 'event' AND type = ? ORDER BY seq DESC LIMIT 1").get(type) as
      | { body: string }
      | undefined;
    return row ? (JSON.parse(row.body) as EventEntry) : null;
  }

  latestCheckpoint(): Checkpoint | null {
    const row = this.db.prepare("SELECT body FROM ledger_checkpoints ORDER BY seq DESC LIMIT 1").get() as { body: string } | undefined;
    return row ? (JSON.parse(row.body) as Checkpoint) : null;
  }
}

/** The ledger with the device key: appends and checkpoints. */
export class Ledger extends LedgerReader {
  private readonly insert;
  /** The key's signing record, when the key lives in a file (always, outside tests and benchmarks). */
  private readonly genesis: GenesisGuard | null;

  constructor(private readonly deps: LedgerDeps) {
    super(deps.db);
    // Checked once here, never per append: an append chains onto the head without re-reading it.
    const tail = this.db.prepare("SELECT seq, body, hash FROM ledger_entries ORDER BY seq DESC LIMIT 2").all() as StoredEntry[];
    checkHead(tail, deps);
    this.genesis = deps.keys.file ? new GenesisGuard(deps.keys.file, deps, this.db.name) : null;
    this.genesis?.checkOnOpen(this.firstRow(), tail[0]?.seq ?? 0);
    this.insert = this.db.prepare(
      "INSERT INTO ledger_entries (seq, kind, at, t, type, customer, campaign, body, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
  }

  private firstRow(): StoredEntry | undefined {
    return this.db.prepare("SELECT seq, body, hash FROM ledger_entries WHERE seq = 1").get() as StoredEntry | undefined;
  }

  /** The head as this process last saw it; another process may have appended since. */
  private knownHead: Head | null | undefined;

  /**
   * Appends one entry; it is committed to disk (WAL, synchronous=FULL) when this returns.
   *
   * Appenders serialise on the seq primary key: the entry is built on the last head this process
   * saw and inserted in one autocommit statement. seq n+1 can only be free while n is the head,
   * so an insert that succeeds is correctly chained; one that collides (another process, such as
   * a technician's `ledagent note`, appended first) re-reads the head and signs again.
   */
  append(input: AppendInput): Entry {
    // Never commit what a verifier would reject: a bad entry could not be removed afterwards.
    const problem = appendProblem(input);
    if (problem) throw new LedgerError(`ledger append refused: ${problem}`, "invalid-entry");
    for (let attempt = 1; ; attempt++) {
      if (this.knownHead === undefined) this.knownHead = this.head();
      const { entry, body, hash } = this.build(input, this.knownHead);
      // The key's durable evidence that it is beginning a ledger precedes the genesis entry itself.
      if (entry.seq === 1) this.genesis?.beginning(hash);
      try {
        this.store(entry, body, hash);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === "SQLITE_CONSTRAINT_PRIMARYKEY" && attempt < 1000) {
          this.knownHead = undefined; // someone else appended: chain onto their entry instead
          if (entry.seq === 1) this.genesis?.adopt(this.firstRow());
          continue;
        }
        this.deps.log?.error({ err, kind: input.kind }, "ledger append failed");
        throw new LedgerError(`ledger append failed: ${failureReason(err, this.db.name)}`, diskFullReason(err, this.db.name) ? "disk-full" : "append-failed");
      }
      if (entry.seq === 1) this.genesis?.begun(hash);
      this.knownHead = { seq: entry.seq, hash };
      this.deps.log?.debug({ seq: entry.seq, kind: entry.kind }, "ledger entry appended");
      return entry;
    }
  }

  private build(input: AppendInput, head: Head | null): { entry: Entry; body: string; hash: string } {
    const clock = this.deps.clock;
    const { entry, text: body } = signEntry(
      input,
      {
        seq: (head?.seq ?? 0) + 1,
        screen: this.deps.screenId,
        at: clock.now(),
        clock: { synced: clock.synced(), bootId: clock.bootId(), monoMs: Math.round(clock.monoMs()) },
        prev: head?.hash ?? GENESIS_PREV,
      },
      this.deps.keys.privateKey,
    );
    // Verifiers read at most MAX_ENTRY_CHARS a line; a longer entry could never be verified.
    if (body.length > MAX_ENTRY_CHARS) {
      throw new LedgerError(`ledger append refused: the entry would be ${body.length} characters, more than ${MAX_ENTRY_CHARS}; shorten its detail`, "invalid-entry");
    }
    return { entry, body, hash: sha256Hex(body) };
  }

  private store(entry: Entry, body: string, hash: string): void {
    const play = entry.kind === "play" ? entry.play : undefined;
    const event = entry.kind === "event" ? entry.event : undefined;
    this.insert.run(
      entry.seq,
      entry.kind,
      entry.at,
      play?.startedAt ?? entry.at,
      event?.type ?? null,
      play?.customer ?? stringOrNull(event?.customer),
      play?.campaign ?? stringOrNull(event?.campaign),
      body,
      hash,
    );
  }

  /** Shorthand for an event entry. */
  event(type: EventType, detail: Record<string, unknown> = {}): EventEntry {
    return this.append({ kind: "event", event: { ...detail, type } }) as EventEntry;
  }

  /**
   * A signed head checkpoint of the ledger as it stands, kept in the database. On a full disk it
   * is still signed and returned (it states what is already recorded), only not kept.
   */
  checkpoint(): Checkpoint {
    const head = this.head();
    if (!head) throw new LedgerError("the ledger is empty: nothing to checkpoint", "empty");
    const unsigned = { screen: this.deps.screenId, seq: head.seq, hash: head.hash, at: this.deps.clock.now().toISOString() };
    const cp: Checkpoint = { ...unsigned, sig: signCanonical(unsigned, this.deps.keys.privateKey) };
    try {
      this.db.prepare("INSERT OR REPLACE INTO ledger_checkpoints (seq, at, body) VALUES (?, ?, ?)").run(cp.seq, cp.at, canonicalString(cp));
    } catch (err) {
      if (!diskFullReason(err, this.db.name)) throw new LedgerError(`cannot keep the checkpoint: ${failureReason(err, this.db.name)}`, "append-failed");
      this.deps.log?.warn({ seq: cp.seq }, "checkpoint signed but not kept: the disk is full");
    }
    return cp;
  }
}

// How to get out of a refusal on open without losing anything: said once, used by every refusal.
const RECOVER =
  "restore the database from a backup, or start a new ledger deliberately under a new key with " +
  "`ledagent init --force --new-key --archive-ledger` (it keeps the old ledger and public key for the old proofs)";

/** Refuses a ledger whose head an append must not chain onto: another screen's, damaged, or another key's. */
function checkHead(tail: StoredEntry[], deps: LedgerDeps): void {
  if (tail.length === 0) return;
  const head = tail[0];
  // One ledger, one screen: entries under a new id would fail every verification after them.
  const screen = storedRowProblem(head) ? null : screenOf(head.body);
  if (screen !== null && screen !== deps.screenId) {
    throw new LedgerError(
      `this ledger belongs to screen ${JSON.stringify(screen)} but the config says ${JSON.stringify(deps.screenId)}; ` +
        "a renamed screen needs a new data directory (keep the old ledger for its proofs)",
      "other-screen",
    );
  }
  const problem = headProblem(tail, deps.keys.publicKey);
  if (problem) {
    throw new LedgerError(
      `ledger refused: the head entry (seq ${head.seq}) ${problem}; an append would chain onto it and break the chain for good. To recover: ${RECOVER}`,
      /not signed by this device key/.test(problem) ? "foreign-key" : "damaged-head",
    );
  }
}

function screenOf(body: string): string | null {
  try {
    return (JSON.parse(body) as Entry).screen;
  } catch {
    return null;
  }
}

/**
 * Keeps the device key's signing record (crypto/signing-record.ts) in step with the ledger's seq 1:
 * refuses a second history under a key that has begun one, and records the first before it exists.
 */
class GenesisGuard {
  constructor(
    private readonly keyFile: string,
    private readonly deps: LedgerDeps,
    private readonly dbPath: string,
  ) {}

  checkOnOpen(first: StoredEntry | undefined, headSeq: number): void {
    const record = readSigningRecord(this.keyFile, this.deps.keys.publicKey);
    const where = `${signingRecordPath(this.keyFile)} records that this device key began the ledger of screen ${JSON.stringify(record?.screen)} (seq 1 hash ${record?.genesis.slice(0, 16)}…)`;
    if (!first) {
      if (headSeq > 0) throw new LedgerError(`ledger refused: seq 1 is missing from ${this.dbPath} (the database was altered or damaged). To recover: ${RECOVER}`, "damaged-head");
      // A pending record with no entry is a first append cut short: nothing was acknowledged.
      if (record?.state === "committed") {
        throw new LedgerError(
          `ledger refused: ${where}, but the ledger database ${this.dbPath} is empty or missing; appending would start a second history under the same key. To recover: ${RECOVER}`,
          "key-already-signed",
        );
      }
      return;
    }
    if (record?.genesis === first.hash) {
      if (record.state === "pending") this.begun(first.hash);
      return;
    }
    if (record?.state === "committed") {
      throw new LedgerError(
        `ledger refused: ${where}, but seq 1 of ${this.dbPath} is another entry (hash ${first.hash.slice(0, 16)}…); appending would extend a history this key did not begin. To recover: ${RECOVER}`,
        "other-genesis",
      );
    }
    this.adopt(first); // a ledger begun before signing records existed, or a first append cut short
  }

  /** Before the genesis entry is stored: the key is about to sign it. */
  beginning(hash: string): void {
    this.write(hash, "pending");
  }

  /** The genesis entry is stored. */
  begun(hash: string): void {
    this.write(hash, "committed");
  }

  /** Records the ledger's existing seq 1, once it is known to be this key's. */
  adopt(first: StoredEntry | undefined): void {
    if (!first) return;
    const problem = headProblem([first], this.deps.keys.publicKey);
    if (problem) throw new LedgerError(`ledger refused: its first entry (seq 1) ${problem}. To recover: ${RECOVER}`, /not signed/.test(problem) ? "foreign-key" : "damaged-head");
    this.begun(first.hash);
  }

  private write(genesis: string, state: "pending" | "committed"): void {
    try {
      writeSigningRecord(this.keyFile, { screen: this.deps.screenId, genesis, state, at: this.deps.clock.now().toISOString() }, this.deps.keys.publicKey);
    } catch (err) {
      const why = failureReason(err, this.keyFile);
      throw new LedgerError(`ledger append failed: cannot record that the device key begins this ledger: ${why}`, diskFullReason(err, this.keyFile) ? "disk-full" : "append-failed");
    }
  }
}

function stringOrNull(x: unknown): string | null {
  return typeof x === "string" ? x : null;
}
