// The checks of a proof batch that need no stored state, cheapest first: the payload's size before
// it is parsed, the envelope's shape, then entry by entry its shape, its screen and its place in
// the batch, then the signatures. The first bad entry ends the batch: the entries before it go on
// to be stored (and chained onto what is stored, store.ts), none after it.
import { entryTexts, sha256Hex } from "../proofs/entry.js";
import { entryShapeProblem } from "../proofs/schema.js";
import type { Entry } from "../proofs/types.js";
import { SCREEN_ID, type ScreenKeySource } from "./keys.js";
import { inlineVerifier, type SignatureVerifier } from "./verify-pool.js";

/** Entries whose signatures go to the verifier at once. */
const VERIFY_CHUNK = 64;

/** Largest batch payload read (bytes); checked before it is parsed. */
export const MAX_BATCH_BYTES = 1024 * 1024;

export const PROBLEM_KINDS = ["gap", "bad-signature", "broken-link", "conflict", "malformed", "unregistered-screen", "wrong-screen"] as const;
export type ProblemKind = (typeof PROBLEM_KINDS)[number];

export interface Problem {
  screen: string;
  /** The entry it is about; null when about the batch as a whole. */
  seq: number | null;
  kind: ProblemKind;
  detail: string;
  /** For a gap: the last missing seq (seq is the first). */
  toSeq?: number;
}

/** An entry that passed every check a batch alone allows, as it will be stored. */
export interface CheckedEntry {
  seq: number;
  prev: string;
  hash: string;
  /** canonical(entry), the text its hash covers. */
  body: string;
}

export interface CheckedBatch {
  screen: string;
  /** The batch id, when the envelope had one. */
  batch: string | null;
  /** The entries before the first bad one, ascending and contiguous. */
  entries: CheckedEntry[];
  /** Why the batch stops where it does, or null when every entry passed. */
  problem: Problem | null;
  /** The entries were checked against the screen's registered key (the envelope was sound and the key found). */
  keyChecked: boolean;
  /** The seq of the batch's first and last entries as sent (for reports: nothing is trusted from it). */
  claimed: { fromSeq: number | null; throughSeq: number | null };
}

const UNCLAIMED = { fromSeq: null, throughSeq: null };

function claimedSeq(raw: unknown): number | null {
  return isObject(raw) && Number.isSafeInteger(raw.seq) ? (raw.seq as number) : null;
}

/** The screen a proofs topic is for: `led/v1/<screen>/proofs`, else null. */
export function screenOfTopic(topic: string): string | null {
  const m = /^led\/v1\/([^/]+)\/proofs$/.exec(topic);
  return m ? m[1] : null;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function refused(screen: string, batch: string | null, kind: ProblemKind, detail: string, claimed: CheckedBatch["claimed"] = UNCLAIMED): CheckedBatch {
  return { screen, batch, entries: [], problem: { screen, seq: null, kind, detail }, keyChecked: false, claimed };
}

/** The envelope `{ batch, entries: [...] }`, or why it is not one. */
function parseEnvelope(payload: Buffer): { batch: string; entries: unknown[] } | { batch: string | null; problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString("utf8"));
  } catch {
    return { batch: null, problem: "the payload is not JSON" };
  }
  if (!isObject(json)) return { batch: null, problem: "the payload is not a JSON object" };
  const batch = typeof json.batch === "string" && json.batch.length > 0 && json.batch.length <= 200 ? json.batch : null;
  if (batch === null) return { batch: null, problem: "batch is not a non-empty string of at most 200 characters" };
  if (!Array.isArray(json.entries)) return { batch, problem: "entries is not an array" };
  if (json.entries.length === 0) return { batch, problem: "entries is empty" };
  return { batch, entries: json.entries };
}

/** An entry that passed the checks before its signature: its texts, for the signature and the hash. */
interface ShapedEntry {
  entry: Entry;
  unsigned: string;
  full: string;
}

/** Checks one entry's shape, screen and place in the batch (not yet its signature). */
function shapeEntry(raw: unknown, screen: string, expectedSeq: number | null): ShapedEntry | Problem {
  const claimed = claimedSeq(raw) ?? expectedSeq;
  const shape = entryShapeProblem(raw);
  if (shape) return { screen, seq: claimed, kind: "malformed", detail: `entry ${claimed ?? "?"}: ${shape}` };
  const entry = raw as Entry;
  if (entry.screen !== screen) {
    return { screen, seq: entry.seq, kind: "wrong-screen", detail: `entry ${entry.seq} is from screen ${JSON.stringify(entry.screen)}, sent on screen ${screen}'s topic` };
  }
  if (expectedSeq !== null && entry.seq !== expectedSeq) {
    return { screen, seq: entry.seq, kind: "malformed", detail: `seq ${entry.seq} follows seq ${expectedSeq - 1} in the batch (entries must be ascending and contiguous)` };
  }
  try {
    const texts = entryTexts(entry);
    return { entry, unsigned: texts.unsigned, full: texts.full };
  } catch (err) {
    return { screen, seq: entry.seq, kind: "malformed", detail: `entry ${entry.seq} cannot be canonicalised: ${(err as Error).message}` };
  }
}

/**
 * Checks a batch that arrived on `topic`: the entries that may be stored, and the first problem.
 * Every entry's shape, screen and place are checked first, up to the first bad one; then the
 * signatures of those before it, together (on the verifier's threads).
 */
export async function checkBatch(topic: string, payload: Buffer, keys: ScreenKeySource, verifier: SignatureVerifier = inlineVerifier): Promise<CheckedBatch> {
  const screen = screenOfTopic(topic) ?? topic;
  if (!SCREEN_ID.test(screen)) return refused(screen, null, "malformed", `the topic ${JSON.stringify(topic)} does not name a screen`);
  if (payload.length > MAX_BATCH_BYTES) return refused(screen, null, "malformed", `the batch is ${payload.length} bytes, more than ${MAX_BATCH_BYTES}`);
  const envelope = parseEnvelope(payload);
  if ("problem" in envelope) return refused(screen, envelope.batch, "malformed", envelope.problem);
  const claimed = { fromSeq: claimedSeq(envelope.entries[0]), throughSeq: claimedSeq(envelope.entries[envelope.entries.length - 1]) };
  const found = keys.lookup(screen);
  if (found.key === null) return refused(screen, envelope.batch, "unregistered-screen", found.reason, claimed);
  const shaped: ShapedEntry[] = [];
  let problem: Problem | null = null;
  // Signatures are handed to the verifier a chunk at a time as the entries are shaped, so its
  // threads work while this one goes on with the next entries.
  const verdicts: Promise<boolean[]>[] = [];
  const dispatch = (from: number): void => {
    verdicts.push(verifier.verifyAll(found.key, shaped.slice(from).map((e) => ({ text: e.unsigned, sig: e.entry.sig }))));
  };
  for (const raw of envelope.entries) {
    const expected = shaped.length > 0 ? shaped[shaped.length - 1].entry.seq + 1 : null;
    const checked = shapeEntry(raw, screen, expected);
    if ("kind" in checked) {
      problem = checked;
      break;
    }
    shaped.push(checked);
    if (shaped.length % VERIFY_CHUNK === 0) dispatch(shaped.length - VERIFY_CHUNK);
  }
  if (shaped.length % VERIFY_CHUNK !== 0) dispatch(shaped.length - (shaped.length % VERIFY_CHUNK));
  const valid = (await Promise.all(verdicts)).flat();
  const forged = valid.indexOf(false);
  if (forged !== -1) {
    const seq = shaped[forged].entry.seq;
    problem = { screen, seq, kind: "bad-signature", detail: `entry ${seq}'s signature does not verify with screen ${screen}'s registered key` };
  }
  const good = forged === -1 ? shaped : shaped.slice(0, forged);
  const entries = good.map(({ entry, full }) => ({ seq: entry.seq, prev: entry.prev, hash: sha256Hex(full), body: full }));
  return { screen, batch: envelope.batch, entries, problem, keyChecked: true, claimed };
}
