// The collector's own SQLite file: every screen's entries by (screen, seq), a summary per screen,
// and the problems met. Several collectors may share one file (a shared-subscription group on one
// host): each batch is stored in one IMMEDIATE transaction that reads what is stored and writes
// on it, so two collectors never both store, or both judge, the same entry.
import { migrate, openDatabase, pagesBySeq, type Db, type Migration } from "../store/index.js";
import { GENESIS_PREV } from "../proofs/types.js";
import type { CheckedEntry, Problem, ProblemKind } from "./verify-batch.js";

export const collectorMigrations: Migration[] = [
  {
    version: 1,
    name: "collected entries, screens and problems",
    sql: `
      CREATE TABLE entries (
        screen TEXT NOT NULL,
        seq    INTEGER NOT NULL,
        hash   TEXT NOT NULL,
        prev   TEXT NOT NULL,
        body   TEXT NOT NULL,          -- canonical JSON of the whole entry, sig included
        PRIMARY KEY (screen, seq)
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE screens (
        screen    TEXT PRIMARY KEY,
        entries   INTEGER NOT NULL,
        head_seq  INTEGER NOT NULL,
        head_hash TEXT NOT NULL,
        last_at   TEXT NOT NULL          -- when a batch last stored something
      ) STRICT;
      CREATE TABLE problems (
        screen TEXT NOT NULL,
        seq    INTEGER,                  -- null: about a batch as a whole
        to_seq INTEGER,                  -- a gap's last missing seq
        kind   TEXT NOT NULL CHECK (kind IN ('gap', 'bad-signature', 'broken-link', 'conflict', 'malformed', 'unregistered-screen', 'wrong-screen')),
        detail TEXT NOT NULL,
        at     TEXT NOT NULL
      ) STRICT;
      -- A problem met again (the agent re-sends what was not acked) is recorded once.
      CREATE UNIQUE INDEX problems_once ON problems (screen, ifnull(seq, -1), kind);
    `,
  },
];

export interface StoreOutcome {
  stored: number;
  duplicates: number;
  /** The last seq of the batch stored or already present, in order from its start; null when none. */
  through: number | null;
  /** What was wrong (the batch's own problem included), each time it is met. */
  problems: Problem[];
}

export interface ScreenSummary {
  screen: string;
  entries: number;
  headSeq: number;
  headHash: string;
  lastAt: string;
}

export interface Gap {
  fromSeq: number;
  toSeq: number;
}

export interface RecordedProblem extends Problem {
  at: string;
}

export interface ScreenReport extends ScreenSummary {
  gaps: Gap[];
  problems: RecordedProblem[];
}

const PAGE = 1000;
const MAX_DETAIL_CHARS = 300;
/** Problems about content no registered key vouched for. */
const UNVOUCHED = new Set<Problem["kind"]>(["bad-signature", "malformed", "unregistered-screen", "wrong-screen"]);

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

interface Stored {
  hash: string;
  prev: string;
}

export class CollectorStore {
  private readonly getEntry;
  private readonly insertEntry;
  private readonly getSummary;
  private readonly upsertSummary;
  private readonly insertProblem;
  private readonly gapsOver;
  private readonly deleteProblem;
  private readonly clearUnregistered;

  constructor(
    readonly db: Db,
    private readonly now: () => Date = () => new Date(),
  ) {
    migrate(db, "collector", collectorMigrations);
    this.getEntry = db.prepare("SELECT hash, prev FROM entries WHERE screen = ? AND seq = ?");
    this.insertEntry = db.prepare("INSERT INTO entries (screen, seq, hash, prev, body) VALUES (?, ?, ?, ?, ?)");
    this.getSummary = db.prepare("SELECT screen, entries, head_seq AS headSeq, head_hash AS headHash, last_at AS lastAt FROM screens WHERE screen = ?");
    this.upsertSummary = db.prepare(
      `INSERT INTO screens (screen, entries, head_seq, head_hash, last_at) VALUES (@screen, @added, @headSeq, @headHash, @at)
       ON CONFLICT (screen) DO UPDATE SET entries = entries + @added, last_at = @at,
         head_hash = CASE WHEN @headSeq > head_seq THEN @headHash ELSE head_hash END,
         head_seq = MAX(head_seq, @headSeq)`,
    );
    this.insertProblem = db.prepare("INSERT OR IGNORE INTO problems (screen, seq, to_seq, kind, detail, at) VALUES (?, ?, ?, ?, ?, ?)");
    this.gapsOver = db.prepare("SELECT rowid, seq, to_seq AS toSeq, at FROM problems WHERE screen = ? AND kind = 'gap' AND seq <= ? AND to_seq >= ?");
    this.deleteProblem = db.prepare("DELETE FROM problems WHERE rowid = ?");
    this.clearUnregistered = db.prepare("DELETE FROM problems WHERE screen = ? AND kind = 'unregistered-screen'");
  }

  /** Opens (creating) a collector database: WAL and a busy timeout, so collectors can share it. */
  static open(path: string, opts: { busyTimeoutMs?: number } = {}): CollectorStore {
    const db = openDatabase(path, { busyTimeoutMs: opts.busyTimeoutMs ?? 10_000 });
    try {
      return new CollectorStore(db);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  close(): void {
    this.db.close();
  }

  /**
   * Stores a checked batch's entries in order until the first that does not fit what is stored
   * (another entry at its seq, or a link to a stored neighbour that does not hold), in one
   * transaction. `batchProblem` (the stateless checks' verdict on the rest) is recorded with it.
   */
  storeBatch(screen: string, entries: CheckedEntry[], batchProblem: Problem | null = null): StoreOutcome {
    return this.db.transaction((): StoreOutcome => {
      // Only a batch checked against the screen's key gets here: it is registered now.
      this.clearUnregistered.run(screen);
      const outcome = this.storeLocked(screen, entries);
      if (batchProblem) outcome.problems.push(batchProblem);
      for (const p of outcome.problems) this.record(p);
      return outcome;
    }).immediate();
  }

  /** Records a problem (once: one met again is not recorded twice). */
  recordProblem(problem: Problem): void {
    this.db.transaction(() => this.record(problem)).immediate();
  }

  /**
   * Kept once per (screen, seq, kind), and bounded: the detail is clipped, and a problem with
   * content no key vouched for (a forged or malformed batch, a stranger's entries) is kept once per
   * (screen, kind) whatever seq it claims, since the sender chooses the seq. Its every occurrence
   * is still in the collector's output.
   */
  private record(p: Problem): void {
    const seq = UNVOUCHED.has(p.kind) ? null : p.seq;
    this.insertProblem.run(clip(p.screen, 128), seq, p.toSeq ?? null, p.kind, clip(p.detail, MAX_DETAIL_CHARS), this.now().toISOString());
  }

  private storeLocked(screen: string, entries: CheckedEntry[]): StoreOutcome {
    const outcome: StoreOutcome = { stored: 0, duplicates: 0, through: null, problems: [] };
    if (entries.length === 0) return outcome;
    const before = this.getSummary.get(screen) as ScreenSummary | undefined;
    let head: CheckedEntry | null = null;
    for (const e of entries) {
      const problem = this.fitProblem(screen, e);
      if (problem === "duplicate") outcome.duplicates++;
      else if (problem) {
        outcome.problems.push(problem);
        break;
      } else {
        this.insertEntry.run(screen, e.seq, e.hash, e.prev, e.body);
        outcome.stored++;
        head = e;
      }
      outcome.through = e.seq;
    }
    if (outcome.through === null) return outcome;
    if (head) {
      this.upsertSummary.run({ screen, added: outcome.stored, headSeq: head.seq, headHash: head.hash, at: this.now().toISOString() });
      this.fillGaps(screen, entries[0].seq, outcome.through);
    }
    const first = entries[0].seq;
    const headSeq = before?.headSeq ?? 0;
    if (outcome.stored > 0 && first > headSeq + 1) {
      outcome.problems.push({ screen, seq: headSeq + 1, toSeq: first - 1, kind: "gap", detail: `seq ${headSeq + 1}..${first - 1} missing (the batch began at seq ${first})` });
    }
    return outcome;
  }

  /** Why `e` cannot be stored after what is stored, "duplicate" when it is stored already, or null. */
  private fitProblem(screen: string, e: CheckedEntry): Problem | "duplicate" | null {
    const same = this.getEntry.get(screen, e.seq) as Stored | undefined;
    if (same) {
      if (same.hash === e.hash) return "duplicate";
      return { screen, seq: e.seq, kind: "conflict", detail: `seq ${e.seq} is stored with hash ${same.hash.slice(0, 16)}…, this one has ${e.hash.slice(0, 16)}…` };
    }
    if (e.seq === 1 && e.prev !== GENESIS_PREV) return { screen, seq: 1, kind: "broken-link", detail: "seq 1 does not link to 64 zeros" };
    const below = e.seq > 1 ? (this.getEntry.get(screen, e.seq - 1) as Stored | undefined) : undefined;
    if (below && below.hash !== e.prev) return { screen, seq: e.seq, kind: "broken-link", detail: `seq ${e.seq}'s prev is not the hash of the stored seq ${e.seq - 1}` };
    const above = this.getEntry.get(screen, e.seq + 1) as Stored | undefined;
    if (above && above.prev !== e.hash) return { screen, seq: e.seq, kind: "broken-link", detail: `the stored seq ${e.seq + 1} does not link to seq ${e.seq}` };
    return null;
  }

  /** Gaps that [from, through] now fills are cleared; what is still missing of them stays. */
  private fillGaps(screen: string, from: number, through: number): void {
    const gaps = this.gapsOver.all(screen, through, from) as { rowid: number; seq: number; toSeq: number; at: string }[];
    for (const g of gaps) {
      this.deleteProblem.run(g.rowid);
      for (const [a, b] of [
        [g.seq, Math.min(g.toSeq, from - 1)],
        [Math.max(g.seq, through + 1), g.toSeq],
      ]) {
        if (a <= b) this.insertProblem.run(screen, a, b, "gap", `seq ${a}..${b} missing`, g.at);
      }
    }
  }

  /** Every screen's summary, by screen id. */
  screens(): ScreenSummary[] {
    return this.db.prepare("SELECT screen, entries, head_seq AS headSeq, head_hash AS headHash, last_at AS lastAt FROM screens ORDER BY screen").all() as ScreenSummary[];
  }

  /** One screen's summary, gaps (from the stored entries themselves) and recorded problems. */
  report(screen: string): ScreenReport | null {
    const summary = this.getSummary.get(screen) as ScreenSummary | undefined;
    const problems = this.problems(screen);
    if (!summary && problems.length === 0) return null;
    return { ...(summary ?? { screen, entries: 0, headSeq: 0, headHash: GENESIS_PREV, lastAt: "" }), gaps: this.gaps(screen), problems };
  }

  /** Missing ranges below the stored head. */
  gaps(screen: string): Gap[] {
    const rows = this.db
      .prepare(
        `SELECT prev_seq + 1 AS fromSeq, seq - 1 AS toSeq FROM (
           SELECT seq, ifnull(LAG(seq) OVER (ORDER BY seq), 0) AS prev_seq FROM entries WHERE screen = ?
         ) WHERE seq > prev_seq + 1 ORDER BY seq`,
      )
      .all(screen) as Gap[];
    return rows;
  }

  problems(screen?: string): RecordedProblem[] {
    const rows = this.db
      .prepare("SELECT screen, seq, to_seq AS toSeq, kind, detail, at FROM problems WHERE ? IS NULL OR screen = ? ORDER BY screen, ifnull(seq, -1), kind")
      .all(screen ?? null, screen ?? null) as (RecordedProblem & { toSeq: number | null; kind: ProblemKind })[];
    return rows.map(({ toSeq, ...p }) => (toSeq === null ? p : { ...p, toSeq }));
  }

  /** The stored entries of a screen, ascending (canonical bodies), read a page at a time. */
  *bodies(screen: string, fromSeq = 1): Generator<{ seq: number; body: string; hash: string }> {
    const page = this.db.prepare("SELECT seq, body, hash FROM entries WHERE screen = ? AND seq > ? ORDER BY seq LIMIT ?");
    const fetch = (after: number): { seq: number; body: string; hash: string }[] => page.all(screen, after, PAGE) as { seq: number; body: string; hash: string }[];
    for (const rows of pagesBySeq(fetch, PAGE, fromSeq - 1)) yield* rows;
  }
}
