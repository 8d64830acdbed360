import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateKeyPairSync } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fixedClock, Ledger, LedgerError, verifyLines } from "../../agent/proofs/index.js";
import { migrate, openDatabase, StoreError } from "../../agent/store/index.js";
import { tempDir } from "../helpers/tmp.js";
import { miscountFragments } from "./damage.js";

function storeRefusal(fn: () => unknown): StoreError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(StoreError);
    return err as StoreError;
  }
  throw new Error("expected a refusal, but it went through");
}

describe("store", () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => (tmp = tempDir()));
  afterEach(() => tmp.cleanup());

  it("is WAL with synchronous=FULL on every open, reopen included", () => {
    const path = join(tmp.dir, "a.db");
    for (let i = 0; i < 2; i++) {
      const db = openDatabase(path);
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
      expect(db.pragma("synchronous", { simple: true })).toBe(2); // FULL
      expect(db.pragma("busy_timeout", { simple: true })).toBe(5000);
      db.close();
    }
  });

  it("applies numbered migrations once, per part", () => {
    const db = openDatabase(join(tmp.dir, "m.db"));
    const m = [
      { version: 1, name: "one", sql: "CREATE TABLE t1 (x INTEGER)" },
      { version: 2, name: "two", sql: "CREATE TABLE t2 (x INTEGER)" },
    ];
    expect(migrate(db, "a", m)).toBe(2);
    expect(migrate(db, "a", m)).toBe(2); // again: nothing re-run, no error
    expect(migrate(db, "b", [{ version: 1, name: "b1", sql: "CREATE TABLE b1 (x INTEGER)" }])).toBe(1);
    expect(() => migrate(db, "a", m.slice(0, 1))).toThrow(/newer than this agent knows/);
    expect(() => migrate(db, "c", [{ version: 2, name: "x", sql: "" }])).toThrow(/numbered 1, 2, 3/);
    db.close();
  });

  it("refuses a corrupt database file with a clear error", () => {
    const path = join(tmp.dir, "corrupt.db");
    writeFileSync(path, Buffer.concat([Buffer.from("SQLite format 3\0"), Buffer.alloc(4096, 0xab)]));
    expect(() => openDatabase(path)).toThrow(StoreError);
    expect(() => openDatabase(path)).toThrow(/corrupt.db/);
  });

  it("checks integrity only when asked: a damaged page opens plainly and is refused with integrityCheck", () => {
    const path = join(tmp.dir, "damaged.db");
    const db = openDatabase(path);
    db.exec("CREATE TABLE plays (x TEXT)");
    const insert = db.prepare("INSERT INTO plays VALUES (?)");
    for (let i = 0; i < 50; i++) insert.run(`play ${i}`);
    expect(db.pragma("quick_check", { simple: true })).toBe("ok");
    db.close();
    openDatabase(path, { integrityCheck: true }).close(); // undamaged: passes the check
    const page = miscountFragments(path, "plays");

    const plain = openDatabase(path); // no check: the damage goes unseen, the rows still read
    expect((plain.prepare("SELECT count(*) AS n FROM plays").get() as { n: number }).n).toBe(50);
    plain.close();

    const err = storeRefusal(() => openDatabase(path, { integrityCheck: true }));
    expect(err.message).toMatch(new RegExp(`^database .*damaged\\.db failed its integrity check: \\*\\*\\* in database main \\*\\*\\*\\nFragmentation of \\d+ bytes reported as \\d+ on page ${page}$`));
  });

  it("a full disk fails the append with the reason and keeps every entry already recorded", async () => {
    const db = openDatabase(join(tmp.dir, "full.db"));
    const keys = generateKeyPairSync("ed25519");
    const ledger = new Ledger({ db, screenId: "s", keys, clock: fixedClock(new Date("2026-12-01T00:00:00Z")) });
    ledger.event("agent.started");
    const pages = db.pragma("page_count", { simple: true }) as number;
    db.pragma(`max_page_count = ${pages}`); // the database may not grow: SQLite reports SQLITE_FULL
    let failure: unknown;
    for (let i = 0; i < 200 && !failure; i++) {
      try {
        ledger.event("technician.note", { text: "x".repeat(2000) });
      } catch (err) {
        failure = err;
      }
    }
    expect(failure).toBeInstanceOf(LedgerError);
    expect((failure as Error).message).toMatch(/disk is full/);
    const rows = [...ledger.rows()];
    expect(rows.length).toBeGreaterThanOrEqual(1);
    const r = await verifyLines(rows.map((x) => x.body), { publicKey: keys.publicKey });
    expect(r.ok).toBe(true);
    db.close();
  });
});
