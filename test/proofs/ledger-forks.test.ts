// Holes a hostile review found in the ledger's guard against a second history: an older copy of
// the database (a restored backup, a lost WAL, deleted head rows) appended to; a key change racing
// a writer; a long-lived writer following its archived database; readers and filtered exports
// trusting a row's hash or index columns.
import { copyFileSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createKeyFiles, loadPrivateKey, readSigningRecord, type KeyPair } from "../../agent/crypto/index.js";
import { archiveLedger, exportCsv, exportJsonl, fixedClock, Ledger, LedgerError, LedgerReader, openLedger, type LedgerErrorCode } from "../../agent/proofs/index.js";
import { openDatabase, type Db } from "../../agent/store/index.js";
import { tempDir } from "../helpers/tmp.js";
import { play } from "./fixtures.js";

const SCREEN = "sz-nanshan-001";

function expectRefused(fn: () => unknown, code: LedgerErrorCode, message: RegExp): void {
  let caught: unknown = null;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, "expected a refusal, but it went through").toBeInstanceOf(LedgerError);
  expect((caught as LedgerError).code, (caught as Error).message).toBe(code);
  expect((caught as Error).message).toMatch(message);
}

function collect(): { out: Writable; lines: string[] } {
  const lines: string[] = [];
  const out = new Writable({ write: (c: Buffer, _e, cb) => (lines.push(...c.toString().split("\n").filter(Boolean)), cb()) });
  return { out, lines };
}

describe("the ledger never forks", () => {
  let tmp: ReturnType<typeof tempDir>;
  let keys: KeyPair;
  let dbPath: string;
  const clock = fixedClock(new Date("2026-12-01T00:00:00Z"));
  const open: Db[] = [];
  const config = (): { dataDir: string; runDir: string; screenId: string } => ({ dataDir: tmp.dir, runDir: join(tmp.dir, "run"), screenId: SCREEN });

  const db = (): Db => {
    const d = openDatabase(dbPath);
    open.push(d);
    return d;
  };
  const ledger = (k: KeyPair = keys, markEveryAppend = false): Ledger => new Ledger({ db: db(), screenId: SCREEN, keys: k, clock, markEveryAppend });
  const fill = (l: Ledger, n: number): void => {
    for (let i = 0; i < n; i++) l.append({ kind: "play", play: play({ customer: i % 2 ? "pepsi-co" : "cola-co" }) });
  };
  const closeAll = (): void => {
    for (const d of open.splice(0)) if (d.open) d.close();
  };

  beforeEach(() => {
    tmp = tempDir();
    keys = createKeyFiles(join(tmp.dir, "keys", "device.key"), join(tmp.dir, "keys", "device.pub.pem"));
    dbPath = join(tmp.dir, "ledagent.db");
  });
  afterEach(() => {
    closeAll();
    tmp.cleanup();
  });

  it("refuses to append to deleted head rows below the key's high-water mark, naming the seq to restore", () => {
    const l = ledger(keys, true);
    fill(l, 3);
    expect(readSigningRecord(keys.file as string, keys.publicKey)?.mark?.seq).toBe(3);
    l.db.exec("DELETE FROM ledger_entries WHERE seq = 3");
    expectRefused(() => ledger(), "behind-high-water", /head of .* is seq 2, but this device key has signed up to seq 3.*second entry at seq 3.*backup that reaches seq 3/);
  });

  it("refuses a restored backup older than the last checkpoint's mark", () => {
    const l = ledger();
    fill(l, 2);
    closeAll();
    const backup = join(tmp.dir, "backup.db");
    copyFileSync(dbPath, backup); // a clean copy: the WAL was checkpointed into it on close
    const later = ledger();
    fill(later, 2);
    later.checkpoint();
    closeAll();
    for (const s of ["-wal", "-shm"]) rmSync(dbPath + s, { force: true });
    copyFileSync(backup, dbPath);
    expectRefused(() => ledger(), "behind-high-water", /is seq 2, but this device key has signed up to seq 4/);
  });

  it("a long-lived writer records its mark on close, so the entries since its last checkpoint cannot be forked", () => {
    const l = ledger();
    fill(l, 2);
    l.checkpoint();
    fill(l, 2);
    l.close();
    l.db.exec("DELETE FROM ledger_entries WHERE seq > 2");
    expectRefused(() => ledger(), "behind-high-water", /is seq 2, but this device key has signed up to seq 4/);
  });

  it("refuses another history at the mark's seq", () => {
    const l = ledger(keys, true);
    fill(l, 3);
    l.db.exec("DELETE FROM ledger_entries WHERE seq = 3");
    const bare = { privateKey: keys.privateKey, publicKey: keys.publicKey }; // no file: no guard
    ledger(bare).event("agent.started", { version: "another seq 3" });
    expectRefused(() => ledger(), "behind-high-water", /holds another entry .* at seq 3: it is another history under the same key/);
  });

  it("refuses a database whose kept checkpoint is above its head, or names another hash", () => {
    const bare = { privateKey: keys.privateKey, publicKey: keys.publicKey };
    const l = ledger(bare);
    fill(l, 3);
    l.checkpoint();
    l.db.exec("DELETE FROM ledger_entries WHERE seq = 3");
    expectRefused(() => ledger(bare), "behind-checkpoint", /signed checkpoint of this ledger is at seq 3, but the database has no entry there/);
    l.db.exec("UPDATE ledger_checkpoints SET seq = 2");
    expectRefused(() => ledger(bare), "checkpoint-mismatch", /checkpoint at seq 2 names hash .* but the entry there has hash/);
  });

  it("never replaces a kept checkpoint: a second head at the same seq must name the same hash", () => {
    const bare = { privateKey: keys.privateKey, publicKey: keys.publicKey };
    const l = ledger(bare);
    fill(l, 2);
    const first = l.checkpoint();
    l.checkpoint(); // the same head again: kept as it was
    const kept = l.db.prepare("SELECT body FROM ledger_checkpoints").all() as { body: string }[];
    expect(kept.map((r) => (JSON.parse(r.body) as { at: string; hash: string }).hash)).toEqual([first.hash]);
    l.db.exec("UPDATE ledger_checkpoints SET body = json_set(body, '$.hash', '" + "e".repeat(64) + "')");
    expectRefused(() => l.checkpoint(), "checkpoint-mismatch", /a signed head at seq 2 was already kept with hash eeee/);
  });

  it("a writer that loaded the key before an archive cannot begin a ledger under the retired key", () => {
    fill(ledger(keys, true), 2);
    closeAll();
    const loadedBefore = loadPrivateKey(keys.file as string);
    const archived = archiveLedger(config(), { clock, reason: "the device key is being replaced" });
    expect(archived.head?.seq).toBe(3);
    createKeyFiles(keys.file as string, join(tmp.dir, "keys", "device.pub.pem"), { force: true });
    expectRefused(() => ledger(loadedBefore), "retired-key", /this device key was retired .* it never signs again/);
    // The new key is not locked out: it begins the new ledger.
    expect(new Ledger({ db: db(), screenId: SCREEN, keys: loadPrivateKey(keys.file as string), clock }).event("agent.started").seq).toBe(1);
  });

  it("a writer refuses a key that is no longer the one on disk", () => {
    fill(ledger(), 1);
    const loadedBefore = loadPrivateKey(keys.file as string);
    createKeyFiles(keys.file as string, join(tmp.dir, "keys", "device.pub.pem"), { force: true });
    expectRefused(() => ledger(loadedBefore), "key-replaced", /was replaced after this writer loaded it/);
  });

  it("an open writer refuses to append once its database was archived under it", () => {
    const l = ledger();
    fill(l, 2);
    archiveLedger(config(), { clock, reason: "the device key is being replaced" });
    expectRefused(() => l.append({ kind: "play", play: play() }), "ledger-moved", /no longer at .*ledagent\.db.*nothing was appended/);
    expectRefused(() => l.checkpoint(), "ledger-moved", /no longer at/);
  });

  it("archiving is refused while a long-lived writer holds the ledger open", () => {
    fill(ledger(), 1);
    closeAll();
    const daemon = openLedger(config(), { clock, longLived: true });
    try {
      expectRefused(() => archiveLedger(config(), { clock, reason: "x" }), "ledger-busy", /open for writing in another process.*stop the agent first/);
      expectRefused(() => openLedger(config(), { clock, longLived: true }), "ledger-busy", /open for writing/);
      expect(daemon.ledger.event("agent.stopped").seq).toBe(2);
    } finally {
      daemon.close();
    }
    expect(archiveLedger(config(), { clock, reason: "x" }).head?.seq).toBe(3);
  });

  it("onScreenAt refuses a row whose body was edited, naming the seq", () => {
    const l = ledger();
    fill(l, 2);
    l.db.exec(`UPDATE ledger_entries SET body = replace(body, '"creative":"cola-15"', '"creative":"FORGED"') WHERE seq = 2`);
    const reader = new LedgerReader(db());
    expectRefused(() => reader.onScreenAt("2026-12-01T00:00:05.000Z"), "damaged-row", /read refused at seq 2: its stored hash does not match its body/);
  });

  it("a filtered export decides membership from the signed body and refuses a row whose index lies", async () => {
    const l = ledger();
    fill(l, 4); // seq 1, 3 cola-co; seq 2, 4 pepsi-co
    l.db.exec("UPDATE ledger_entries SET customer = 'cola-co' WHERE seq = 2");
    const { out, lines } = collect();
    const err = await exportJsonl(new LedgerReader(db()), { customer: "cola-co" }, out).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(LedgerError);
    expect((err as LedgerError).code).toBe("index-mismatch");
    expect((err as Error).message).toMatch(/^export refused at seq 2: its customer column says "cola-co" but the signed entry says "pepsi-co"/);
    expect(lines.join("\n")).not.toMatch(/pepsi-co/);
  });

  it("an index edited at the edge of a filtered export's range is refused, not used to drop the customer's first entry", async () => {
    const l = ledger();
    fill(l, 4); // seq 1, 3 cola-co; seq 2, 4 pepsi-co
    l.db.exec("UPDATE ledger_entries SET customer = 'zz' WHERE seq = 1");
    const { out } = collect();
    const err = await exportJsonl(new LedgerReader(db()), { customer: "cola-co" }, out).then(() => null, (e: unknown) => e);
    expect((err as LedgerError).code).toBe("index-mismatch");
    expect((err as Error).message).toMatch(/^export refused at seq 1: its customer column says "zz" but the signed entry says "cola-co"/);
  });

  it("the CSV play detail refuses a play whose index was edited instead of leaving it out", async () => {
    const l = ledger();
    fill(l, 4);
    l.db.exec("UPDATE ledger_entries SET customer = 'zz' WHERE seq = 3");
    const { out } = collect();
    const err = await exportCsv(new LedgerReader(db()), { customer: "cola-co" }, "UTC", out).then(() => null, (e: unknown) => e);
    expect((err as LedgerError).code).toBe("index-mismatch");
    expect((err as Error).message).toMatch(/^export refused at seq 3: its customer column/);
  });

  it("a filtered export still covers the range from the first match to the head, stubs between", async () => {
    const l = ledger();
    fill(l, 5);
    const { out, lines } = collect();
    const r = await exportJsonl(new LedgerReader(db()), { customer: "pepsi-co" }, out);
    expect(r).toMatchObject({ entries: 2, stubs: 2, firstSeq: 2, lastSeq: 5 });
    expect(lines.filter((x) => x !== "").map((x) => (JSON.parse(x) as { seq: number; sig?: string }).sig ? "whole" : "stub")).toEqual(["whole", "stub", "whole", "stub"]);
  });

  it("an edited `at` column is refused by the readers, not used to give a wrong answer", () => {
    const l = ledger();
    fill(l, 3);
    l.db.exec("UPDATE ledger_entries SET at = '2099-01-01T00:00:00.000Z' WHERE seq = 2");
    expectRefused(() => [...new LedgerReader(db()).plays({})], "index-mismatch", /refused at seq 2: its at column says "2099-01-01T00:00:00.000Z"/);
  });

  it("the mark is kept in the key's signing record, beside the genesis", () => {
    fill(ledger(keys, true), 2);
    const rec = JSON.parse(readFileSync(`${keys.file as string}.ledger.json`, "utf8")) as { state: string; mark: { seq: number } };
    expect(rec).toMatchObject({ state: "committed", mark: { seq: 2 } });
  });
});
