// ledagent's verifier and an independent one written from the contract alone
// (./independent-verifier.ts) must agree on every export: ok or not, and the first bad seq.
import { generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { PassThrough } from "node:stream";
import canonicalize from "canonicalize";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  Ledger,
  exportJsonl,
  fixedClock,
  verifyLines,
  type Checkpoint,
  type EventType,
  type ExportFilter,
  type LedgerReader,
  type VerifyResult,
} from "../../agent/proofs/index.js";
import { openDatabase } from "../../agent/store/index.js";
import { tempDir } from "../helpers/tmp.js";
import { fillLedger, makeLedger, play, type TestLedger } from "./fixtures.js";
import { independentVerify, type IndependentResult } from "./independent-verifier.js";

/** A technician's note that exercises RFC 8785 string escaping: CJK, an astral emoji, U+2028, quotes, backslash, control. */
const UNICODE_TEXT = '换了3号模组 — café ✓ 🚀 \u2028 "quoted" back\\slash tab\t ctl\u0001';

type Obj = Record<string, unknown>;

async function exportText(reader: LedgerReader, filter: ExportFilter = {}): Promise<string> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (c: Buffer) => chunks.push(c));
  await exportJsonl(reader, filter, out);
  out.end();
  return Buffer.concat(chunks).toString("utf8");
}

/** The export's lines: split at "\n", without the empty string after the final newline. */
function toLines(text: string): string[] {
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

function edit(line: string, fn: (x: Obj) => void): string {
  const x = JSON.parse(line) as Obj;
  fn(x);
  return JSON.stringify(x);
}

function sub(x: Obj, key: string): Obj {
  return x[key] as Obj;
}

interface Verdicts {
  project: VerifyResult;
  independent: IndependentResult;
}

async function verifyBoth(lines: string[], publicKey: KeyObject, head?: Checkpoint): Promise<Verdicts> {
  const project = await verifyLines(lines, { publicKey, head });
  const independent = independentVerify(lines, { publicKey, head });
  return { project, independent };
}

function describeVerdicts(v: Verdicts): string {
  const p = v.project.ok ? "ok" : `${v.project.reason} at seq ${String(v.project.seq)} (${v.project.message})`;
  const i = v.independent.ok ? "ok" : `${v.independent.reason} at seq ${String(v.independent.seq)} (${v.independent.detail})`;
  return `ledagent: ${p}\nindependent: ${i}`;
}

function agree(v: Verdicts): boolean {
  if (v.project.ok !== v.independent.ok) return false;
  return v.project.ok || v.independent.ok || v.project.seq === v.independent.seq;
}

type Want = "ok" | { seq: number | null };

/** Both verifiers agree, and (when given) on this verdict. */
async function expectAgree(lines: string[], publicKey: KeyObject, head: Checkpoint | undefined, want?: Want): Promise<Verdicts> {
  const v = await verifyBoth(lines, publicKey, head);
  const msg = describeVerdicts(v);
  expect(agree(v), msg).toBe(true);
  if (want === "ok") expect(v.project.ok, msg).toBe(true);
  else if (want !== undefined) {
    expect(v.project.ok, msg).toBe(false);
    if (!v.project.ok) expect(v.project.seq, msg).toBe(want.seq);
  }
  return v;
}

/** A ledger whose private key the test holds, to forge device-signed things deliberately. */
function keyedLedger(dir: string, screenId = "sz-nanshan-001"): TestLedger & { privateKey: KeyObject } {
  const keys = generateKeyPairSync("ed25519");
  const db = openDatabase(`${dir}/ledagent.db`);
  const clock = fixedClock(new Date("2026-12-01T00:00:00Z"));
  const ledger = new Ledger({ db, screenId, keys, clock });
  return { db, ledger, publicKey: keys.publicKey, clock, privateKey: keys.privateKey };
}

function signWith(unsigned: Obj, privateKey: KeyObject): string {
  return sign(null, Buffer.from(canonicalize(unsigned) as string, "utf8"), privateKey).toString("base64");
}

/** Re-renders a JSON value with keys in reverse order at every level. */
function reverseKeys(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(reverseKeys);
  if (typeof x !== "object" || x === null) return x;
  return Object.fromEntries(
    Object.keys(x)
      .reverse()
      .map((k) => [k, reverseKeys((x as Obj)[k])]),
  );
}

/** Every character of every string as a \uXXXX escape (surrogate pairs as two escapes). */
function escapeAll(line: string): string {
  return line.replace(/"((?:[^"\\]|\\.)*)"/g, (_m, body: string) => {
    const s = JSON.parse(`"${body}"`) as string;
    let out = "";
    for (let i = 0; i < s.length; i++) out += `\\u${s.charCodeAt(i).toString(16).padStart(4, "0")}`;
    return `"${out}"`;
  });
}

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
// Property: a random mutation of a random line of a random export is caught by both verifiers,
// at the same seq, or accepted by both when it is semantically neutral.

interface Fixture {
  name: string;
  lines: string[];
  head: Checkpoint;
  publicKey: KeyObject;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = (string | number)[];

function leaves(x: Json, path: Path = []): Path[] {
  if (x === null || typeof x !== "object") return [path];
  const keys: (string | number)[] = Array.isArray(x) ? x.map((_v, i) => i) : Object.keys(x);
  return keys.flatMap((k) => leaves((x as Record<string | number, Json>)[k], [...path, k]));
}

function getAt(x: Json, path: Path): Json {
  return path.reduce<Json>((acc, k) => (acc as Record<string | number, Json>)[k], x);
}

function setAt(x: Json, path: Path, value: Json): void {
  const parent = getAt(x, path.slice(0, -1)) as Record<string | number, Json>;
  parent[path[path.length - 1]] = value;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/** The same JSON value in another text: shuffled keys, random whitespace, \u escapes, other number notations. */
function rerender(x: Json, rnd: () => number): string {
  const ws = (): string => [" ", "\t", "", "", ""][Math.floor(rnd() * 5)];
  if (x === null || typeof x === "boolean") return JSON.stringify(x);
  if (typeof x === "number") {
    if (!Number.isInteger(x)) return String(x);
    const forms = [`${x}`, `${x}.0`, `${x}e0`, `${x}0E-1`, `${x}.000e+0`];
    if (x === 0) forms.push("-0");
    return forms[Math.floor(rnd() * forms.length)];
  }
  if (typeof x === "string") {
    let out = '"';
    for (let i = 0; i < x.length; i++) {
      const ch = x[i];
      const code = x.charCodeAt(i);
      if (rnd() < 0.2 || code >= 0xd800 && code <= 0xdfff) {
        const hex = code.toString(16).padStart(4, "0");
        out += `\\u${rnd() < 0.5 ? hex : hex.toUpperCase()}`;
      }
      else out += JSON.stringify(ch).slice(1, -1);
    }
    return `${out}"`;
  }
  if (Array.isArray(x)) return `[${ws()}${x.map((v) => `${ws()}${rerender(v, rnd)}${ws()}`).join(",")}${ws()}]`;
  const keys = Object.keys(x);
  for (let i = keys.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [keys[i], keys[j]] = [keys[j], keys[i]];
  }
  return `{${ws()}${keys.map((k) => `${ws()}${rerender(k, rnd)}${ws()}:${ws()}${rerender(x[k], rnd)}${ws()}`).join(",")}${ws()}}`;
}

type Mutation =
  | { kind: "rerender"; seed: number }
  | { kind: "leaf"; pick: number; pos: number; delta: number }
  | { kind: "dropField"; pick: number }
  | { kind: "addField"; name: string; value: number }
  | { kind: "deleteLine" }
  | { kind: "duplicateLine" }
  | { kind: "swapNext" }
  | { kind: "cut"; pos: number }
  | { kind: "retype"; text: string };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("rerender" as const), seed: fc.integer() }),
  fc.record({ kind: fc.constant("leaf" as const), pick: fc.nat(), pos: fc.nat(), delta: fc.integer({ min: 1, max: 1000 }) }),
  fc.record({ kind: fc.constant("dropField" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("addField" as const), name: fc.string({ minLength: 1, maxLength: 8 }), value: fc.integer() }),
  fc.record({ kind: fc.constant("deleteLine" as const) }),
  fc.record({ kind: fc.constant("duplicateLine" as const) }),
  fc.record({ kind: fc.constant("swapNext" as const) }),
  fc.record({ kind: fc.constant("cut" as const), pos: fc.nat() }),
  fc.record({ kind: fc.constantFrom("retype" as const), text: fc.constantFrom("null", "[]", "42", '"x"', "{}", "") }),
);

const HEX = "0123456789abcdef";

/** Applies the mutation to line `i`; returns the new lines and whether the change must be caught. */
function mutate(f: Fixture, i: number, m: Mutation, withHead: boolean): { lines: string[]; mustCatch: boolean } | null {
  const ls = [...f.lines];
  const x = JSON.parse(ls[i]) as Json & Obj;
  const isStub = "hash" in x;
  const last = i === ls.length - 1;
  switch (m.kind) {
    case "rerender":
      ls[i] = rerender(x, mulberry32(m.seed));
      return { lines: ls, mustCatch: false };
    case "leaf": {
      const paths = leaves(x);
      const path = paths[m.pick % paths.length];
      const old = getAt(x, path);
      if (typeof old === "string") {
        const cps = Array.from(old); // by code point: never split a surrogate pair (see the lone-surrogate test)
        // The 86th base64 character of a sig carries 4 padding bits: see the non-canonical base64 test.
        const n = path[0] === "sig" ? 85 : cps.length;
        if (n === 0) return null;
        const p = m.pos % n;
        let c = HEX[m.delta % 16];
        if (c === cps[p]) c = HEX[(m.delta + 1) % 16];
        cps[p] = c;
        setAt(x, path, cps.join(""));
      } else if (typeof old === "number") setAt(x, path, old + m.delta);
      else if (typeof old === "boolean") setAt(x, path, !old);
      else setAt(x, path, 0);
      ls[i] = JSON.stringify(x);
      // A stub's hash is confirmed only by the next whole entry's prev, or by the head.
      const stubHash = isStub && path[0] === "hash";
      const confirmed = !stubHash || (last ? withHead : !("hash" in (JSON.parse(ls[i + 1]) as Obj)));
      return { lines: ls, mustCatch: confirmed };
    }
    case "dropField": {
      const keys = Object.keys(x);
      delete x[keys[m.pick % keys.length]];
      ls[i] = JSON.stringify(x);
      return { lines: ls, mustCatch: true };
    }
    case "addField":
      if (m.name in x) return null;
      x[m.name] = m.value;
      ls[i] = JSON.stringify(x);
      return { lines: ls, mustCatch: true };
    case "deleteLine":
      if (i === 0) return null; // an export may start anywhere
      ls.splice(i, 1);
      return { lines: ls, mustCatch: !last || withHead };
    case "duplicateLine":
      ls.splice(i, 0, ls[i]);
      return { lines: ls, mustCatch: true };
    case "swapNext":
      if (last) return null;
      [ls[i], ls[i + 1]] = [ls[i + 1], ls[i]];
      return { lines: ls, mustCatch: true };
    case "cut":
      ls[i] = ls[i].slice(0, m.pos % ls[i].length);
      return { lines: ls, mustCatch: true };
    case "retype":
      ls[i] = m.text;
      return { lines: ls, mustCatch: true };
  }
}

describe("property: random mutations of random exports", () => {
  const fixtures: Fixture[] = [];
  const dirs: ReturnType<typeof tempDir>[] = [];
  const dbs: TestLedger[] = [];

  beforeAll(async () => {
    for (const plays of [1, 4, 9]) {
      const tmp = tempDir();
      dirs.push(tmp);
      const t = makeLedger(tmp.dir);
      dbs.push(t);
      fillLedger(t, plays);
      t.ledger.event("technician.note", { text: UNICODE_TEXT });
      t.ledger.append({ kind: "play", play: play({ customer: "cola-co", status: "dark", screenState: { verified: false, online: false, brightness: null, blackout: null } }) });
      const head = t.ledger.checkpoint();
      for (const filter of [{}, { customer: "cola-co" }, { customer: "pepsi-co" }] as ExportFilter[]) {
        const ls = toLines(await exportText(t.ledger, filter));
        if (ls.length > 0) fixtures.push({ name: `${plays} plays ${JSON.stringify(filter)}`, lines: ls, head, publicKey: t.publicKey });
      }
    }
  });
  afterAll(() => {
    for (const t of dbs) t.db.close();
    for (const d of dirs) d.cleanup();
  });

  it("both verifiers catch every non-neutral mutation at the same seq, and accept every neutral one", async () => {
    for (const f of fixtures) expect((await verifyBoth(f.lines, f.publicKey, f.head)).project.ok, f.name).toBe(true);
    let caught = 0;
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.nat(), mutationArb, fc.boolean(), async (fi, li, m, withHead) => {
        const f = fixtures[fi % fixtures.length];
        const i = li % f.lines.length;
        const mutated = mutate(f, i, m, withHead);
        fc.pre(mutated !== null);
        if (mutated === null) return;
        const v = await verifyBoth(mutated.lines, f.publicKey, withHead ? f.head : undefined);
        const msg = `${f.name}, line ${i + 1}, ${JSON.stringify(m)}, head ${withHead}\n${describeVerdicts(v)}\n${mutated.lines[i] ?? ""}`;
        expect(agree(v), msg).toBe(true);
        if (m.kind === "rerender") expect(v.project.ok, msg).toBe(true);
        if (mutated.mustCatch) {
          expect(v.project.ok, msg).toBe(false);
          caught++;
        }
      }),
      { numRuns: 600 },
    );
    expect(caught).toBeGreaterThan(200);
  });
});

// ---------------------------------------------------------------------------------------------
// Where the two once disagreed, or ledagent broke its own contract: found in review, now fixed.

describe("defects found in review", () => {
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
