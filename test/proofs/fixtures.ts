import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { join } from "node:path";
import { Ledger, fixedClock, type PlayRecord } from "../../agent/proofs/index.js";
import { openDatabase, type Db } from "../../agent/store/index.js";

/** RFC 8032 §7.1 test 1 secret key: a fixed Ed25519 key whose public half is published. */
export const RFC8032_SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
export const RFC8032_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

export function keyFromSeed(seedHex: string): { privateKey: KeyObject; publicKey: KeyObject } {
  const der = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), Buffer.from(seedHex, "hex")]);
  const privateKey = createPrivateKey({ key: der, format: "der", type: "pkcs8" });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

export function play(over: Partial<PlayRecord> = {}): PlayRecord {
  return {
    campaign: "cola-dec",
    customer: "cola-co",
    creative: "cola-15",
    creativeSha256: "a".repeat(64),
    renditionSha256: "b".repeat(64),
    scheduleVersion: 7,
    plannedAt: "2026-12-01T00:00:00.000Z",
    startedAt: "2026-12-01T00:00:00.100Z",
    endedAt: "2026-12-01T00:00:15.100Z",
    durationMs: 15000,
    status: "completed",
    makeGood: false,
    screenState: { verified: true, online: true, brightness: 85, blackout: false },
    ...over,
  };
}

export interface TestLedger {
  db: Db;
  ledger: Ledger;
  publicKey: KeyObject;
  privateKey: KeyObject;
  clock: ReturnType<typeof fixedClock>;
}

export function makeLedger(dir: string, screenId = "sz-nanshan-001"): TestLedger {
  const keys = generateKeyPairSync("ed25519");
  const db = openDatabase(join(dir, "ledagent.db"));
  const clock = fixedClock(new Date("2026-12-01T00:00:00Z"));
  const ledger = new Ledger({ db, screenId, keys, clock });
  return { db, ledger, publicKey: keys.publicKey, privateKey: keys.privateKey, clock };
}

/** A small mixed ledger: two customers' plays interleaved with events. */
export function fillLedger(t: TestLedger, plays = 6): void {
  t.ledger.event("agent.started", { version: "test" });
  for (let i = 0; i < plays; i++) {
    const customer = i % 2 === 0 ? "cola-co" : "pepsi-co";
    const start = t.clock.now();
    t.clock.advance(15_000);
    t.ledger.append({
      kind: "play",
      play: play({
        customer,
        campaign: `${customer}-dec`,
        creative: `${customer}-15`,
        plannedAt: start.toISOString(),
        startedAt: start.toISOString(),
        endedAt: t.clock.now().toISOString(),
      }),
    });
  }
  t.ledger.event("technician.note", { text: "cleaned the panel" });
}
