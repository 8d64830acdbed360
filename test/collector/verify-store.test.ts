// The collector's verification and storage, without a broker: a real device ledger's batches go
// through the BatchProcessor into a real collector database, and each kind of bad batch is met.
import { generateKeyPairSync } from "node:crypto";
import { chmodSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BatchProcessor, CollectorStore, ScreenKeys, VerifyPool, type BatchReport } from "../../agent/collector/index.js";
import { signEntry } from "../../agent/proofs/entry.js";
import { Ledger, type Entry } from "../../agent/proofs/index.js";
import { openDatabase } from "../../agent/store/index.js";
import { makeLedger, play, type TestLedger } from "../proofs/fixtures.js";
import { tempDir } from "../helpers/tmp.js";
import { appendPlays, batchOf, batchOfEntries, registerKey, storedBodies } from "./helpers.js";

const SCREEN = "sz-nanshan-001";
const TOPIC = `led/v1/${SCREEN}/proofs`;

describe("collector verification and storage", () => {
  let tmp: ReturnType<typeof tempDir>;
  let t: TestLedger;
  let store: CollectorStore;
  let keysDir: string;
  let processor: BatchProcessor;

  const send = (payload: Buffer, topic = TOPIC) => processor.process(topic, payload);
  const entriesOf = (from: number, through: number): Entry[] => storedBodies(t.db, from, through).map((b) => JSON.parse(b) as Entry);

  beforeEach(() => {
    tmp = tempDir();
    t = makeLedger(tmp.dir, SCREEN);
    keysDir = join(tmp.dir, "keys");
    registerKey(keysDir, SCREEN, t.publicKey);
    store = CollectorStore.open(join(tmp.dir, "collector.db"));
    processor = new BatchProcessor({ store, keys: new ScreenKeys(keysDir) });
  });
  afterEach(() => {
    store.close();
    t.db.close();
    tmp.cleanup();
  });

  it("stores a good batch byte for byte and acks its last seq", async () => {
    appendPlays(t, 5);
    const b = batchOf(t.db, 1, 5);
    const { report, ack } = await send(b.payload);
    expect(report).toEqual<BatchReport>({ screen: SCREEN, batch: b.id, fromSeq: 1, throughSeq: 5, stored: 5, duplicates: 0, acked: 5, problems: [] });
    expect(ack).toEqual({ topic: `led/v1/${SCREEN}/proofs/ack`, payload: JSON.stringify({ batch: b.id, through: 5 }) });
    expect([...store.bodies(SCREEN)].map((r) => r.body)).toEqual(storedBodies(t.db, 1, 5));
    expect(store.report(SCREEN)).toMatchObject({ entries: 5, headSeq: 5, headHash: t.ledger.head()?.hash, gaps: [], problems: [] });
  });

  it("stores a batch sent twice once, and acks it both times", async () => {
    appendPlays(t, 4);
    const b = batchOf(t.db, 1, 4);
    await send(b.payload);
    const again = await send(b.payload);
    expect(again.report).toMatchObject({ stored: 0, duplicates: 4, acked: 4, problems: [] });
    expect(again.ack?.payload).toBe(JSON.stringify({ batch: b.id, through: 4 }));
    expect(store.report(SCREEN)?.entries).toBe(4);
  });

  it("a batch overlapping what is stored stores only what is new", async () => {
    appendPlays(t, 8);
    await send(batchOf(t.db, 1, 5).payload);
    const { report } = await send(batchOf(t.db, 3, 8).payload);
    expect(report).toMatchObject({ stored: 3, duplicates: 3, acked: 8 });
    expect(store.report(SCREEN)).toMatchObject({ entries: 8, headSeq: 8 });
  });

  it("another entry at a stored seq is a conflict: what came before it is stored, it is not acked, the problem recorded once", async () => {
    appendPlays(t, 2);
    const forkPath = join(tmp.dir, "fork.db");
    t.db.exec(`VACUUM INTO '${forkPath}'`);
    appendPlays(t, 3);
    const forkDb = openDatabase(forkPath);
    try {
      const fork = new Ledger({ db: forkDb, screenId: SCREEN, keys: { privateKey: t.privateKey, publicKey: t.publicKey }, clock: t.clock });
      fork.event("technician.note", { text: "another history" });
      await send(batchOf(t.db, 1, 5).payload);
      const forked = batchOf(forkDb, 1, 3);
      for (let i = 0; i < 2; i++) {
        const { report, ack } = await send(forked.payload);
        expect(report).toMatchObject({ stored: 0, duplicates: 2, acked: 2 });
        expect(report.problems).toEqual([expect.objectContaining({ kind: "conflict", seq: 3 })]);
        expect(ack?.payload).toBe(JSON.stringify({ batch: forked.id, through: 2 }));
      }
      expect(store.problems(SCREEN)).toEqual([expect.objectContaining({ kind: "conflict", seq: 3 })]);
      expect(store.report(SCREEN)?.headHash).toBe(t.ledger.head()?.hash);
    } finally {
      forkDb.close();
    }
  });

  it("forgeries cannot grow the problems table: one row per screen and kind whatever seq they claim, the detail clipped", async () => {
    appendPlays(t, 2);
    const [first] = entriesOf(1, 1);
    for (let seq = 100; seq < 140; seq++) {
      const forged = { ...first, seq, play: { ...(first as Entry & { kind: "play" }).play, creative: "x".repeat(5000) } };
      const { report } = await send(batchOfEntries([forged]).payload);
      expect(report.problems[0]?.kind).toBe("bad-signature");
    }
    const kept = store.problems(SCREEN);
    expect(kept).toHaveLength(1);
    expect(kept[0].detail.length).toBeLessThanOrEqual(300);
  });

  it("a forged signature stops the batch there: the entries before it are stored and acked, it never is", async () => {
    appendPlays(t, 5);
    const entries = entriesOf(1, 5);
    const forged = { ...entries[3], play: { ...(entries[3] as Entry & { kind: "play" }).play, durationMs: 1 } };
    const b = batchOfEntries([...entries.slice(0, 3), forged, entries[4]]);
    for (let i = 0; i < 2; i++) {
      const { report, ack } = await send(b.payload);
      expect(report.problems).toEqual([expect.objectContaining({ kind: "bad-signature", seq: 4 })]);
      expect(report.acked).toBe(3);
      expect(ack?.payload).toBe(JSON.stringify({ batch: b.id, through: 3 }));
    }
    expect(store.report(SCREEN)).toMatchObject({ entries: 3, headSeq: 3 });
    expect(store.problems(SCREEN)).toHaveLength(1);
    // A batch whose very first entry is bad gets no ack at all: the agent sends it again.
    const first = await send(batchOfEntries([forged, entries[4]]).payload);
    expect(first.ack).toBeNull();
    expect(first.report.problems.map((p) => p.kind)).toEqual(["bad-signature"]);
  });

  it("signatures checked on worker threads give the same verdicts: a forged entry deep in a large batch stops it there", async () => {
    appendPlays(t, 300);
    const entries = entriesOf(1, 300);
    const forged = { ...entries[199], sig: entries[198].sig };
    const pool = new VerifyPool(2);
    try {
      const pooled = new BatchProcessor({ store, keys: new ScreenKeys(keysDir), verifier: pool });
      const { report, ack } = await pooled.process(TOPIC, batchOfEntries([...entries.slice(0, 199), forged, ...entries.slice(200)]).payload);
      expect(report).toMatchObject({ stored: 199, acked: 199 });
      expect(report.problems).toEqual([expect.objectContaining({ kind: "bad-signature", seq: 200 })]);
      expect(ack).not.toBeNull();
      const rest = await pooled.process(TOPIC, batchOf(t.db, 200, 300).payload);
      expect(rest.report).toMatchObject({ stored: 101, acked: 300, problems: [] });
    } finally {
      await pool.close();
    }
  });

  it("an entry signed by another key is a bad signature", async () => {
    const other = makeLedger(join(tmp.dir, "other"), SCREEN);
    try {
      appendPlays(other, 2);
      const { report, ack } = await send(batchOf(other.db, 1, 2).payload);
      expect(ack).toBeNull();
      expect(report.problems).toEqual([expect.objectContaining({ kind: "bad-signature", seq: 1 })]);
    } finally {
      other.db.close();
    }
  });

  it("another screen's entries on this screen's topic are wrong-screen", async () => {
    const other = makeLedger(join(tmp.dir, "other"), "sz-futian-002");
    try {
      appendPlays(other, 2);
      const { report, ack } = await send(batchOf(other.db, 1, 2).payload);
      expect(ack).toBeNull();
      expect(report.problems).toEqual([expect.objectContaining({ kind: "wrong-screen", seq: 1, screen: SCREEN })]);
      expect(store.report(SCREEN)?.entries).toBe(0);
    } finally {
      other.db.close();
    }
  });

  it("an entry that does not link to the stored one before it, or that the stored one after it does not link to, is a broken link", async () => {
    appendPlays(t, 2);
    const forkPath = join(tmp.dir, "fork.db");
    t.db.exec(`VACUUM INTO '${forkPath}'`);
    appendPlays(t, 4); // 3..6
    const forkDb = openDatabase(forkPath);
    try {
      const fork = new Ledger({ db: forkDb, screenId: SCREEN, keys: { privateKey: t.privateKey, publicKey: t.publicKey }, clock: t.clock });
      fork.event("technician.note", { text: "another 3" });
      fork.event("technician.note", { text: "another 4" });
      fork.event("technician.note", { text: "another 5" });
      await send(batchOf(t.db, 1, 2).payload);
      await send(batchOf(t.db, 4, 6).payload); // seq 3 missing
      // The fork's seq 3 links to the stored 2, but the stored 4 does not link to it.
      const above = await send(batchOf(forkDb, 3, 3).payload);
      expect(above.report.problems).toEqual([expect.objectContaining({ kind: "broken-link", seq: 3, detail: expect.stringContaining("the stored seq 4 does not link") })]);
      expect(above.ack).toBeNull();
      // Another collector holding 1..3: the fork's 4 does not link to the stored 3.
      const other = CollectorStore.open(join(tmp.dir, "other-collector.db"));
      try {
        const p2 = new BatchProcessor({ store: other, keys: new ScreenKeys(keysDir) });
        await p2.process(TOPIC, batchOf(t.db, 1, 3).payload);
        const below = await p2.process(TOPIC, batchOf(forkDb, 4, 5).payload);
        expect(below.report.problems).toEqual([expect.objectContaining({ kind: "broken-link", seq: 4, detail: expect.stringContaining("not the hash of the stored seq 3") })]);
        expect(below.ack).toBeNull();
        expect(other.report(SCREEN)?.entries).toBe(3);
      } finally {
        other.close();
      }
    } finally {
      forkDb.close();
    }
  });

  it("seq 1 that does not start the chain is a broken link", async () => {
    const { entry } = signEntry(
      { kind: "play", play: play() },
      { seq: 1, screen: SCREEN, at: new Date("2026-12-01T00:00:00Z"), clock: { synced: true, bootId: "b", monoMs: 1 }, prev: "1".repeat(64) },
      t.privateKey,
    );
    const { report, ack } = await send(batchOfEntries([entry]).payload);
    expect(report.problems).toEqual([expect.objectContaining({ kind: "broken-link", seq: 1 })]);
    expect(ack).toBeNull();
  });

  it("a batch beyond the stored head is stored and acked, the missing range a gap until it is filled", async () => {
    appendPlays(t, 12);
    await send(batchOf(t.db, 1, 3).payload);
    const ahead = await send(batchOf(t.db, 8, 10).payload);
    expect(ahead.report).toMatchObject({ stored: 3, acked: 10 });
    expect(ahead.report.problems).toEqual([expect.objectContaining({ kind: "gap", seq: 4, toSeq: 7 })]);
    expect(store.report(SCREEN)).toMatchObject({ headSeq: 10, gaps: [{ fromSeq: 4, toSeq: 7 }] });
    await send(batchOf(t.db, 5, 6).payload);
    expect(store.gaps(SCREEN)).toEqual([
      { fromSeq: 4, toSeq: 4 },
      { fromSeq: 7, toSeq: 7 },
    ]);
    expect(store.problems(SCREEN).map((p) => [p.kind, p.seq, p.toSeq])).toEqual([
      ["gap", 4, 4],
      ["gap", 7, 7],
    ]);
    await send(batchOf(t.db, 4, 4).payload);
    await send(batchOf(t.db, 7, 12).payload);
    expect(store.gaps(SCREEN)).toEqual([]);
    expect(store.problems(SCREEN)).toEqual([]);
    expect(store.report(SCREEN)).toMatchObject({ entries: 12, headSeq: 12, headHash: t.ledger.head()?.hash });
  });

  it("a screen with no registered key is unregistered (no ack, recorded once) until its key appears", async () => {
    const late = "sz-luohu-003";
    const device = makeLedger(join(tmp.dir, "late"), late);
    try {
      appendPlays(device, 3);
      const b = batchOf(device.db, 1, 3);
      for (let i = 0; i < 2; i++) {
        const { report, ack } = await send(b.payload, `led/v1/${late}/proofs`);
        expect(ack).toBeNull();
        expect(report).toMatchObject({ screen: late, batch: b.id, fromSeq: 1, throughSeq: 3, stored: 0 });
        expect(report.problems).toEqual([expect.objectContaining({ kind: "unregistered-screen", seq: null })]);
      }
      expect(store.problems(late)).toHaveLength(1);
      registerKey(keysDir, late, device.publicKey);
      const { report, ack } = await send(b.payload, `led/v1/${late}/proofs`);
      expect(report).toMatchObject({ stored: 3, acked: 3, problems: [] });
      expect(ack).not.toBeNull();
      expect(store.problems(late)).toEqual([]);
    } finally {
      device.db.close();
    }
  });

  it("refuses malformed batches, naming why, and acks nothing from the bad entry on", async () => {
    appendPlays(t, 3);
    const entries = entriesOf(1, 3);
    const cases: [Buffer, RegExp, number | null][] = [
      [Buffer.alloc(1024 * 1024 + 1, 0x20), /more than 1048576/, null],
      [Buffer.from("{not json"), /not JSON/, null],
      [Buffer.from(JSON.stringify({ batch: "b1", entries: {} })), /entries is not an array/, null],
      [Buffer.from(JSON.stringify({ batch: "b1", entries: [] })), /entries is empty/, null],
      [Buffer.from(JSON.stringify({ entries: entries })), /batch is not/, null],
      [batchOfEntries([{ ...entries[0], extra: 1 }]).payload, /unexpected field "extra"/, 1],
      [batchOfEntries([entries[0], entries[2]]).payload, /seq 3 follows seq 1/, 3],
    ];
    for (const [payload, why, seq] of cases) {
      const { report } = await send(payload);
      // Only the non-contiguous batch had a good entry before its bad one: seq 1 is stored and acked.
      expect(report.acked).toBe(seq === 3 ? 1 : null);
      expect(report.problems).toEqual([expect.objectContaining({ kind: "malformed", seq, detail: expect.stringMatching(why) })]);
    }
    expect(store.report(SCREEN)?.entries ?? 0).toBe(1); // only seq 1 of the non-contiguous batch
  });

  it("two collectors on one database file store each entry once", async () => {
    appendPlays(t, 6);
    const second = CollectorStore.open(join(tmp.dir, "collector.db"));
    try {
      const other = new BatchProcessor({ store: second, keys: new ScreenKeys(keysDir) });
      const b = batchOf(t.db, 1, 6);
      const one = (await processor.process(TOPIC, b.payload)).report;
      const two = (await other.process(TOPIC, b.payload)).report;
      expect([one.stored, two.stored]).toEqual([6, 0]);
      expect(two.duplicates).toBe(6);
      expect(second.report(SCREEN)?.entries).toBe(6);
    } finally {
      second.close();
    }
  });
});

describe("the screens' keys", () => {
  it("a key removed de-registers the screen and a key replaced is read again, without a restart", () => {
    const { dir, cleanup } = tempDir();
    try {
      const keys = new ScreenKeys(dir);
      const first = generateKeyPairSync("ed25519").publicKey;
      const second = generateKeyPairSync("ed25519").publicKey;
      registerKey(dir, "sz-keys-001", first);
      expect(keys.lookup("sz-keys-001").key?.equals(first)).toBe(true);
      rmSync(join(dir, "sz-keys-001.pub.pem"));
      expect(keys.lookup("sz-keys-001")).toMatchObject({ key: null, reason: expect.stringContaining("no key registered") });
      registerKey(dir, "sz-keys-001", second);
      expect(keys.lookup("sz-keys-001").key?.equals(second)).toBe(true);
      chmodSync(join(dir, "sz-keys-001.pub.pem"), 0o666);
      expect(keys.lookup("sz-keys-001")).toMatchObject({ key: null, reason: expect.stringContaining("writable by group or others") });
    } finally {
      cleanup();
    }
  });
});
