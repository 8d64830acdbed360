// The whole-file integrity check is the daemon's to run once at start, not every open's: a page
// damaged where no read looks is found by checkLedgerIntegrity and missed by a plain open.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createKeyFiles } from "../../agent/crypto/index.js";
import { checkLedgerIntegrity, fixedClock, openLedger, openLedgerReader } from "../../agent/proofs/index.js";
import { openDatabase, StoreError } from "../../agent/store/index.js";
import { tempDir } from "../helpers/tmp.js";
import { miscountFragments } from "../store/damage.js";
import { play } from "./fixtures.js";

function storeRefusal(fn: () => unknown): StoreError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(StoreError);
    return err as StoreError;
  }
  throw new Error("expected a refusal, but it went through");
}

describe("checkLedgerIntegrity", () => {
  let tmp: ReturnType<typeof tempDir>;
  const clock = fixedClock(new Date("2026-12-01T00:00:00Z"));
  const config = (): { dataDir: string; runDir: string; screenId: string } => ({ dataDir: tmp.dir, runDir: join(tmp.dir, "run"), screenId: "sz-nanshan-001" });
  const dbPath = (): string => join(tmp.dir, "ledagent.db");

  beforeEach(() => {
    tmp = tempDir();
    createKeyFiles(join(tmp.dir, "keys", "device.key"), join(tmp.dir, "keys", "device.pub.pem"));
    const { ledger, close } = openLedger(config(), { clock });
    try {
      for (let i = 0; i < 20; i++) ledger.append({ kind: "play", play: play() });
    } finally {
      close();
    }
  });
  afterEach(() => tmp.cleanup());

  it("passes a sound ledger", () => {
    expect(() => checkLedgerIntegrity(config())).not.toThrow();
  });

  it("refuses a damaged page that a plain open never notices", () => {
    const page = miscountFragments(dbPath(), "ledger_entries");
    const damage = new RegExp(`^database .*ledagent\\.db failed its integrity check: \\*\\*\\* in database main \\*\\*\\*\\n[^\\n]*\\bpage ${page}\\b`);

    const { reader, close } = openLedgerReader(config()); // opens without the check, and reads on
    try {
      expect(reader.head()?.seq).toBe(20);
    } finally {
      close();
    }

    expect(storeRefusal(() => checkLedgerIntegrity(config())).message).toMatch(damage);
    expect(storeRefusal(() => openDatabase(dbPath(), { integrityCheck: true })).message).toMatch(damage);
  });

  it("passes a data directory with no ledger yet, and leaves it without one", () => {
    const empty = tempDir();
    try {
      const fresh = { dataDir: empty.dir, runDir: join(empty.dir, "run") };
      checkLedgerIntegrity(fresh);
      expect(existsSync(join(empty.dir, "ledagent.db"))).toBe(false);
    } finally {
      empty.cleanup();
    }
  });
});
