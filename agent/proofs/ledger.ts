// The device's append-only ledger in SQLite. An append builds, signs, hashes and commits one
// entry in one autocommit insert keyed by seq, so appenders in this process and in others (a
// technician's `ledagent note` beside the daemon) serialise on the key, and the entry is durable
// (WAL, synchronous=FULL) when append returns.
import type { Logger } from "pino";
import { canonicalString, signCanonical, type KeyPair } from "../crypto/index.js";
import { migrate, pagesBySeq, type Db } from "../store/index.js";
import type { ClockSource } from "./clock.js";
import { sha256Hex, signEntry } from "./entry.js";
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

export class LedgerError extends Error {
  constructor(message: string) {
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

  constructor(private readonly deps: LedgerDeps) {
    super(deps.db);
    // One ledger, one screen: entries under a new id would fail every verification after them.
    const last = this.db.prepare("SELECT body FROM ledger_entries ORDER BY seq DESC LIMIT 1").get() as { body: string } | undefined;
    const screen = last ? (JSON.parse(last.body) as Entry).screen : deps.screenId;
    if (screen !== deps.screenId) {
      throw new LedgerError(
        `this ledger belongs to screen ${JSON.stringify(screen)} but the config says ${JSON.stringify(deps.screenId)}; ` +
          "a renamed screen needs a new data directory (keep the old ledger for its proofs)",
      );
    }
    this.insert = this.db.prepare(
      "INSERT INTO ledger_entries (seq, kind, at, t, type, customer, campaign, body, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
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
    if (problem) throw new LedgerError(`ledger append refused: ${problem}`);
    for (let attempt = 1; ; attempt++) {
      if (this.knownHead === undefined) this.knownHead = this.head();
      const head = this.knownHead;
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
        throw new LedgerError(`ledger append refused: the entry would be ${body.length} characters, more than ${MAX_ENTRY_CHARS}; shorten its detail`);
      }
      const play = entry.kind === "play" ? entry.play : undefined;
      const event = entry.kind === "event" ? entry.event : undefined;
      const hash = sha256Hex(body);
      try {
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
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === "SQLITE_CONSTRAINT_PRIMARYKEY" && attempt < 1000) {
          this.knownHead = undefined; // someone else appended: chain onto their entry instead
          continue;
        }
        const why = code === "SQLITE_FULL" ? "the disk is full" : (err as Error).message;
        this.deps.log?.error({ err, kind: input.kind }, "ledger append failed");
        throw new LedgerError(`ledger append failed: ${why}`);
      }
      this.knownHead = { seq: entry.seq, hash };
      this.deps.log?.debug({ seq: entry.seq, kind: entry.kind }, "ledger entry appended");
      return entry;
    }
  }

  /** Shorthand for an event entry. */
  event(type: EventType, detail: Record<string, unknown> = {}): EventEntry {
    return this.append({ kind: "event", event: { ...detail, type } }) as EventEntry;
  }

  /** A signed head checkpoint of the ledger as it stands, kept in the database. */
  checkpoint(): Checkpoint {
    const head = this.head();
    if (!head) throw new LedgerError("the ledger is empty: nothing to checkpoint");
    const unsigned = { screen: this.deps.screenId, seq: head.seq, hash: head.hash, at: this.deps.clock.now().toISOString() };
    const cp: Checkpoint = { ...unsigned, sig: signCanonical(unsigned, this.deps.keys.privateKey) };
    this.db.prepare("INSERT OR REPLACE INTO ledger_checkpoints (seq, at, body) VALUES (?, ?, ?)").run(cp.seq, cp.at, canonicalString(cp));
    return cp;
  }
}

function stringOrNull(x: unknown): string | null {
  return typeof x === "string" ? x : null;
}
