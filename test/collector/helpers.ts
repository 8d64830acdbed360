// Shared by the collector's tests: a real device ledger, its batches as the agent sends them, and
// a keys directory as `ledagent ops collect --keys` reads it.
import { randomUUID, type KeyObject } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { publicKeyPem } from "../../agent/crypto/index.js";
import { LedgerReader } from "../../agent/proofs/index.js";
import type { Db } from "../../agent/store/index.js";
import { play, type TestLedger } from "../proofs/fixtures.js";

export function appendPlays(t: Pick<TestLedger, "db" | "ledger">, n: number): void {
  t.db.transaction(() => {
    for (let i = 0; i < n; i++) t.ledger.append({ kind: "play", play: play({ durationMs: 15_000 + i }) });
  })();
}

export function storedBodies(db: Db, from: number, through: number): string[] {
  return [...new LedgerReader(db).rows(from, through)].map((r) => r.body);
}

/** A batch payload as the outbox builds it: the stored bodies joined. */
export function batchOf(db: Db, from: number, through: number, id: string = randomUUID()): { id: string; payload: Buffer } {
  return { id, payload: Buffer.from(`{"batch":"${id}","entries":[${storedBodies(db, from, through).join(",")}]}`) };
}

/** A batch of entries given as objects (to send altered ones). */
export function batchOfEntries(entries: unknown[], id: string = randomUUID()): { id: string; payload: Buffer } {
  return { id, payload: Buffer.from(JSON.stringify({ batch: id, entries })) };
}

export function registerKey(dir: string, screen: string, key: KeyObject): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${screen}.pub.pem`), publicKeyPem(key));
}
