// ledagent's verifier and the independent one (./independent-verifier.ts) under random mutation.
import type { KeyObject } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Checkpoint, ExportFilter } from "../../agent/proofs/index.js";
import { propertyParams } from "../helpers/property.js";
import { tempDir } from "../helpers/tmp.js";
import { fillLedger, makeLedger, play, type TestLedger } from "./fixtures.js";
import { UNICODE_TEXT, type Obj, exportText, toLines, verifyBoth, describeVerdicts, agree } from "./independent-helpers.js";

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
      propertyParams("proofs: random mutations of random exports", 600),
    );
    expect(caught).toBeGreaterThan(200); // of 600 runs (more in the nightly run)
  });
});
