// The device's append-only ledger in SQLite. An append builds, signs, hashes and commits one
// entry in one autocommit insert keyed by seq, so appenders in this process and in others (a
// technician's `ledagent note` beside the daemon) serialise on the key, and the entry is durable
// (WAL, synchronous=FULL) when append returns.
import type { Logger } from "pino";
import { canonicalString, signCanonical, type KeyPair } from "../crypto/index.js";
import { diskFullReason, failureReason, migrate, pagesBySeq, type Db } from "../store/index.js";
import type { ClockSource } from "./clock.js";
import { checkCheckpoints, checkHead, DatabasePlace } from "./db-guard.js";
import { sha256Hex, signEntry } from "./entry.js";
import { LedgerError } from "./errors.js";
import { KeyGuard } from "./key-guard.js";
import { ledgerMigrations } from "./migrations.js";
import { appendProblem } from "./schema.js";
import { checkIndexColumns, indexColumns, trustedEntry, type IndexColumns } from "./stored-row.js";
import { GENESIS_PREV, type AppendInput, type Checkpoint, type Entry, type EventEntry, type EventType, type PlayEntry } from "./types.js";

export { LedgerError, type LedgerErrorCode } from "./errors.js";

export interface LedgerDeps {
  db: Db;
  screenId: string;
  keys: KeyPair;
  clock: ClockSource;
  log?: Logger;
  /**
   * Record the key's high-water mark durably after every append: for short-lived writers (a
   * `note`), where it costs one small durable file write per command. A long-lived writer (the
   * daemon) leaves it off and records the mark at each checkpoint() and at close().
   */
  markEveryAppend?: boolean;
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

/** A row with its index columns, as readers select it. */
type IndexedRow = StoredEntry & IndexColumns;
const ROW_COLUMNS = "seq, body, hash, kind, at, t, type, customer, campaign";

/** A row's entry, refused when its hash is not its body's or its index columns (what selected it) are not the body's. */
function checkedEntry(row: IndexedRow): Entry {
  const entry = trustedEntry(row);
  checkIndexColumns(row, entry);
  return entry;
}

/** The longest entry the ledger writes (canonical JSON characters); verifiers accept lines up to 1 MiB. */
export const MAX_ENTRY_CHARS = 64 * 1024;

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
      `SELECT ${ROW_COLUMNS} FROM ledger_entries
       WHERE kind = ? AND (? IS NULL OR type = ?) AND t >= ? AND t < ? AND seq > ?
       ORDER BY seq LIMIT ?`,
    );
    const fetch = (after: number): IndexedRow[] => page.all(kind, type, type, range.from ?? "", range.to ?? "\uffff", after, PAGE) as IndexedRow[];
    for (const rows of pagesBySeq(fetch, PAGE)) for (const r of rows) yield checkedEntry(r);
  }

  /** The play on screen at `at` (started at or before, ended after), else the last event before it. */
  onScreenAt(at: string): Entry | null {
    const row = this.db
      .prepare(`SELECT ${ROW_COLUMNS} FROM ledger_entries WHERE kind = 'play' AND t <= ? ORDER BY t DESC, seq DESC LIMIT 1`)
      .get(at) as IndexedRow | undefined;
    const play = row ? checkedEntry(row) : null;
    if (play?.kind === "play" && play.play.endedAt > at) return play;
    const ev = this.db.prepare(`SELECT ${ROW_COLUMNS} FROM ledger_entries WHERE kind = 'event' AND at <= ? ORDER BY seq DESC LIMIT 1`).get(at) as
      | IndexedRow
      | undefined;
    return ev ? checkedEntry(ev) : null;
  }

  /** The most recent event of `type`, or null when there is none. */
  lastEvent(type: EventType): EventEntry | null {
    const row = this.db.prepare(`SELECT ${ROW_COLUMNS} FROM ledger_entries WHERE kind = 'event' AND type = ? ORDER BY seq DESC LIMIT 1`).get(type) as
      | IndexedRow
      | undefined;
    return row ? (checkedEntry(row) as EventEntry) : null;
  }

  latestCheckpoint(): Checkpoint | null {
    const row = this.db.prepare("SELECT body FROM ledger_checkpoints ORDER BY seq DESC LIMIT 1").get() as { body: string } | undefined;
    return row ? (JSON.parse(row.body) as Checkpoint) : null;
  }
}

/** The ledger with the device key: appends and checkpoints. */
export class Ledger extends LedgerReader {
  private readonly insert;
  /** What the key remembers signing, when the key lives in a file (always, outside tests and benchmarks). */
  private readonly keyGuard: KeyGuard | null;
  private readonly place: DatabasePlace;

  constructor(private readonly deps: LedgerDeps) {
    super(deps.db);
    this.place = new DatabasePlace(this.db.name);
    // Checked once here, never per append: an append chains onto the head without re-reading it.
    this.keyGuard = deps.keys.file ? new KeyGuard(deps.keys.file, deps, this.db.name) : null;
    this.keyGuard?.checkKey();
    const tail = this.db.prepare("SELECT seq, body, hash FROM ledger_entries ORDER BY seq DESC LIMIT 2").all() as StoredEntry[];
    checkHead(tail, deps);
    this.keyGuard?.checkGenesis(this.rowAt(1), tail[0]?.seq ?? 0);
    this.keyGuard?.checkHighWater(tail[0] ?? null, (seq) => this.rowAt(seq)?.hash);
    checkCheckpoints(this.db);
    this.insert = this.db.prepare(
      "INSERT INTO ledger_entries (seq, kind, at, t, type, customer, campaign, body, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
  }

  private rowAt(seq: number): StoredEntry | undefined {
    return this.db.prepare("SELECT seq, body, hash FROM ledger_entries WHERE seq = ?").get(seq) as StoredEntry | undefined;
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
    this.place.check();
    for (let attempt = 1; ; attempt++) {
      if (this.knownHead === undefined) this.knownHead = this.head();
      const { entry, body, hash } = this.build(input, this.knownHead);
      // The key's durable evidence that it is beginning a ledger precedes the genesis entry itself.
      if (entry.seq === 1) this.keyGuard?.beginning(hash);
      try {
        this.store(entry, body, hash);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === "SQLITE_CONSTRAINT_PRIMARYKEY" && attempt < 1000) {
          this.knownHead = undefined; // someone else appended: chain onto their entry instead
          if (entry.seq === 1) this.keyGuard?.adopt(this.rowAt(1));
          continue;
        }
        this.deps.log?.error({ err, kind: input.kind }, "ledger append failed");
        throw new LedgerError(`ledger append failed: ${failureReason(err, this.db.name)}`, diskFullReason(err, this.db.name) ? "disk-full" : "append-failed");
      }
      if (entry.seq === 1) this.keyGuard?.begun(hash);
      this.knownHead = { seq: entry.seq, hash };
      if (this.deps.markEveryAppend) this.markQuietly(this.knownHead);
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
    const c = indexColumns(entry);
    this.insert.run(entry.seq, c.kind, entry.at, c.t, c.type, c.customer, c.campaign, body, hash);
  }

  /** Shorthand for an event entry. */
  event(type: EventType, detail: Record<string, unknown> = {}): EventEntry {
    return this.append({ kind: "event", event: { ...detail, type } }) as EventEntry;
  }

  /**
   * A signed head checkpoint of the ledger as it stands, kept in the database (never replacing
   * one kept before: a second head at the same seq must name the same hash), and the key's
   * high-water mark recorded at it. On a full disk it is still signed and returned (it states
   * what is already recorded), only not kept.
   */
  checkpoint(): Checkpoint {
    this.place.check();
    const head = this.head();
    if (!head) throw new LedgerError("the ledger is empty: nothing to checkpoint", "empty");
    const unsigned = { screen: this.deps.screenId, seq: head.seq, hash: head.hash, at: this.deps.clock.now().toISOString() };
    const cp: Checkpoint = { ...unsigned, sig: signCanonical(unsigned, this.deps.keys.privateKey) };
    try {
      this.keep(cp);
      this.keyGuard?.markHighWater(head);
    } catch (err) {
      if (err instanceof LedgerError && err.code !== "disk-full") throw err;
      if (!(err instanceof LedgerError) && !diskFullReason(err, this.db.name)) throw new LedgerError(`cannot keep the checkpoint: ${failureReason(err, this.db.name)}`, "append-failed");
      this.deps.log?.warn({ seq: cp.seq }, "checkpoint signed but not kept: the disk is full");
    }
    return cp;
  }

  private keep(cp: Checkpoint): void {
    this.db.prepare("INSERT INTO ledger_checkpoints (seq, at, body) VALUES (?, ?, ?) ON CONFLICT (seq) DO NOTHING").run(cp.seq, cp.at, canonicalString(cp));
    const kept = this.db.prepare("SELECT json_extract(body, '$.hash') AS hash FROM ledger_checkpoints WHERE seq = ?").get(cp.seq) as { hash: string } | undefined;
    if (kept && kept.hash !== cp.hash) {
      throw new LedgerError(
        `checkpoint refused: a signed head at seq ${cp.seq} was already kept with hash ${kept.hash.slice(0, 16)}…, and the entry there now has hash ${cp.hash.slice(0, 16)}… (the ledger was rewritten)`,
        "checkpoint-mismatch",
      );
    }
  }

  /**
   * Records the key's high-water mark at the head this process last saw: a long-lived writer
   * calls it when it stops (the caller then closes the database), so a restore that loses the
   * entries since the last checkpoint is refused on the next open.
   */
  close(): void {
    const head = this.knownHead ?? this.head();
    if (head) this.markQuietly(head);
  }

  // The entry is committed whatever happens here: a mark that cannot be written only narrows the
  // protection, it must not make a committed append look failed (and be appended again).
  private markQuietly(head: Head): void {
    try {
      this.keyGuard?.markHighWater(head);
    } catch (err) {
      this.deps.log?.warn({ err, seq: head.seq }, "high-water mark not recorded");
    }
  }
}
