// RFC 8785 (JSON Canonicalization Scheme) through the maintained `canonicalize` package:
// the byte form every signature and hash in the agent is computed over.
import { createHash } from "node:crypto";
import canonicalize from "canonicalize";

export class CanonicalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CanonicalError";
  }
}

/** canonical(x) as a string; throws on values JSON cannot carry (NaN, Infinity, undefined, lone surrogates). */
export function canonicalString(value: unknown): string {
  let text: string | undefined;
  try {
    text = canonicalize(value);
  } catch (err) {
    throw new CanonicalError(`cannot canonicalise: ${(err as Error).message}`);
  }
  if (text === undefined) throw new CanonicalError("cannot canonicalise: value has no JSON form");
  return text;
}

/** canonical(x) as UTF-8 bytes. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalString(value), "utf8");
}

/** Lowercase hex SHA-256 of canonical(x). */
export function canonicalSha256(value: unknown): string {
  return createHash("sha256").update(canonicalBytes(value)).digest("hex");
}
