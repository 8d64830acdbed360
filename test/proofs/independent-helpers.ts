// Shared by the independent-*.test.ts files: exports as text, edits, and running both verifiers.
import { sign, type KeyObject } from "node:crypto";
import { PassThrough } from "node:stream";
import canonicalize from "canonicalize";
import { expect } from "vitest";
import { exportJsonl, verifyLines, type Checkpoint, type ExportFilter, type LedgerReader, type VerifyResult } from "../../agent/proofs/index.js";
import { makeLedger } from "./fixtures.js";
import { independentVerify, type IndependentResult } from "./independent-verifier.js";

/** A technician's note that exercises RFC 8785 string escaping: CJK, an astral emoji, U+2028, quotes, backslash, control. */
export const UNICODE_TEXT = '换了3号模组 — café ✓ 🚀 \u2028 "quoted" back\\slash tab\t ctl\u0001';

export type Obj = Record<string, unknown>;

export async function exportText(reader: LedgerReader, filter: ExportFilter = {}): Promise<string> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (c: Buffer) => chunks.push(c));
  await exportJsonl(reader, filter, out);
  out.end();
  return Buffer.concat(chunks).toString("utf8");
}

/** The export's lines: split at "\n", without the empty string after the final newline. */
export function toLines(text: string): string[] {
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

export function edit(line: string, fn: (x: Obj) => void): string {
  const x = JSON.parse(line) as Obj;
  fn(x);
  return JSON.stringify(x);
}

export function sub(x: Obj, key: string): Obj {
  return x[key] as Obj;
}

export interface Verdicts {
  project: VerifyResult;
  independent: IndependentResult;
}

export async function verifyBoth(lines: string[], publicKey: KeyObject, head?: Checkpoint): Promise<Verdicts> {
  const project = await verifyLines(lines, { publicKey, head });
  const independent = independentVerify(lines, { publicKey, head });
  return { project, independent };
}

export function describeVerdicts(v: Verdicts): string {
  const p = v.project.ok ? "ok" : `${v.project.reason} at seq ${String(v.project.seq)} (${v.project.message})`;
  const i = v.independent.ok ? "ok" : `${v.independent.reason} at seq ${String(v.independent.seq)} (${v.independent.detail})`;
  return `ledagent: ${p}\nindependent: ${i}`;
}

export function agree(v: Verdicts): boolean {
  if (v.project.ok !== v.independent.ok) return false;
  return v.project.ok || v.independent.ok || v.project.seq === v.independent.seq;
}

export type Want = "ok" | { seq: number | null };

/** Both verifiers agree, and (when given) on this verdict. */
export async function expectAgree(lines: string[], publicKey: KeyObject, head: Checkpoint | undefined, want?: Want): Promise<Verdicts> {
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
export const keyedLedger = makeLedger;

export function signWith(unsigned: Obj, privateKey: KeyObject): string {
  return sign(null, Buffer.from(canonicalize(unsigned) as string, "utf8"), privateKey).toString("base64");
}

/** Re-renders a JSON value with keys in reverse order at every level. */
export function reverseKeys(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(reverseKeys);
  if (typeof x !== "object" || x === null) return x;
  return Object.fromEntries(
    Object.keys(x)
      .reverse()
      .map((k) => [k, reverseKeys((x as Obj)[k])]),
  );
}

/** Every character of every string as a \uXXXX escape (surrogate pairs as two escapes). */
export function escapeAll(line: string): string {
  return line.replace(/"((?:[^"\\]|\\.)*)"/g, (_m, body: string) => {
    const s = JSON.parse(`"${body}"`) as string;
    let out = "";
    for (let i = 0; i < s.length; i++) out += `\\u${s.charCodeAt(i).toString(16).padStart(4, "0")}`;
    return `"${out}"`;
  });
}
