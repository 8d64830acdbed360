// The checks every schedule delivery goes through, whether it came over MQTT or on a USB stick:
// shape, ops signature, document, screen, version. All or nothing: a rejected envelope
// changes nothing, and says every reason.
import type { KeyObject } from "node:crypto";
import { verifyCanonical } from "../../crypto/index.js";
import type { ScheduleDocument } from "./document.js";
import { validateDocument } from "./validate.js";

export type EnvelopeDecision =
  | { outcome: "accept"; document: ScheduleDocument; envelope: { schedule: unknown; sig: string } }
  | { outcome: "unchanged"; version: number }
  | { outcome: "reject"; version: number | null; reasons: string[] };

export interface EnvelopeCheck {
  /** The ops public key; null when none is configured (nothing can then be accepted). */
  opsPublicKey: KeyObject | null;
  screenId: string;
  /** Version of the schedule in force, or null when there is none. */
  currentVersion: number | null;
}

function versionOf(schedule: unknown): number | null {
  const v = (schedule as { version?: unknown } | null)?.version;
  return typeof schedule === "object" && Number.isInteger(v) ? (v as number) : null;
}

/**
 * Shape, signature, document, screen and version, each reason named (a badly signed envelope for
 * another screen says both). Nothing in a rejected envelope is trusted: its document is read only
 * to say what else is wrong with it.
 */
export function checkEnvelope(raw: unknown, check: EnvelopeCheck): EnvelopeDecision {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return { outcome: "reject", version: null, reasons: ["malformed: expected an object { schedule, sig }"] };
  }
  const envelope = raw as Record<string, unknown>;
  const version = versionOf(envelope.schedule);
  const extra = Object.keys(envelope).filter((k) => k !== "schedule" && k !== "sig");
  if (envelope.schedule === undefined) return { outcome: "reject", version, reasons: ["malformed: no schedule"] };
  const reasons: string[] = [];
  if (extra.length) reasons.push(`malformed: unknown envelope keys ${extra.join(", ")}`);
  if (envelope.sig === undefined) reasons.push("unsigned: the envelope has no sig");
  else if (!check.opsPublicKey) reasons.push("no ops public key configured (opsPublicKey): cannot verify the signature");
  else if (!signedBy(envelope.schedule, envelope.sig, check.opsPublicKey)) reasons.push("bad signature: not signed by the configured ops key");
  const validation = validateDocument(envelope.schedule);
  if (!validation.ok) return { outcome: "reject", version, reasons: [...reasons, ...validation.problems.map((p) => `malformed: ${p}`)] };
  const doc = validation.document;
  if (doc.screen !== check.screenId) reasons.push(`wrong screen: for ${doc.screen}, this is ${check.screenId}`);
  if (check.currentVersion !== null && doc.version < check.currentVersion) reasons.push(`stale: version ${doc.version} is older than the current ${check.currentVersion}`);
  if (reasons.length) return { outcome: "reject", version, reasons };
  if (check.currentVersion !== null && doc.version === check.currentVersion) return { outcome: "unchanged", version: doc.version };
  return { outcome: "accept", document: doc, envelope: { schedule: envelope.schedule, sig: envelope.sig as string } };
}

function signedBy(schedule: unknown, sig: unknown, key: KeyObject): boolean {
  try {
    return verifyCanonical(schedule, sig, key);
  } catch {
    return false; // a value with no canonical form (or a sig that is not a string) cannot carry a valid signature
  }
}
