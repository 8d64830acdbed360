// What of the ledger is still to be synced upstream, and the batch on its way there.
//
// The ledger is append-only and immutable, so the outbox holds no copies of entries: an outbox of
// copies would double every write on the playout path. It is a durable cursor (every entry up to
// ackedThrough was acknowledged by the collector) plus the one batch in flight, kept in the
// ledger's own database file under its own migrations part. A batch is rebuilt from the ledger's
// stored bodies whenever it is needed, so a restart after kill -9 re-sends the batch that was in
// flight with its id, and nothing is lost or skipped: the cursor only moves on a collector's ack.
import { randomUUID } from "node:crypto";
import { migrate, type Db, type Migration } from "../store/index.js";
import { ledgerMigrations } from "./migrations.js";

export interface OutboxLimits {
  /** Most entries in one batch. */
  maxEntries: number;
  /** Most UTF-8 bytes of one batch's payload (a single larger entry still goes, alone). */
  maxBytes: number;
}

export const DEFAULT_OUTBOX_LIMITS: OutboxLimits = { maxEntries: 500, maxBytes: 256 * 1024 };

export interface OutboxBatch {
  id: string;
  fromSeq: number;
  throughSeq: number;
  count: number;
  /** `{"batch":"<id>","entries":[…]}` with the entries' stored canonical bodies, byte for byte. */
  payload: string;
}

/** The batch in flight, as recorded: its payload is rebuilt from the ledger when asked for. */
export interface InFlightBatch {
  id: string;
  fromSeq: number;
  throughSeq: number;
}

export type AckRefusal = "not-an-integer" | "beyond-sent" | "stale";

export type AckOutcome =
  | {
      accepted: true;
      ackedThrough: number;
      /** The batch in flight was settled by this ack (whole or in part): the next one may go. */
      cleared: boolean;
    }
  | { accepted: false; reason: AckRefusal; message: string };

export class OutboxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OutboxError";
  }
}

export const outboxMigrations: Migration[] = [
  {
    version: 1,
    name: "outbox cursor and batch in flight",
    sql: `
      CREATE TABLE proof_outbox (
        id            INTEGER PRIMARY KEY CHECK (id = 1),
        acked_through INTEGER NOT NULL,   -- the collector stored every entry up to here
        highest_sent  INTEGER NOT NULL,   -- the highest seq ever put in a batch
        batch_id      TEXT,               -- the batch in flight, when there is one
        batch_from    INTEGER,
        batch_through INTEGER,
        CHECK ((batch_id IS NULL) = (batch_from IS NULL) AND (batch_id IS NULL) = (batch_through IS NULL))
      ) STRICT;
      INSERT INTO proof_outbox (id, acked_through, highest_sent) VALUES (1, 0, 0);
    `,
  },
];

interface StateRow {
  acked_through: number;
  highest_sent: number;
  batch_id: string | null;
  batch_from: number | null;
  batch_through: number | null;
}

interface BodyRow {
  seq: number;
  body: string;
}

/** The payload's text around the entries: its byte length is the batch's fixed cost. */
function payloadParts(id: string): { head: string; tail: string } {
  return { head: `{"batch":${JSON.stringify(id)},"entries":[`, tail: "]}" };
}

export class ProofOutbox {
  private readonly readState;
  private readonly readHead;
  private readonly readAfter;
  private readonly readRange;
  private readonly recordBatch;
  private readonly recordAck;

  constructor(private readonly db: Db) {
    // The outbox reads the ledger's table: make sure it exists, then bring its own part up.
    migrate(db, "ledger", ledgerMigrations);
    migrate(db, "outbox", outboxMigrations);
    this.readState = db.prepare("SELECT acked_through, highest_sent, batch_id, batch_from, batch_through FROM proof_outbox WHERE id = 1");
    this.readHead = db.prepare("SELECT seq FROM ledger_entries ORDER BY seq DESC LIMIT 1").pluck();
    this.readAfter = db.prepare("SELECT seq, body FROM ledger_entries WHERE seq > ? ORDER BY seq LIMIT ?");
    this.readRange = db.prepare("SELECT seq, body FROM ledger_entries WHERE seq >= ? AND seq <= ? ORDER BY seq");
    this.recordBatch = db.prepare("UPDATE proof_outbox SET batch_id = ?, batch_from = ?, batch_through = ?, highest_sent = MAX(highest_sent, ?) WHERE id = 1");
    this.recordAck = db.prepare("UPDATE proof_outbox SET acked_through = ?, batch_id = ?, batch_from = ?, batch_through = ? WHERE id = 1");
  }

  private state(): StateRow {
    return this.readState.get() as StateRow;
  }

  /** Every entry up to this seq was stored by the collector; 0 when nothing was acked. */
  ackedThrough(): number {
    return this.state().acked_through;
  }

  /** The ledger's head seq (0 when empty). */
  headSeq(): number {
    return (this.readHead.get() as number | undefined) ?? 0;
  }

  /** Entries not yet acked by the collector. */
  unsynced(): number {
    return Math.max(0, this.headSeq() - this.ackedThrough());
  }

  /** The batch in flight, or null. */
  inFlight(): InFlightBatch | null {
    const s = this.state();
    return s.batch_id === null ? null : { id: s.batch_id, fromSeq: s.batch_from as number, throughSeq: s.batch_through as number };
  }

  /**
   * The batch to send: the one in flight again (same id, same entries) while there is one, else
   * a new one of the entries after ackedThrough, recorded as in flight before it is returned.
   * Null when every entry was acked.
   */
  nextBatch(limits: OutboxLimits = DEFAULT_OUTBOX_LIMITS): OutboxBatch | null {
    return this.db.transaction(() => this.nextBatchLocked(limits)).immediate();
  }

  private nextBatchLocked(limits: OutboxLimits): OutboxBatch | null {
    const s = this.state();
    if (s.batch_id !== null) return this.rebuild({ id: s.batch_id, fromSeq: s.batch_from as number, throughSeq: s.batch_through as number });
    const id = randomUUID();
    const rows = this.pick(s.acked_through, id, limits);
    if (rows.length === 0) return null;
    const fromSeq = rows[0].seq;
    const throughSeq = rows[rows.length - 1].seq;
    // Recorded before anyone sees it: a crash after this re-sends this very batch.
    this.recordBatch.run(id, fromSeq, throughSeq, throughSeq);
    return { id, fromSeq, throughSeq, count: rows.length, payload: this.payload(id, rows) };
  }

  /** The rows after `after` that fit the limits; the first always goes, however large. */
  private pick(after: number, id: string, limits: OutboxLimits): BodyRow[] {
    const maxEntries = Math.max(1, Math.floor(limits.maxEntries));
    const rows = this.readAfter.all(after, maxEntries) as BodyRow[];
    const { head, tail } = payloadParts(id);
    let bytes = Buffer.byteLength(head) + Buffer.byteLength(tail);
    let take = 0;
    for (const row of rows) {
      if (row.seq !== after + take + 1) {
        throw new OutboxError(`the ledger has no entry at seq ${after + take + 1} (seq ${row.seq} follows seq ${after + take}); the database was altered or damaged`);
      }
      const added = Buffer.byteLength(row.body) + (take > 0 ? 1 : 0);
      if (take > 0 && bytes + added > limits.maxBytes) break;
      bytes += added;
      take++;
    }
    return rows.slice(0, take);
  }

  private rebuild(batch: InFlightBatch): OutboxBatch {
    const rows = this.readRange.all(batch.fromSeq, batch.throughSeq) as BodyRow[];
    const expected = batch.throughSeq - batch.fromSeq + 1;
    if (rows.length !== expected) {
      throw new OutboxError(
        `the batch in flight (${batch.id}, seq ${batch.fromSeq}..${batch.throughSeq}) cannot be rebuilt: the ledger holds ${rows.length} of its ${expected} entries; the database was altered or damaged`,
      );
    }
    return { ...batch, count: rows.length, payload: this.payload(batch.id, rows) };
  }

  private payload(id: string, rows: BodyRow[]): string {
    const { head, tail } = payloadParts(id);
    // The stored bodies are the signed bytes: joined as they are, never parsed and written again.
    return head + rows.map((r) => r.body).join(",") + tail;
  }

  /**
   * The collector's ack: it stored every entry up to `through`. Refused (the cursor unmoved) when
   * `through` is not an integer, is beyond anything ever sent (a forged or confused ack must not
   * drop unsent entries), or is behind the cursor (stale, harmless). Otherwise the cursor moves
   * to `through`, and the batch in flight is settled when the ack names it and reaches into it,
   * or when `through` covers it whole; the next batch then starts at through + 1.
   */
  ack(batch: string, through: number): AckOutcome {
    return this.db.transaction((): AckOutcome => {
      const s = this.state();
      if (!Number.isSafeInteger(through) || through < 0) {
        return { accepted: false, reason: "not-an-integer", message: `through ${String(through)} is not a seq` };
      }
      if (through > s.highest_sent) {
        return { accepted: false, reason: "beyond-sent", message: `through ${through} is beyond seq ${s.highest_sent}, the highest ever sent` };
      }
      if (through < s.acked_through) {
        return { accepted: false, reason: "stale", message: `through ${through} is behind seq ${s.acked_through}, already acked` };
      }
      const named = s.batch_id !== null && s.batch_id === batch && through >= (s.batch_from as number);
      const covered = s.batch_id !== null && through >= (s.batch_through as number);
      const cleared = named || covered;
      if (cleared) this.recordAck.run(through, null, null, null);
      else this.recordAck.run(through, s.batch_id, s.batch_from, s.batch_through);
      return { accepted: true, ackedThrough: through, cleared };
    }).immediate();
  }
}
