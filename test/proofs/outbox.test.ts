// The proof outbox on a real ledger: batches in seq order within both limits, built from the
// stored bodies byte for byte; one batch in flight, returned again (same id) until acked, across
// a reopen and across kill -9; acks that move the cursor, and the ones refused (and why).
import { spawn } from "node:child_process";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Ledger, LedgerReader, ProofOutbox, type OutboxBatch } from "../../agent/proofs/index.js";
import { openDatabase, type Db } from "../../agent/store/index.js";
import { propertyParams } from "../helpers/property.js";
import { tempDir } from "../helpers/tmp.js";
import { makeLedger, play, type TestLedger } from "./fixtures.js";

function appendPlays(t: Pick<TestLedger, "db" | "ledger">, n: number): void {
  t.db.transaction(() => {
    for (let i = 0; i < n; i++) t.ledger.append({ kind: "play", play: play() });
  })();
}

function bodies(db: Db, from: number, through: number): string[] {
  return [...new LedgerReader(db).rows(from, through)].map((r) => r.body);
}

function expectPayload(db: Db, b: OutboxBatch): void {
  expect(b.payload).toBe(`{"batch":"${b.id}","entries":[${bodies(db, b.fromSeq, b.throughSeq).join(",")}]}`);
  const parsed = JSON.parse(b.payload) as { batch: string; entries: { seq: number }[] };
  expect(parsed.batch).toBe(b.id);
  expect(parsed.entries.map((e) => e.seq)).toEqual(Array.from({ length: b.count }, (_, i) => b.fromSeq + i));
}

describe("ProofOutbox", () => {
  let tmp: ReturnType<typeof tempDir>;
  let t: TestLedger;
  let outbox: ProofOutbox;

  beforeEach(() => {
    tmp = tempDir();
    t = makeLedger(tmp.dir);
    outbox = new ProofOutbox(t.db);
  });
  afterEach(() => {
    if (t.db.open) t.db.close();
    tmp.cleanup();
  });

  it("is empty on an empty ledger: nothing acked, nothing unsynced, no batch", () => {
    expect(outbox.ackedThrough()).toBe(0);
    expect(outbox.unsynced()).toBe(0);
    expect(outbox.nextBatch()).toBeNull();
    expect(outbox.inFlight()).toBeNull();
  });

  it("sends the entries in seq order in batches of at most maxEntries, each payload the stored bodies joined", () => {
    appendPlays(t, 23);
    expect(outbox.unsynced()).toBe(23);
    const seen: number[] = [];
    for (let b = outbox.nextBatch({ maxEntries: 10, maxBytes: 1 << 20 }); b; b = outbox.nextBatch({ maxEntries: 10, maxBytes: 1 << 20 })) {
      expect(b.count).toBeLessThanOrEqual(10);
      expect(b.fromSeq).toBe(outbox.ackedThrough() + 1);
      expectPayload(t.db, b);
      for (let s = b.fromSeq; s <= b.throughSeq; s++) seen.push(s);
      expect(outbox.ack(b.id, b.throughSeq)).toEqual({ accepted: true, ackedThrough: b.throughSeq, cleared: true });
    }
    expect(seen).toEqual(Array.from({ length: 23 }, (_, i) => i + 1));
    expect(outbox.unsynced()).toBe(0);
  });

  it("keeps each payload within maxBytes (UTF-8 bytes), and a batch takes as many entries as fit", () => {
    t.ledger.event("technician.note", { text: "面板清洁".repeat(40) }); // multi-byte characters count as bytes
    appendPlays(t, 40);
    const maxBytes = 4000;
    const b = outbox.nextBatch({ maxEntries: 500, maxBytes });
    expect(b).not.toBeNull();
    if (!b) return;
    expect(Buffer.byteLength(b.payload)).toBeLessThanOrEqual(maxBytes);
    const nextBody = bodies(t.db, b.throughSeq + 1, b.throughSeq + 1)[0];
    expect(Buffer.byteLength(b.payload) + 1 + Buffer.byteLength(nextBody)).toBeGreaterThan(maxBytes);
    expectPayload(t.db, b);
  });

  it("sends an entry larger than maxBytes alone", () => {
    t.ledger.event("technician.note", { text: "x".repeat(3000) });
    appendPlays(t, 2);
    const limits = { maxEntries: 500, maxBytes: 1000 };
    const b = outbox.nextBatch(limits);
    expect(b).toMatchObject({ fromSeq: 1, throughSeq: 1, count: 1 });
    expect(Buffer.byteLength(b?.payload ?? "")).toBeGreaterThan(1000);
    outbox.ack(b?.id ?? "", 1);
    expect(outbox.nextBatch(limits)).toMatchObject({ fromSeq: 2 });
  });

  it("returns the batch in flight again, same id and entries, until it is acked, also after a reopen", () => {
    appendPlays(t, 8);
    const first = outbox.nextBatch({ maxEntries: 5, maxBytes: 1 << 20 });
    appendPlays(t, 3); // entries appended meanwhile do not join the batch in flight
    const again = outbox.nextBatch({ maxEntries: 50, maxBytes: 1 << 20 });
    expect(again).toEqual(first);
    t.db.close();
    const db = openDatabase(join(tmp.dir, "ledagent.db"));
    try {
      const reopened = new ProofOutbox(db);
      expect(reopened.inFlight()).toEqual({ id: first?.id, fromSeq: 1, throughSeq: 5 });
      expect(reopened.nextBatch()).toEqual(first);
      expect(reopened.ack(first?.id ?? "", 5)).toMatchObject({ accepted: true, cleared: true });
      expect(reopened.nextBatch()).toMatchObject({ fromSeq: 6, throughSeq: 11, count: 6 });
    } finally {
      db.close();
    }
  });

  it("an ack inside the batch in flight moves the cursor there and the next batch starts after it", () => {
    appendPlays(t, 10);
    const b = outbox.nextBatch({ maxEntries: 10, maxBytes: 1 << 20 });
    expect(outbox.ack(b?.id ?? "", 4)).toEqual({ accepted: true, ackedThrough: 4, cleared: true });
    expect(outbox.inFlight()).toBeNull();
    const next = outbox.nextBatch({ maxEntries: 10, maxBytes: 1 << 20 });
    expect(next).toMatchObject({ fromSeq: 5, throughSeq: 10 });
    expect(next?.id).not.toBe(b?.id);
  });

  it("refuses an ack whose through is not an integer, beyond anything sent, or stale, leaving the cursor and the batch alone", () => {
    appendPlays(t, 10);
    const b = outbox.nextBatch({ maxEntries: 6, maxBytes: 1 << 20 });
    const id = b?.id ?? "";
    for (const bad of [1.5, Number.NaN, Number.POSITIVE_INFINITY, -1]) {
      expect(outbox.ack(id, bad)).toMatchObject({ accepted: false, reason: "not-an-integer" });
    }
    // Seq 7..10 are in the ledger but were never sent: a forged ack must not drop them.
    expect(outbox.ack(id, 7)).toMatchObject({ accepted: false, reason: "beyond-sent" });
    expect(outbox.ack("someone-else", 10)).toMatchObject({ accepted: false, reason: "beyond-sent" });
    expect(outbox.ackedThrough()).toBe(0);
    expect(outbox.inFlight()).toMatchObject({ id, fromSeq: 1, throughSeq: 6 });
    expect(outbox.ack(id, 6)).toMatchObject({ accepted: true, cleared: true });
    expect(outbox.ack(id, 3)).toMatchObject({ accepted: false, reason: "stale" });
    expect(outbox.ackedThrough()).toBe(6);
    // A duplicate delivery of the same ack is harmless: accepted, nothing moves.
    expect(outbox.ack(id, 6)).toEqual({ accepted: true, ackedThrough: 6, cleared: false });
  });

  it("an ack naming an older batch advances the cursor; the batch in flight stays until it is covered or acked", () => {
    appendPlays(t, 12);
    const a = outbox.nextBatch({ maxEntries: 6, maxBytes: 1 << 20 });
    outbox.ack(a?.id ?? "", 3); // partial: the collector stored 1..3
    const b = outbox.nextBatch({ maxEntries: 6, maxBytes: 1 << 20 }); // 4..9
    expect(b).toMatchObject({ fromSeq: 4, throughSeq: 9 });
    // A late ack of the older batch (its re-send reached the collector after all) says 1..6 are stored.
    expect(outbox.ack(a?.id ?? "", 6)).toEqual({ accepted: true, ackedThrough: 6, cleared: false });
    expect(outbox.inFlight()).toMatchObject({ id: b?.id, fromSeq: 4, throughSeq: 9 });
    expect(outbox.nextBatch()).toEqual(b);
    expect(outbox.unsynced()).toBe(6);
    expect(outbox.ack(b?.id ?? "", 9)).toMatchObject({ accepted: true, cleared: true });
    expect(outbox.nextBatch()).toMatchObject({ fromSeq: 10, throughSeq: 12 });
  });

  it("refuses to rebuild a batch in flight whose entries the ledger no longer holds", () => {
    appendPlays(t, 4);
    outbox.nextBatch();
    t.db.prepare("DELETE FROM ledger_entries WHERE seq = 3").run();
    expect(() => outbox.nextBatch()).toThrow(/cannot be rebuilt: the ledger holds 3 of its 4 entries/);
  });
});

// A model of the outbox: what the cursor must be after any sequence of appends, batches, acks
// (good, partial, forged, stale, of older batches) and reopens.
type Op =
  | { op: "append"; n: number }
  | { op: "batch"; maxEntries: number }
  | { op: "ack"; pick: "inflight" | "older"; offset: number }
  | { op: "reopen" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant("append" as const), n: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ op: fc.constant("batch" as const), maxEntries: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ op: fc.constant("ack" as const), pick: fc.constantFrom("inflight" as const, "older" as const), offset: fc.integer({ min: -3, max: 3 }) }),
  fc.constant({ op: "reopen" as const }),
);

describe("ProofOutbox property", () => {
  it("property: the cursor moves only on an ack it should accept, and every batch starts right after it", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 30 }), (ops) => {
        const tmp = tempDir();
        const t = makeLedger(tmp.dir);
        t.db.pragma("synchronous = OFF"); // the model is about logic, not durability: fast runs
        let db = t.db;
        let ledger = t.ledger;
        let outbox = new ProofOutbox(db);
        const model = { acked: 0, highestSent: 0, head: 0, inFlight: null as { id: string; from: number; through: number } | null, ids: [] as string[] };
        try {
          for (const o of ops) {
            if (o.op === "append") {
              appendPlays({ db, ledger }, o.n);
              model.head += o.n;
            } else if (o.op === "batch") {
              const b = outbox.nextBatch({ maxEntries: o.maxEntries, maxBytes: 1 << 20 });
              if (model.inFlight) expect(b && { id: b.id, from: b.fromSeq, through: b.throughSeq }).toEqual(model.inFlight);
              else if (model.head === model.acked) expect(b).toBeNull();
              else {
                expect(b?.fromSeq).toBe(model.acked + 1);
                expect(b?.count).toBe(Math.min(o.maxEntries, model.head - model.acked));
                model.inFlight = { id: b?.id ?? "", from: b?.fromSeq ?? 0, through: b?.throughSeq ?? 0 };
                model.highestSent = Math.max(model.highestSent, model.inFlight.through);
                model.ids.push(model.inFlight.id);
              }
            } else if (o.op === "ack") {
              const id = o.pick === "inflight" ? (model.inFlight?.id ?? "none") : (model.ids[0] ?? "none");
              const through = (model.inFlight?.through ?? model.acked) + o.offset;
              const r = outbox.ack(id, through);
              const want = through < 0 ? "not-an-integer" : through > model.highestSent ? "beyond-sent" : through < model.acked ? "stale" : null;
              if (want) expect(r).toMatchObject({ accepted: false, reason: want });
              else {
                const f = model.inFlight;
                const cleared = f !== null && ((id === f.id && through >= f.from) || through >= f.through);
                expect(r).toEqual({ accepted: true, ackedThrough: through, cleared });
                model.acked = through;
                if (cleared) model.inFlight = null;
              }
            } else {
              db.close();
              db = openDatabase(join(tmp.dir, "ledagent.db"));
              db.pragma("synchronous = OFF");
              ledger = new Ledger({ db, screenId: "sz-nanshan-001", keys: { privateKey: t.privateKey, publicKey: t.publicKey }, clock: t.clock });
              outbox = new ProofOutbox(db);
            }
            expect(outbox.ackedThrough()).toBe(model.acked);
            expect(outbox.unsynced()).toBe(model.head - model.acked);
          }
        } finally {
          db.close();
          tmp.cleanup();
        }
      }),
      propertyParams("proofs: outbox against its model", 25),
    );
  });
});

// kill -9 at random instants of a worker that takes batches and acks them: after each kill the
// outbox neither lost nor skipped an entry, and draining the rest covers every seq exactly once.
const WORKER = `
import { openDatabase } from "./dist/agent/store/index.js";
import { ProofOutbox } from "./dist/agent/proofs/index.js";
import { writeSync } from "node:fs";
const db = openDatabase(process.argv[1]);
const outbox = new ProofOutbox(db);
writeSync(1, "ready\\n");
for (let i = 0; ; i++) {
  const b = outbox.nextBatch({ maxEntries: 1 + (i % 7), maxBytes: 1 << 20 });
  if (!b) break;
  writeSync(1, "B " + b.id + " " + b.fromSeq + " " + b.throughSeq + "\\n");
  const through = i % 3 === 0 ? b.fromSeq + Math.floor((b.throughSeq - b.fromSeq) / 2) : b.throughSeq;
  outbox.ack(b.id, through);
  writeSync(1, "A " + b.fromSeq + " " + through + "\\n");
}
db.close();
`;

function runWorker(dbPath: string, killAfterMs: number): Promise<{ acks: [number, number][]; batches: { id: string; from: number; through: number }[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", WORKER, dbPath], { cwd: join(import.meta.dirname, "../.."), stdio: ["ignore", "pipe", "pipe"] });
    const acks: [number, number][] = [];
    const batches: { id: string; from: number; through: number }[] = [];
    let buffered = "";
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.stdout.on("data", (c: Buffer) => {
      buffered += c.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        const [kind, a, b, c2] = line.split(" ");
        if (kind === "ready") setTimeout(() => child.kill("SIGKILL"), killAfterMs);
        else if (kind === "B") batches.push({ id: a, from: Number(b), through: Number(c2) });
        else if (kind === "A") acks.push([Number(a), Number(b)]);
      }
    });
    child.on("error", reject);
    child.on("close", (code, signal) => (code !== 0 && signal === null ? reject(new Error(`worker failed (${code}): ${stderr}`)) : resolve({ acks, batches })));
  });
}

describe("ProofOutbox after kill -9", () => {
  it("loses and skips nothing, and re-sends the batch in flight with its id", async () => {
    const tmp = tempDir();
    const t = makeLedger(tmp.dir);
    appendPlays(t, 1500);
    t.db.close();
    const dbPath = join(tmp.dir, "ledagent.db");
    let before = 0;
    try {
      for (let round = 0; round < 6; round++) {
        const run = await runWorker(dbPath, 40 + round * 37);
        const db = openDatabase(dbPath);
        try {
          const outbox = new ProofOutbox(db);
          const acked = outbox.ackedThrough();
          // Nothing acked is forgotten, and nothing is acked that no printed batch held (an ack
          // comes only after its batch was printed).
          expect(acked).toBeGreaterThanOrEqual(Math.max(before, run.acks.at(-1)?.[1] ?? 0));
          const lastBatch = run.batches.at(-1);
          expect(acked).toBeLessThanOrEqual(lastBatch?.through ?? before);
          const f = outbox.inFlight();
          if (f) {
            expect(f.fromSeq).toBe(acked + 1);
            // A batch recorded and printed before the kill comes back with the same id.
            if (lastBatch && lastBatch.from === f.fromSeq) expect(f.id).toBe(lastBatch.id);
          }
          before = acked;
        } finally {
          db.close();
        }
      }
      expect(before).toBeGreaterThan(0); // the kills fell while the worker was at work
      const db = openDatabase(dbPath);
      try {
        const outbox = new ProofOutbox(db);
        for (let b = outbox.nextBatch(); b; b = outbox.nextBatch()) {
          expect(b.fromSeq).toBe(outbox.ackedThrough() + 1);
          outbox.ack(b.id, b.throughSeq);
        }
        expect(outbox.ackedThrough()).toBe(1500);
      } finally {
        db.close();
      }
    } finally {
      tmp.cleanup();
    }
  });
});
