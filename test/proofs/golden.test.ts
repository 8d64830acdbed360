// Golden vectors: entries written out by hand in canonical form, with their hash and signature
// computed independently of this code (Python's hashlib and the `cryptography` package's Ed25519
// over the same bytes, with the RFC 8032 test key), checked byte for byte.
import { describe, expect, it } from "vitest";
import { canonicalString, signCanonical } from "../../agent/crypto/index.js";
import { entryHash, fixedClock, Ledger, verifyLines, type Entry } from "../../agent/proofs/index.js";
import { openDatabase } from "../../agent/store/index.js";
import { keyFromSeed, play, RFC8032_PUBLIC, RFC8032_SEED } from "./fixtures.js";

const ZEROS = "0".repeat(64);
const CANONICAL_1 =
  '{"at":"2026-12-01T00:00:00.000Z","clock":{"bootId":"b0","monoMs":1000,"synced":true},' +
  '"event":{"text":"换了3号模组","type":"technician.note"},"kind":"event",' +
  `"prev":"${ZEROS}","screen":"sz-nanshan-001","seq":1,` +
  '"sig":"HPHvUemIJYj6sYdaHjxAljz8Kp9NEk8EZ5LfanMbc3/jPrzugrv0DP6W3Dth1N0ziQ4YudZR0kInP6Z8IaPQCw==","v":1}';
const HASH_1 = "57cd4f300aec5c3fb91daf52cca2f0073d6a26b66e30ddde78f1c1911126405d";
const SIG_2 = "NisQcH3WO2UVPS8YRDJJj8pyi75vQt71O9Gvh78boDeqns1SBecu0eO/vhIfYwj7ixoELIgCSy/3lMgE6nqJDg==";
const HASH_2 = "de44c10c4bd2a022d9485ad34a3487904bfc82215f643c7d59973d267f13f3fe";

describe("golden vectors", () => {
  const keys = keyFromSeed(RFC8032_SEED);

  it("uses the RFC 8032 key whose public half is published", () => {
    const raw = keys.publicKey.export({ format: "der", type: "spki" }).subarray(-32);
    expect(raw.toString("hex")).toBe(RFC8032_PUBLIC);
  });

  // Field order scrambled on purpose: canonical form must not depend on it.
  const entry1 = {
    v: 1,
    sig: "HPHvUemIJYj6sYdaHjxAljz8Kp9NEk8EZ5LfanMbc3/jPrzugrv0DP6W3Dth1N0ziQ4YudZR0kInP6Z8IaPQCw==",
    seq: 1,
    screen: "sz-nanshan-001",
    prev: ZEROS,
    kind: "event",
    event: { type: "technician.note", text: "换了3号模组" },
    clock: { synced: true, monoMs: 1000, bootId: "b0" },
    at: "2026-12-01T00:00:00.000Z",
  } as const;

  it("canonical form, signature and hash of a hand-built entry", () => {
    expect(canonicalString(entry1)).toBe(CANONICAL_1);
    expect(Buffer.from(canonicalString(entry1), "utf8").equals(Buffer.from(CANONICAL_1, "utf8"))).toBe(true);
    const { sig, ...unsigned } = entry1;
    expect(signCanonical(unsigned, keys.privateKey)).toBe(sig);
    expect(entryHash(entry1 as unknown as Entry)).toBe(HASH_1);
  });

  it("the ledger writes exactly those bytes, and chains the next entry to their hash", async () => {
    const db = openDatabase(":memory:");
    const clock = fixedClock(new Date("2026-12-01T00:00:00.000Z"), { bootId: "b0" });
    const ledger = new Ledger({ db, screenId: "sz-nanshan-001", keys, clock });
    ledger.event("technician.note", { text: "换了3号模组" });
    clock.advance(15_250);
    const e2 = ledger.append({ kind: "play", play: play() });
    const rows = [...ledger.rows()];
    expect(rows[0].body).toBe(CANONICAL_1);
    expect(rows[0].hash).toBe(HASH_1);
    expect(e2.prev).toBe(HASH_1);
    expect(e2.sig).toBe(SIG_2);
    expect(rows[1].hash).toBe(HASH_2);
    const result = await verifyLines(rows.map((r) => r.body), { publicKey: keys.publicKey });
    expect(result).toMatchObject({ ok: true, entries: 2, firstSeq: 1, lastSeq: 2 });
    db.close();
  });
});

describe("RFC 8785 canonical JSON", () => {
  it.each([
    [{ b: 1, a: 2 }, '{"a":2,"b":1}'],
    // The RFC's own example literal: it is meant to round to the nearest double.
    // eslint-disable-next-line no-loss-of-precision
    [{ numbers: [333333333.33333329, 1e30, 4.5, 2e-3, 0.000001, 1e-7, -0] }, '{"numbers":[333333333.3333333,1e+30,4.5,0.002,0.000001,1e-7,0]}'],
    [{ string: "€$\u000f\nA'B\"\\\\\"/" }, '{"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'],
    // Keys sort by UTF-16 code units: "\r" < "1" < "\u0080" < "ö" < "€" < "😂" < "\ufb33".
    [{ "\u20ac": 1, "\r": 2, "\ufb33": 3, "1": 4, "\ud83d\ude02": 5, "\u0080": 6, "\u00f6": 7 }, '{"\\r":2,"1":4,"\u0080":6,"ö":7,"€":1,"😂":5,"\ufb33":3}'],
    [{ literals: [null, true, false] }, '{"literals":[null,true,false]}'],
  ])("canonical(%j)", (value, expected) => {
    expect(canonicalString(value)).toBe(expected);
  });

  it("refuses values JSON cannot carry", () => {
    expect(() => canonicalString({ x: NaN })).toThrow(/NaN/);
    expect(() => canonicalString({ x: Infinity })).toThrow(/Infinity/);
    expect(() => canonicalString({ x: "\ud800" })).toThrow(/surrogate/i);
  });
});
