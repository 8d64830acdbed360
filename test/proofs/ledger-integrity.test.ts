// The ledger never forks and never chains onto garbage: a key that began a ledger refuses to begin
// another, a head that is not what it claims is refused on open, and an export never carries a row
// whose stored hash is not its body's.
import { createHash } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createKeyFiles, readSigningRecord, signingRecordPath, writeSigningRecord, type KeyPair } from "../../agent/crypto/index.js";
import { exportJsonl, fixedClock, Ledger, LedgerError, LedgerReader, type LedgerErrorCode } from "../../agent/proofs/index.js";
import { openDatabase, type Db } from "../../agent/store/index.js";
import { tempDir } from "../helpers/tmp.js";
import { play } from "./fixtures.js";

const SCREEN = "sz-nanshan-001";

function refusal(fn: () => unknown): LedgerError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LedgerError);
    return err as LedgerError;
  }
  throw new Error("expected a refusal, but it went through");
}

function expectRefused(fn: () => unknown, code: LedgerErrorCode, message: RegExp): void {
  const err = refusal(fn);
  expect(err.code, err.message).toBe(code);
  expect(err.message).toMatch(message);
}

const sink = (): Writable => new Writable({ write: (_c, _e, cb) => cb() });

describe("ledger integrity", () => {
  let tmp: ReturnType<typeof tempDir>;
  let keys: KeyPair;
  let dbPath: string;
  const clock = fixedClock(new Date("2026-12-01T00:00:00Z"));
  const open: Db[] = [];

  const db = (): Db => {
    const d = openDatabase(dbPath);
    open.push(d);
    return d;
  };
  const ledger = (k: KeyPair = keys): Ledger => new Ledger({ db: db(), screenId: SCREEN, keys: k, clock });
  const fill = (l: Ledger, n: number): void => {
    for (let i = 0; i < n; i++) l.append({ kind: "play", play: play({ customer: i % 2 ? "pepsi-co" : "cola-co" }) });
  };

  beforeEach(() => {
    tmp = tempDir();
    keys = createKeyFiles(join(tmp.dir, "keys", "device.key"), join(tmp.dir, "keys", "device.pub.pem"));
    dbPath = join(tmp.dir, "ledagent.db");
  });
  afterEach(() => {
    for (const d of open.splice(0)) if (d.open) d.close();
    tmp.cleanup();
  });

  const deleteDatabase = (): void => {
    for (const d of open.splice(0)) d.close();
    for (const s of ["", "-wal", "-shm"]) rmSync(dbPath + s, { force: true });
  };

  it("a key that began a ledger refuses to begin a second one when the database is deleted", () => {
    fill(ledger(), 3);
    deleteDatabase();
    expectRefused(() => ledger(), "key-already-signed", /empty or missing; appending would start a second history under the same key.*restore the database.*--new-key --archive-ledger/);
  });

  it("a key that began a ledger refuses to begin a second one when the database is emptied", () => {
    const l = ledger();
    fill(l, 3);
    l.db.exec("DELETE FROM ledger_entries");
    expectRefused(() => ledger(), "key-already-signed", /second history/);
    expect([...new LedgerReader(db()).rows()]).toEqual([]); // and nothing was written
  });

  it("a key refuses a ledger whose seq 1 is not the entry it began with", () => {
    fill(ledger(), 2);
    deleteDatabase();
    // The same key, loaded without its file (so without its record), begins another history…
    const bare = { privateKey: keys.privateKey, publicKey: keys.publicKey };
    ledger(bare).event("agent.started", { version: "another history" });
    // …which the key, with its record, will not extend.
    expectRefused(() => ledger(), "other-genesis", /seq 1 of .* is another entry/);
  });

  it("a first append cut short after the record and before the entry starts cleanly on the next open", () => {
    const keyFile = keys.file as string;
    writeSigningRecord(keyFile, { screen: SCREEN, genesis: "e".repeat(64), state: "pending", at: clock.now().toISOString() }, keys.publicKey);
    const entry = ledger().event("agent.started");
    expect(entry.seq).toBe(1);
    const record = readSigningRecord(keyFile, keys.publicKey);
    expect(record?.state).toBe("committed");
    expect(record?.genesis).not.toBe("e".repeat(64));
  });

  it("a first append cut short after the entry and before the record is completed on the next open", () => {
    const keyFile = keys.file as string;
    const l = ledger();
    const first = l.event("agent.started");
    const hash = [...l.rows()][0].hash;
    writeSigningRecord(keyFile, { screen: SCREEN, genesis: hash, state: "pending", at: first.at }, keys.publicKey);
    ledger();
    expect(readSigningRecord(keyFile, keys.publicKey)).toMatchObject({ state: "committed", genesis: hash });
  });

  it("the first append records the key's genesis durably, and a ledger from before records is adopted", () => {
    const keyFile = keys.file as string;
    const bare = { privateKey: keys.privateKey, publicKey: keys.publicKey };
    fill(ledger(bare), 2); // no record: as a ledger begun before signing records existed
    expect(readSigningRecord(keyFile, keys.publicKey)).toBeNull();
    ledger();
    const rec = JSON.parse(readFileSync(signingRecordPath(keyFile), "utf8")) as { genesis: string; screen: string; state: string };
    expect(rec).toMatchObject({ screen: SCREEN, state: "committed", genesis: [...new LedgerReader(db()).rows()][0].hash });
  });

  it("readers still read an old database the key no longer accepts", async () => {
    fill(ledger(), 3);
    const l = ledger();
    l.db.exec("DELETE FROM ledger_entries WHERE seq > 1");
    const reader = new LedgerReader(db());
    const r = await exportJsonl(reader, {}, sink());
    expect(r.entries).toBe(1);
  });

  it("refuses to append onto a head whose stored hash no longer matches its body", async () => {
    const l = ledger();
    fill(l, 4);
    l.db.prepare("UPDATE ledger_entries SET hash = ? WHERE seq = 4").run("f".repeat(64));
    expectRefused(() => ledger(), "damaged-head", /head entry \(seq 4\) has a stored hash that does not match its body.*break the chain/);
    expect(new LedgerReader(db()).head()?.seq).toBe(4);
  });

  it("refuses to append onto a head whose body was altered", () => {
    const l = ledger();
    fill(l, 4);
    const body = (l.db.prepare("SELECT body FROM ledger_entries WHERE seq = 4").get() as { body: string }).body;
    l.db.prepare("UPDATE ledger_entries SET body = ? WHERE seq = 4").run(body.replace("cola-co", "cola-cx").replace("pepsi-co", "pepsi-cx"));
    expectRefused(() => ledger(), "damaged-head", /seq 4\) has a stored hash that does not match its body/);
  });

  it("refuses to append onto a head that does not link to the entry before it", () => {
    const l = ledger();
    fill(l, 4);
    // seq 3 rewritten whole, its hash recomputed: it is self-consistent, but seq 4 no longer links to it.
    const row = l.db.prepare("SELECT body FROM ledger_entries WHERE seq = 3").get() as { body: string };
    const other = row.body.replace(/"durationMs":15000/, '"durationMs":14000');
    l.db.prepare("UPDATE ledger_entries SET body = ?, hash = ? WHERE seq = 3").run(other, createHash("sha256").update(other).digest("hex"));
    expectRefused(() => ledger(), "damaged-head", /seq 4\) does not link to seq 3/);
  });

  it("refuses to append onto a head signed by another key (the key file was replaced)", () => {
    fill(ledger(), 2);
    const other = createKeyFiles(join(tmp.dir, "k2", "device.key"), join(tmp.dir, "k2", "device.pub.pem"));
    expectRefused(() => ledger(other), "foreign-key", /not signed by this device key/);
  });

  it("export refuses a row whose stored hash is not its body's, naming the seq, whole or as a stub", async () => {
    const l = ledger();
    fill(l, 6);
    l.db.prepare("UPDATE ledger_entries SET hash = ? WHERE seq = 4").run("0".repeat(64)); // a pepsi-co play: a stub for cola-co
    const reader = new LedgerReader(db());
    const lines: string[] = [];
    const out = new Writable({ write: (c: Buffer, _e, cb) => (lines.push(...c.toString().split("\n").filter(Boolean)), cb()) });
    for (const filter of [{}, { customer: "cola-co" }]) {
      lines.length = 0;
      const err = await exportJsonl(reader, filter, out).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(LedgerError);
      expect((err as Error).message).toMatch(/^export refused at seq 4: its stored hash does not match its body/);
      expect(lines.some((x) => (JSON.parse(x) as { seq: number }).seq >= 4)).toBe(false);
    }
  });
});
