// ledagent's verifier and an independent one written from the contract alone
// (./independent-verifier.ts) must agree on every export: ok or not, and the first bad seq.
import { generateKeyPairSync } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Ledger, type Checkpoint, type EventType } from "../../agent/proofs/index.js";
import { tempDir } from "../helpers/tmp.js";
import { fillLedger, makeLedger, play, type TestLedger } from "./fixtures.js";
import { UNICODE_TEXT, type Obj, exportText, toLines, edit, sub, expectAgree, keyedLedger, signWith, reverseKeys, escapeAll } from "./independent-helpers.js";

describe("independent verifier agrees with ledagent's", () => {
  let tmp: ReturnType<typeof tempDir>;
  let t: TestLedger;
  let head: Checkpoint;
  let lines: string[];

  beforeEach(async () => {
    tmp = tempDir();
    t = makeLedger(tmp.dir);
    fillLedger(t, 8); // seq 1 agent.started, 2..9 plays (cola 2,4,6,8; pepsi 3,5,7,9), 10 note
    t.clock.advance(60_000);
    t.ledger.event("technician.note", { text: UNICODE_TEXT, by: "技术员 Zoë" }); // seq 11
    head = t.ledger.checkpoint();
    lines = toLines(await exportText(t.ledger));
  });
  afterEach(() => {
    t.db.close();
    tmp.cleanup();
  });

  describe("exports as written", () => {
    it("the full export verifies, with and without the signed head", async () => {
      expect(lines).toHaveLength(11);
      const v = await expectAgree(lines, t.publicKey, undefined, "ok");
      expect(v.independent).toMatchObject({ ok: true, entries: 11, stubs: 0, firstSeq: 1, lastSeq: 11 });
      await expectAgree(lines, t.publicKey, head, "ok");
    });

    it("filtered exports (--customer, --campaign) show stubs and verify against the head", async () => {
      for (const filter of [{ customer: "cola-co" }, { customer: "pepsi-co" }, { campaign: "pepsi-co-dec" }]) {
        const ls = toLines(await exportText(t.ledger, filter));
        const parsed = ls.map((l) => JSON.parse(l) as Obj);
        const customer = filter.customer ?? "pepsi-co";
        for (const x of parsed) {
          if ("hash" in x) expect(Object.keys(x).sort()).toEqual(["hash", "seq"]);
          else expect(sub(x, "play").customer).toBe(customer);
        }
        expect(parsed.some((x) => "hash" in x)).toBe(true);
        expect(parsed[parsed.length - 1].seq).toBe(11); // runs to the head
        await expectAgree(ls, t.publicKey, undefined, "ok");
        await expectAgree(ls, t.publicKey, head, "ok");
      }
    });

    it("a time-window export verifies; against the later head it is cut short, and both say where", async () => {
      const ls = toLines(await exportText(t.ledger, { from: "2026-12-01T00:00:30.000Z", to: "2026-12-01T00:01:00.000Z" }));
      expect(ls.map((l) => (JSON.parse(l) as Obj).seq)).toEqual([4, 5]);
      await expectAgree(ls, t.publicKey, undefined, "ok");
      await expectAgree(ls, t.publicKey, head, { seq: 6 });
    });

    it("a filter that matches nothing proves nothing", async () => {
      const ls = toLines(await exportText(t.ledger, { customer: "nobody" }));
      expect(ls).toEqual([]);
      await expectAgree(ls, t.publicKey, undefined, { seq: null });
    });

    it("an export may start mid-ledger (its first line links to nothing)", async () => {
      await expectAgree(lines.slice(4), t.publicKey, head, "ok");
    });
  });

  describe("tampering with one field", () => {
    it("edited play status", async () => {
      lines[4] = edit(lines[4], (x) => (sub(x, "play").status = "completed"));
      lines[4] = edit(lines[4], (x) => (sub(x, "play").makeGood = true));
      await expectAgree(lines, t.publicKey, head, { seq: 5 });
    });

    it("edited wall time", async () => {
      lines[2] = edit(lines[2], (x) => (x.at = "2026-12-01T09:00:00.000Z"));
      await expectAgree(lines, t.publicKey, head, { seq: 3 });
    });

    it("edited clock stamp (monotonic ms, sync flag)", async () => {
      lines[1] = edit(lines[1], (x) => (sub(x, "clock").monoMs = 1));
      await expectAgree(lines, t.publicKey, head, { seq: 2 });
      lines[1] = edit(lines[1], (x) => (sub(x, "clock").synced = false));
      await expectAgree(lines, t.publicKey, head, { seq: 2 });
    });

    it("edited deep field (screenState.brightness) and a field set to null", async () => {
      lines[5] = edit(lines[5], (x) => (sub(sub(x, "play"), "screenState").brightness = 100));
      await expectAgree(lines, t.publicKey, head, { seq: 6 });
      lines[5] = edit(lines[5], (x) => (sub(x, "play").durationMs = null));
      await expectAgree(lines, t.publicKey, head, { seq: 6 });
    });

    it("edited event detail and screen", async () => {
      const first = edit(lines[0], (x) => (sub(x, "event").version = "forged"));
      await expectAgree([first, ...lines.slice(1)], t.publicKey, head, { seq: 1 });
      lines[6] = edit(lines[6], (x) => (x.screen = "sz-other-002"));
      await expectAgree(lines, t.publicKey, head, { seq: 7 });
    });

    it("prev rewritten to another real hash (relinking without the key)", async () => {
      const stubHashes = toLines(await exportText(t.ledger, { customer: "pepsi-co" })).map((l) => JSON.parse(l) as Obj);
      const h2 = stubHashes.find((x) => x.seq === 2)?.hash as string;
      lines[6] = edit(lines[6], (x) => (x.prev = h2));
      await expectAgree(lines, t.publicKey, head, { seq: 7 });
    });

    it("seq field rewritten (to a later seq, an earlier seq, a string)", async () => {
      const orig = lines[3];
      lines[3] = edit(orig, (x) => (x.seq = 40));
      await expectAgree(lines, t.publicKey, head, { seq: 4 });
      lines[3] = edit(orig, (x) => (x.seq = 3));
      await expectAgree(lines, t.publicKey, head, { seq: 3 });
      lines[3] = edit(orig, (x) => (x.seq = "4"));
      await expectAgree(lines, t.publicKey, head, { seq: 4 });
    });

    it("an added field, a removed field, a removed sig", async () => {
      const orig = lines[2];
      lines[2] = edit(orig, (x) => (x.note = "added"));
      await expectAgree(lines, t.publicKey, head, { seq: 3 });
      lines[2] = edit(orig, (x) => delete sub(x, "play").makeGood);
      await expectAgree(lines, t.publicKey, head, { seq: 3 });
      lines[2] = edit(orig, (x) => delete x.sig);
      await expectAgree(lines, t.publicKey, head, { seq: 3 });
    });

    it("a signature moved from another entry, flipped, or malleated (S + L)", async () => {
      const orig = lines[7];
      const other = (JSON.parse(lines[6]) as Obj).sig as string;
      lines[7] = edit(orig, (x) => (x.sig = other));
      await expectAgree(lines, t.publicKey, head, { seq: 8 });
      lines[7] = edit(orig, (x) => (x.sig = (x.sig as string).replace(/^./, (c) => (c === "A" ? "B" : "A"))));
      await expectAgree(lines, t.publicKey, head, { seq: 8 });
      // Ed25519 malleability: S' = S + L is the same signature to a lax verifier.
      lines[7] = edit(orig, (x) => {
        const sig = Buffer.from(x.sig as string, "base64");
        const L = 2n ** 252n + 27742317777372353535851937790883648493n;
        let s = BigInt(`0x${Buffer.from(sig.subarray(32)).reverse().toString("hex")}`) + L;
        const out = Buffer.alloc(32);
        for (let i = 0; i < 32; i++, s >>= 8n) out[i] = Number(s & 0xffn);
        x.sig = Buffer.concat([sig.subarray(0, 32), out]).toString("base64");
      });
      await expectAgree(lines, t.publicKey, head, { seq: 8 });
    });

    it("the unicode note: an NFD-normalised text or a swapped emoji or line separator is caught; a \\u-escaped one is the same text", async () => {
      const orig = lines[10];
      lines[10] = edit(orig, (x) => (sub(x, "event").text = UNICODE_TEXT.normalize("NFD")));
      await expectAgree(lines, t.publicKey, head, { seq: 11 });
      lines[10] = edit(orig, (x) => (sub(x, "event").text = UNICODE_TEXT.replace("🚀", "🚁")));
      await expectAgree(lines, t.publicKey, head, { seq: 11 });
      lines[10] = edit(orig, (x) => (sub(x, "event").text = UNICODE_TEXT.replace("\u2028", "\n")));
      await expectAgree(lines, t.publicKey, head, { seq: 11 });
      lines[10] = escapeAll(orig);
      expect(lines[10]).not.toBe(orig);
      await expectAgree(lines, t.publicKey, head, "ok");
    });
  });

  describe("tampering with lines", () => {
    it("a deleted entry is a gap naming the missing seq; two deleted, the first of them", async () => {
      await expectAgree([...lines.slice(0, 3), ...lines.slice(4)], t.publicKey, head, { seq: 4 });
      await expectAgree([...lines.slice(0, 3), ...lines.slice(5)], t.publicKey, head, { seq: 4 });
    });

    it("a deleted last entry passes without a head and is truncation against it", async () => {
      await expectAgree(lines.slice(0, 10), t.publicKey, undefined, "ok");
      await expectAgree(lines.slice(0, 10), t.publicKey, head, { seq: 11 });
      await expectAgree(lines.slice(0, 5), t.publicKey, head, { seq: 6 });
    });

    it("an inserted entry signed by another key, at the right seq and linking correctly", async () => {
      const other = generateKeyPairSync("ed25519");
      const prevHash = (JSON.parse(toLines(await exportText(t.ledger, { customer: "pepsi-co" }))[1]) as Obj).hash;
      expect((JSON.parse(toLines(await exportText(t.ledger, { customer: "pepsi-co" }))[1]) as Obj).seq).toBe(4);
      // A forged seq 5 linking to the real seq 4, in place of the real seq 5.
      const forged = JSON.parse(lines[4]) as Obj;
      delete forged.sig;
      forged.prev = prevHash;
      sub(forged, "play").status = "completed";
      forged.sig = signWith(forged, other.privateKey);
      const ls = [...lines];
      ls[4] = JSON.stringify(forged);
      await expectAgree(ls, t.publicKey, head, { seq: 5 });
      // Inserted as an extra line before the real seq 5.
      await expectAgree([...lines.slice(0, 4), JSON.stringify(forged), ...lines.slice(4)], t.publicKey, head, { seq: 5 });
    });

    it("a copy of an earlier entry inserted later is a reorder at its seq", async () => {
      await expectAgree([...lines.slice(0, 6), lines[2], ...lines.slice(6)], t.publicKey, head, { seq: 3 });
    });

    it("two swapped entries, and an entry moved far back, are reorders", async () => {
      const swapped = [...lines];
      [swapped[3], swapped[4]] = [swapped[4], swapped[3]];
      await expectAgree(swapped, t.publicKey, head, { seq: 4 });
      await expectAgree([...lines.slice(0, 3), ...lines.slice(4, 9), lines[3], ...lines.slice(9)], t.publicKey, head, { seq: 4 });
    });

    it("a duplicated line", async () => {
      await expectAgree([...lines.slice(0, 6), lines[5], ...lines.slice(6)], t.publicKey, head, { seq: 6 });
      await expectAgree([...lines, lines[10]], t.publicKey, head, { seq: 11 });
    });

    it("the wrong public key fails at the first entry", async () => {
      await expectAgree(lines, generateKeyPairSync("ed25519").publicKey, undefined, { seq: 1 });
    });

    it("a head rewritten or signed by another key is refused", async () => {
      const other = generateKeyPairSync("ed25519");
      const { sig: _sig, ...unsigned } = head;
      const foreign = { ...unsigned, sig: signWith(unsigned, other.privateKey) };
      await expectAgree(lines, t.publicKey, foreign, { seq: null });
      await expectAgree(lines, t.publicKey, { ...head, seq: 12 }, { seq: null });
      await expectAgree(lines, t.publicKey, { ...head, hash: "0".repeat(64) }, { seq: null });
      // An entry rewritten after the checkpoint (re-signed by someone else) is caught at the head's seq.
      const rewritten = JSON.parse(lines[10]) as Obj;
      delete rewritten.sig;
      rewritten.sig = signWith(rewritten, other.privateKey);
      await expectAgree([...lines.slice(0, 10), JSON.stringify(rewritten)], t.publicKey, head, { seq: 11 });
    });

    it("malformed lines: not JSON, cut short, an array, null, a number, an object that is neither entry nor stub", async () => {
      for (const bad of ['{"seq":5,', lines[4].slice(0, 100), "[1,2]", "null", "5", '{"seq":5}', '{"hello":"world"}']) {
        const ls = [...lines];
        ls[4] = bad;
        await expectAgree(ls, t.publicKey, head, { seq: 5 });
      }
    });
  });

  describe("stubs", () => {
    it("a falsified stub hash breaks the link into the next whole entry; inside a run of stubs it is taken on trust", async () => {
      const ls = toLines(await exportText(t.ledger, { customer: "cola-co" }));
      // seq 2 cola, 3 stub, 4 cola, 5 stub, 6 cola, 7 stub, 8 cola, 9 stub, 10 stub, 11 stub
      expect(ls.map((l) => ("hash" in (JSON.parse(l) as Obj) ? "s" : "e")).join("")).toBe("esesesesss");
      const falsified = [...ls];
      falsified[1] = edit(ls[1], (x) => (x.hash = "0".repeat(64)));
      await expectAgree(falsified, t.publicKey, head, { seq: 4 });
      const inner = [...ls];
      inner[7] = edit(ls[7], (x) => (x.hash = "0".repeat(64)));
      await expectAgree(inner, t.publicKey, head, "ok"); // documented: inner stubs are unconfirmed
      const last = [...ls];
      last[9] = edit(ls[9], (x) => (x.hash = "0".repeat(64)));
      await expectAgree(last, t.publicKey, undefined, "ok");
      await expectAgree(last, t.publicKey, head, { seq: 11 }); // the head confirms it
    });

    it("a stub with an uppercase or short hash, or a missing seq, is malformed", async () => {
      const ls = toLines(await exportText(t.ledger, { customer: "cola-co" }));
      const hash = (JSON.parse(ls[1]) as Obj).hash as string;
      for (const bad of [`{"seq":3,"hash":"${hash.toUpperCase()}"}`, `{"seq":3,"hash":"${hash.slice(2)}"}`, `{"sequence":3,"hash":"${hash}"}`]) {
        const b = [...ls];
        b[1] = bad;
        await expectAgree(b, t.publicKey, head, { seq: 3 });
      }
    });

    it("replacing a whole entry by its true stub still verifies (redaction is allowed by design)", async () => {
      const stub = toLines(await exportText(t.ledger, { customer: "cola-co" }))[1];
      expect(JSON.parse(stub)).toMatchObject({ seq: 3 });
      await expectAgree([...lines.slice(0, 2), stub, ...lines.slice(3)], t.publicKey, head, "ok");
    });
  });

  describe("semantically neutral changes verify", () => {
    it("keys in another order at every level", async () => {
      const reordered = lines.map((l) => JSON.stringify(reverseKeys(JSON.parse(l))));
      expect(reordered[3]).not.toBe(lines[3]);
      await expectAgree(reordered, t.publicKey, head, "ok");
    });

    it("whitespace between tokens, around the line, and CRLF line ends", async () => {
      const spaced = lines.map((l) => `  ${JSON.stringify(JSON.parse(l), null, 2).replace(/\n/g, " \t")} \r`);
      await expectAgree(spaced, t.publicKey, head, "ok");
    });

    it("numbers in other notations (1.0, 1.5e4)", async () => {
      const renumbered = lines.map((l) =>
        l.replace(/"seq":(\d+)/, '"seq":$1.0').replace(/"durationMs":15000/, '"durationMs":1.5e4').replace(/"v":1/, '"v":10E-1'),
      );
      expect(renumbered[1]).toContain('"durationMs":1.5e4');
      await expectAgree(renumbered, t.publicKey, head, "ok");
    });

    it("whitespace inside a string is not neutral", async () => {
      lines[9] = lines[9].replace("cleaned the panel", "cleaned  the panel");
      await expectAgree(lines, t.publicKey, head, { seq: 10 });
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Cases where the two once disagreed, or ledagent broke its own contract; each was fixed.

describe("former defects", () => {
  let tmp: ReturnType<typeof tempDir>;
  let t: ReturnType<typeof keyedLedger>;
  let head: Checkpoint;
  let lines: string[];

  beforeEach(async () => {
    tmp = tempDir();
    t = keyedLedger(tmp.dir);
    fillLedger(t, 8);
    head = t.ledger.checkpoint();
    lines = toLines(await exportText(t.ledger));
  });
  afterEach(() => {
    t.db.close();
    tmp.cleanup();
  });

  it("a line with a lone surrogate is malformed, not an exception out of verifyLines", async () => {
    lines[9] = lines[9].replace("cleaned the panel", "cleaned the panel\\ud800");
    await expectAgree(lines, t.publicKey, head, { seq: 10 });
  });

  it("an export of stubs only holds no signed entry and proves nothing (any key 'verifies' it)", async () => {
    // The cola-co export ends in a run of stubs (seq 9 pepsi, seq 10 the note): keep only that run.
    const stubs = toLines(await exportText(t.ledger, { customer: "cola-co" })).slice(-2);
    expect(stubs.map((l) => JSON.parse(l) as Obj)).toMatchObject([{ seq: 9 }, { seq: 10 }]);
    expect(stubs.every((l) => Object.keys(JSON.parse(l) as Obj).length === 2)).toBe(true);
    const anyKey = generateKeyPairSync("ed25519").publicKey;
    await expectAgree(stubs, anyKey, undefined, { seq: null });
  });

  it("a sig in non-canonical base64 (padding bits set) is caught at its own seq, even on the last line", async () => {
    const twiddle = (l: string): string =>
      edit(l, (x) => {
        const s = x.sig as string;
        const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        x.sig = s.slice(0, 85) + alphabet[alphabet.indexOf(s[85]) ^ 1] + s.slice(86);
        expect(Buffer.from(x.sig as string, "base64").equals(Buffer.from(s, "base64"))).toBe(true);
      });
    const middle = [...lines];
    middle[4] = twiddle(lines[4]);
    await expectAgree(middle, t.publicKey, head, { seq: 5 }); // ledagent: broken link at 6
    const last = [...lines];
    last[9] = twiddle(lines[9]);
    await expectAgree(last, t.publicKey, undefined, { seq: 10 }); // ledagent: ok
  });

  it("a line with a duplicate key is malformed (RFC 8785 needs I-JSON; parsers disagree on which value wins)", async () => {
    // Another parser (first-wins) would read this play as "failed"; JSON.parse reads the signed "completed".
    lines[4] = lines[4].replace('"play":{', '"play":{"status":"failed",');
    expect(lines[4]).toContain('"status":"failed"');
    await expectAgree(lines, t.publicKey, head, { seq: 5 });
  });

  it("a gap followed by a malformed line names the gap, the first bad seq", async () => {
    // seq 1..3, (4 deleted), 5, then seq 6 cut short: the first bad seq is 4.
    const ls = [...lines.slice(0, 3), lines[4], lines[5].slice(0, 50), ...lines.slice(6)];
    await expectAgree(ls, t.publicKey, head, { seq: 4 }); // ledagent: malformed at 6
  });

  it("a stub with seq 0 (format v1 seqs start at 1) is malformed", async () => {
    await expectAgree([`{"seq":0,"hash":"${"0".repeat(64)}"}`, ...lines], t.publicKey, head, { seq: null });
  });

  it("an export saved with a UTF-8 byte-order mark still verifies", async () => {
    await expectAgree([`\uFEFF${lines[0]}`, ...lines.slice(1)], t.publicKey, head, "ok");
  });

  /** Either the ledger refuses the append (and stays verifiable), or what it committed verifies. */
  async function refusedOrVerifies(append: () => void): Promise<void> {
    try {
      append();
    } catch {
      // refused: fine, as long as the ledger still verifies
    }
    await expectAgree(toLines(await exportText(t.ledger)), t.publicKey, undefined, "ok");
  }

  it("the ledger never commits an entry its own verifier rejects (unknown event type)", async () => {
    // A typo'd or newer type from a caller or the network: committed, then every export fails at it.
    await refusedOrVerifies(() => t.ledger.event("schedule.aplied" as EventType, { version: 8 }));
  });

  it("the ledger never commits an entry its own verifier rejects (play without startedAt)", async () => {
    const p: Obj = { ...play() };
    delete p.startedAt; // e.g. the player died before its first frame
    await refusedOrVerifies(() => t.ledger.append({ kind: "play", play: p as unknown as ReturnType<typeof play> }));
  });

  it("the ledger refuses a play the spec calls malformed (status not one of the four)", async () => {
    // ledagent's verifier checks 6 of the play's 13 fields, so this one even verifies there.
    const bad = play({ status: "done" as ReturnType<typeof play>["status"] });
    expect(() => t.ledger.append({ kind: "play", play: bad })).toThrow();
  });

  it("a changed screenId in the config does not leave an unverifiable ledger", async () => {
    const keys = { privateKey: t.privateKey, publicKey: t.publicKey };
    await refusedOrVerifies(() => new Ledger({ db: t.db, screenId: "sz-renamed-001", keys, clock: t.clock }).event("agent.started", { version: "test" }));
  });
});
