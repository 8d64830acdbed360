// applyEnvelope(): the one way a new envelope takes effect, used by `ledagent schedule load` and
// by the MQTT link alike. Record, then apply: the `schedule.applied` event is appended first (a
// ledger that cannot record it leaves the store untouched), then the store is written. A crash
// between the two leaves the ledger ahead of the store; the same envelope delivered again then
// completes the store without a second event, and no older one is accepted meanwhile.
import type { KeyObject } from "node:crypto";
import { canonicalSha256 } from "../../crypto/index.js";
import type { AppendInput, EventRecord } from "../../proofs/types.js";
import type { ScheduleDocument } from "./document.js";
import { checkEnvelope, type EnvelopeOrigin, type LastApplied } from "./envelope.js";
import { MAX_ENVELOPE_BYTES, MAX_EVENT_CAMPAIGN_IDS } from "./limits.js";
import { STORE_FORMAT, type CurrentSchedule, type ScheduleStore } from "./store.js";

/** The ledger as applyEnvelope needs it: append is synchronous and durable on return. */
export interface ScheduleLedger {
  append(input: AppendInput): unknown;
  /** The most recent event of the type (LedgerReader.lastEvent). */
  lastEvent(type: "schedule.applied"): { at: string; event: Record<string, unknown> } | null;
}

export interface ApplyDeps {
  store: ScheduleStore;
  opsPublicKey: KeyObject | null;
  screenId: string;
  ledger: ScheduleLedger;
  now: () => Date;
}

export type ApplyResult =
  /** `completed`: the ledger recorded this version earlier and only the store was behind. */
  | { state: "applied"; version: number; previousVersion: number | null; completed?: true }
  | { state: "unchanged"; version: number }
  /** `reasons` as recorded: the first MAX_REASONS, each at most MAX_REASON_CHARS; `moreReasons` the rest. */
  | { state: "rejected"; version: number | null; reasons: string[]; moreReasons: number };

/** The ledger or the store failed while applying a valid schedule: not a judgement on the schedule. */
export class ScheduleApplyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ScheduleApplyError";
  }
}

/** What a `schedule.rejected` event holds at most, so one bad document cannot bloat the ledger. */
export const MAX_REASONS = 50;
export const MAX_REASON_CHARS = 500;

/** The first MAX_REASONS reasons, each cut to MAX_REASON_CHARS, and how many more there were. */
export function capReasons(reasons: readonly string[]): { reasons: string[]; moreReasons: number } {
  const cut = (r: string): string => (r.length <= MAX_REASON_CHARS ? r : `${r.slice(0, MAX_REASON_CHARS - 1)}…`);
  return { reasons: reasons.slice(0, MAX_REASONS).map(cut), moreReasons: Math.max(0, reasons.length - MAX_REASONS) };
}
const capText = (text: string): string => capReasons([text]).reasons[0];

/** Every rejection goes through here: recorded as `schedule.rejected` (capped), nothing changed. */
function reject(deps: ApplyDeps, source: string, version: number | null, all: readonly string[]): ApplyResult {
  const { reasons, moreReasons } = capReasons(all);
  const event = { type: "schedule.rejected" as const, version, source: capText(source), reasons, ...(moreReasons > 0 ? { moreReasons } : {}) };
  deps.ledger.append({ kind: "event", event });
  return { state: "rejected", version, reasons, moreReasons };
}

/**
 * applyEnvelope() for bytes as delivered (a file, an MQTT payload): more than MAX_ENVELOPE_BYTES
 * is rejected unread, and text that is not JSON is rejected and recorded like any other bad
 * envelope. `origin` is "network" unless the bytes came from local media.
 */
export function applyEnvelopeText(deps: ApplyDeps, text: string | Buffer, source: string, origin: EnvelopeOrigin = "network"): ApplyResult {
  const bytes = typeof text === "string" ? Buffer.byteLength(text) : text.length;
  if (bytes > MAX_ENVELOPE_BYTES) return reject(deps, source, null, [`too large: ${bytes} bytes, more than the limit of ${MAX_ENVELOPE_BYTES}`]);
  let raw: unknown;
  try {
    raw = JSON.parse(typeof text === "string" ? text : text.toString("utf8"));
  } catch (err) {
    return reject(deps, source, null, [`not JSON: ${(err as Error).message}`]);
  }
  return applyEnvelope(deps, raw, source, origin);
}

/** The last applied version as the ledger recorded it, or null when it never recorded one. */
function lastAppliedIn(ledger: ScheduleLedger): (LastApplied & { at: string }) | null {
  const entry = ledger.lastEvent("schedule.applied");
  const version = entry?.event.version;
  if (!entry || !Number.isSafeInteger(version)) return null;
  const sha = entry.event.scheduleSha256;
  return { version: version as number, at: entry.at, ...(typeof sha === "string" ? { scheduleSha256: sha } : {}) };
}

function readStore(store: ScheduleStore): { current: CurrentSchedule | null; storeProblem: string | null } {
  try {
    return { current: store.current(), storeProblem: null };
  } catch (err) {
    return { current: null, storeProblem: (err as Error).message }; // a damaged store must not block a fresh schedule
  }
}

/**
 * Checks and, when valid and newer, records then stores an envelope; records schedule.applied or
 * schedule.rejected. One applier at a time on the device: the floor read, the record and the
 * store write are one step for any other process.
 */
export function applyEnvelope(deps: ApplyDeps, raw: unknown, source: string, origin: EnvelopeOrigin = "network"): ApplyResult {
  return deps.store.exclusive(() => applyExclusively(deps, raw, source, origin));
}

function applyExclusively(deps: ApplyDeps, raw: unknown, source: string, origin: EnvelopeOrigin): ApplyResult {
  const { current, storeProblem } = readStore(deps.store);
  const lastApplied = lastAppliedIn(deps.ledger);
  const currentVersion = current?.document.version ?? null;
  const decision = checkEnvelope(raw, { opsPublicKey: deps.opsPublicKey, screenId: deps.screenId, currentVersion, lastApplied, now: deps.now().getTime(), origin });
  if (decision.outcome === "unchanged") return { state: "unchanged", version: decision.version };
  if (decision.outcome === "reject") return reject(deps, source, decision.version, decision.reasons);
  const doc = decision.document;
  const scheduleSha256 = canonicalSha256(decision.envelope.schedule);
  // Same version as the ledger's last: checkEnvelope refused it if its content differs.
  if (decision.recorded && lastApplied) {
    save(deps, current, decision.envelope, doc, lastApplied.at);
    return { state: "applied", version: doc.version, previousVersion: currentVersion, completed: true };
  }
  const event = appliedEvent(doc, { previousVersion: currentVersion, source, scheduleSha256, storeProblem });
  try {
    deps.ledger.append({ kind: "event", event });
  } catch (err) {
    throw new ScheduleApplyError(`schedule v${doc.version} not applied: the ledger could not record it (${(err as Error).message}); the schedule in force is unchanged`);
  }
  try {
    save(deps, current, decision.envelope, doc, deps.now().toISOString());
  } catch (err) {
    throw new ScheduleApplyError(`schedule v${doc.version} is recorded in the ledger but could not be stored (${(err as Error).message}); deliver it again to complete it`);
  }
  return { state: "applied", version: doc.version, previousVersion: currentVersion };
}

function save(deps: ApplyDeps, current: CurrentSchedule | null, envelope: { schedule: unknown; sig: string }, doc: ScheduleDocument, at: string): void {
  const campaignAppliedAt: Record<string, string> = {};
  for (const c of doc.campaigns) campaignAppliedAt[c.id] = current?.campaignAppliedAt[c.id] ?? at;
  deps.store.save({ format: STORE_FORMAT, envelope, appliedAt: at, campaignAppliedAt });
}

/**
 * `schedule.applied`, always well under the ledger's entry limit: the first MAX_EVENT_CAMPAIGN_IDS
 * campaign ids (128 characters at most each) and the count of all, the source capped.
 */
export function appliedEvent(
  doc: ScheduleDocument,
  detail: { previousVersion: number | null; source: string; scheduleSha256: string; storeProblem: string | null },
): EventRecord {
  const ids = doc.campaigns.map((c) => c.id);
  return {
    type: "schedule.applied",
    version: doc.version,
    previousVersion: detail.previousVersion,
    source: capText(detail.source),
    scheduleSha256: detail.scheduleSha256,
    campaignCount: ids.length,
    campaigns: ids.slice(0, MAX_EVENT_CAMPAIGN_IDS),
    ...(detail.storeProblem ? { replaced: capText(detail.storeProblem) } : {}),
  };
}
