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

export function checkEnvelope(raw: unknown, check: EnvelopeCheck): EnvelopeDecision {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return { outcome: "reject", version: null, reasons: ["malformed: expected an object { schedule, sig }"] };
  }
  const envelope = raw as Record<string, unknown>;
  const version = versionOf(envelope.schedule);
  const extra = Object.keys(envelope).filter((k) => k !== "schedule" && k !== "sig");
  if (envelope.schedule === undefined) return { outcome: "reject", version, reasons: ["malformed: no schedule"] };
  if (extra.length) return { outcome: "reject", version, reasons: [`malformed: unknown envelope keys ${extra.join(", ")}`] };
  if (envelope.sig === undefined) return { outcome: "reject", version, reasons: ["unsigned: the envelope has no sig"] };
  if (!check.opsPublicKey) return { outcome: "reject", version, reasons: ["no ops public key configured (opsPublicKey): cannot verify the signature"] };
  let signed = false;
  try {
    signed = verifyCanonical(envelope.schedule, envelope.sig, check.opsPublicKey);
  } catch {
    signed = false; // a value with no canonical form cannot carry a valid signature
  }
  if (!signed) return { outcome: "reject", version, reasons: ["bad signature: not signed by the configured ops key"] };
  const validation = validateDocument(envelope.schedule);
  if (!validation.ok) return { outcome: "reject", version, reasons: validation.problems.map((p) => `malformed: ${p}`) };
  const doc = validation.document;
  if (doc.screen !== check.screenId) return { outcome: "reject", version, reasons: [`wrong screen: for ${doc.screen}, this is ${check.screenId}`] };
  if (check.currentVersion !== null && doc.version === check.currentVersion) return { outcome: "unchanged", version: doc.version };
  if (check.currentVersion !== null && doc.version < check.currentVersion) {
    return { outcome: "reject", version, reasons: [`stale: version ${doc.version} is older than the current ${check.currentVersion}`] };
  }
  return { outcome: "accept", document: doc, envelope: { schedule: envelope.schedule, sig: envelope.sig as string } };
}
