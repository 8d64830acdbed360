// The checks every schedule delivery goes through, whether it came over MQTT or on a USB stick,
// cheapest first: shape, ops signature, screen, version; only a document that passed those is
// validated in full (bounded by limits.ts). All or nothing: a rejected envelope changes nothing,
// and says every reason that could be known without trusting it.
import type { KeyObject } from "node:crypto";
import type { Config } from "../../config.js";
import { canonicalSha256, loadPublicKey, verifyCanonical } from "../../crypto/index.js";
import type { ScheduleDocument } from "./document.js";
import { MAX_FIRST_VERSION, MAX_ISSUED_AHEAD_MS, MAX_VERSION_STEP } from "./limits.js";
import { validateDocument, type Validation } from "./validate.js";

/**
 * Where an envelope came from. Over the network a schedule may name http(s) creatives only;
 * `file:` URLs are for a schedule a technician loads from local media.
 */
export type EnvelopeOrigin = "network" | "local";

export type EnvelopeDecision =
  /** `recorded`: the ledger already holds its `schedule.applied` (a crash before the store was written). */
  | { outcome: "accept"; document: ScheduleDocument; envelope: { schedule: unknown; sig: string }; recorded: boolean }
  | { outcome: "unchanged"; version: number }
  | { outcome: "reject"; version: number | null; reasons: string[] };

/** The last `schedule.applied` the ledger holds. */
export interface LastApplied {
  version: number;
  /** sha256 of canonical(schedule); absent in events recorded before it was kept. */
  scheduleSha256?: string;
}

export interface EnvelopeCheck {
  /** The ops public key; null when none is configured (nothing can then be accepted). */
  opsPublicKey: KeyObject | null;
  screenId: string;
  /** Version of the schedule in the store, or null when there is none. */
  currentVersion: number | null;
  /** What the ledger last recorded as applied: no version below it is accepted, store or not. */
  lastApplied?: LastApplied | null;
  /** The sha256 of canonical(schedule) of this envelope, when the caller computed it. */
  scheduleSha256?: string;
  /** The agent's clock (ms): `issuedAt` may be ahead of it by MAX_ISSUED_AHEAD_MS at most. */
  now: number;
  origin?: EnvelopeOrigin;
  /** The full document check; a parameter so tests can see it is never reached for untrusted input. */
  validate?: (raw: unknown) => Validation;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function versionOf(schedule: unknown): number | null {
  const v = isRecord(schedule) ? schedule.version : undefined;
  return Number.isSafeInteger(v) && (v as number) >= 1 ? (v as number) : null;
}

/**
 * Shape, signature, screen and version, each reason named (a badly signed envelope for another
 * screen says both); then, only for a trusted envelope, the document itself.
 */
export function checkEnvelope(raw: unknown, check: EnvelopeCheck): EnvelopeDecision {
  if (!isRecord(raw)) return { outcome: "reject", version: null, reasons: ["malformed: expected an object { schedule, sig }"] };
  const version = versionOf(raw.schedule);
  if (raw.schedule === undefined) return { outcome: "reject", version, reasons: ["malformed: no schedule"] };
  const extra = Object.keys(raw).filter((k) => k !== "schedule" && k !== "sig");
  const reasons = extra.length ? [`malformed: unknown envelope keys ${extra.join(", ")}`] : [];
  const untrusted = [...signatureProblems(raw, check.opsPublicKey), ...screenProblems(raw.schedule, check.screenId), ...versionProblems(version, check)];
  if (untrusted.length > 0) return { outcome: "reject", version, reasons: [...reasons, ...untrusted] };

  const validation = (check.validate ?? validateDocument)(raw.schedule);
  if (!validation.ok) return { outcome: "reject", version, reasons: [...reasons, ...validation.problems.map((p) => `malformed: ${p}`)] };
  const doc = validation.document;
  reasons.push(...issuedAtProblems(doc, check.now), ...originProblems(doc, check.origin ?? "network"));
  // Hashed only here, for a trusted document whose version the ledger already holds: the same
  // version with other content is stale, never "unchanged" (that would leave ops believing it in force).
  const sameVersionSha = check.lastApplied?.version === doc.version && check.lastApplied.scheduleSha256 ? (check.scheduleSha256 ?? canonicalSha256(raw.schedule)) : undefined;
  if (sameVersionSha !== undefined && check.lastApplied?.scheduleSha256 !== sameVersionSha) {
    reasons.push(`stale: version ${doc.version} was applied already, with other content`);
  }
  if (reasons.length) return { outcome: "reject", version, reasons };
  if (check.currentVersion === doc.version) return { outcome: "unchanged", version: doc.version };
  return { outcome: "accept", document: doc, envelope: { schedule: raw.schedule, sig: raw.sig as string }, recorded: check.lastApplied?.version === doc.version };
}

function signatureProblems(envelope: Record<string, unknown>, key: KeyObject | null): string[] {
  if (envelope.sig === undefined) return ["unsigned: the envelope has no sig"];
  if (!key) return ["no ops public key configured (opsPublicKey): cannot verify the signature"];
  return signedBy(envelope.schedule, envelope.sig, key) ? [] : ["bad signature: not signed by the configured ops key"];
}

function screenProblems(schedule: unknown, screenId: string): string[] {
  const screen = isRecord(schedule) ? schedule.screen : undefined;
  if (typeof screen !== "string" || screen === screenId) return []; // a missing screen is the document check's to name
  return [`wrong screen: for ${screen.length > 64 ? `${screen.slice(0, 64)}…` : screen}, this is ${screenId}`];
}

/** No lower version than the store's or the ledger's, and no step that would use up the version space. */
function versionProblems(version: number | null, check: EnvelopeCheck): string[] {
  if (version === null) return [];
  const floors = [check.currentVersion, check.lastApplied?.version ?? null].filter((v): v is number => v !== null);
  if (floors.length === 0) {
    return version > MAX_FIRST_VERSION ? [`implausible version: ${version} is more than ${MAX_FIRST_VERSION}, the highest first version a screen accepts`] : [];
  }
  const floor = Math.max(...floors);
  if (version < floor) {
    const where = check.currentVersion === floor ? "the current" : "the last applied (ledger)";
    return [`stale: version ${version} is older than ${where} ${floor}`];
  }
  if (version - floor > MAX_VERSION_STEP) return [`implausible version: ${version} is more than ${MAX_VERSION_STEP} above the current ${floor}`];
  return [];
}

function issuedAtProblems(doc: ScheduleDocument, now: number): string[] {
  const ahead = Date.parse(doc.issuedAt) - now;
  if (ahead <= MAX_ISSUED_AHEAD_MS) return [];
  return [`issued in the future: issuedAt ${doc.issuedAt} is ${Math.round(ahead / 60_000)} minutes ahead of this agent's clock (${new Date(now).toISOString()}); at most ${MAX_ISSUED_AHEAD_MS / 60_000} are allowed`];
}

function originProblems(doc: ScheduleDocument, origin: EnvelopeOrigin): string[] {
  if (origin === "local") return [];
  return doc.creatives.flatMap((c, i) => (c.url.startsWith("file:") ? [`creatives.${i} (${c.id}): a file: URL in a schedule delivered over the network; only http: and https: are allowed (file: is for \`schedule load\` from local media)`] : []));
}

function signedBy(schedule: unknown, sig: unknown, key: KeyObject): boolean {
  try {
    return verifyCanonical(schedule, sig, key);
  } catch {
    return false; // a value with no canonical form (or a sig that is not a string) cannot carry a valid signature
  }
}

/**
 * The configured ops key, read as a trusted file (whoever can rewrite it can make this screen play
 * anything), or null when none is configured: then nothing can be accepted.
 */
export function loadOpsPublicKey(config: Pick<Config, "opsPublicKey">): KeyObject | null {
  return config.opsPublicKey ? loadPublicKey(config.opsPublicKey, { trusted: true }) : null;
}
