// The schedule in force, kept on disk (agentPaths(config).scheduleFile) so the agent runs from
// it offline for weeks, and applyEnvelope(): the one way a new envelope takes effect, used by
// `ledagent schedule load` and by the MQTT link alike.
import type { KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import type { AppendInput } from "../../proofs/types.js";
import { writeFileDurably } from "../../store/index.js";
import { checkEnvelope } from "./envelope.js";
import type { ScheduleDocument } from "./document.js";
import { validateDocument } from "./validate.js";

export const STORE_FORMAT = "ledagent.schedule-store/v1";

export interface StoredSchedule {
  format: typeof STORE_FORMAT;
  /** The envelope exactly as ops signed it, so it can be re-verified at any time. */
  envelope: { schedule: unknown; sig: string };
  appliedAt: string;
  /** When this agent first applied a schedule holding each campaign: owed plays count from then (rule 6). */
  campaignAppliedAt: Record<string, string>;
}

export interface CurrentSchedule extends StoredSchedule {
  document: ScheduleDocument;
}

export class ScheduleStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ScheduleStoreError";
  }
}

export class ScheduleStore {
  constructor(private readonly deps: { path: string }) {}

  /** The schedule in force, or null when none was ever applied. */
  current(): CurrentSchedule | null {
    let text: string;
    try {
      text = readFileSync(this.deps.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw new ScheduleStoreError(`cannot read ${this.deps.path}: ${(err as Error).message}`);
    }
    let stored: StoredSchedule;
    try {
      stored = JSON.parse(text) as StoredSchedule;
    } catch {
      throw new ScheduleStoreError(`${this.deps.path} is not JSON; load the schedule again`);
    }
    if (stored?.format !== STORE_FORMAT) throw new ScheduleStoreError(`${this.deps.path}: not a ${STORE_FORMAT} file`);
    const validation = validateDocument(stored.envelope?.schedule);
    if (!validation.ok) throw new ScheduleStoreError(`${this.deps.path}: stored schedule no longer valid: ${validation.problems[0]}`);
    return { ...stored, document: validation.document };
  }

  /** Replaces the file atomically: a crash leaves the old schedule or the new one, never half. */
  save(stored: StoredSchedule): void {
    writeFileDurably(this.deps.path, `${JSON.stringify(stored, null, 2)}\n`, 0o644);
  }
}

/** The ledger as applyEnvelope needs it: append is synchronous and durable on return. */
export interface EventSink {
  append(input: AppendInput): unknown;
}

export interface ApplyDeps {
  store: ScheduleStore;
  opsPublicKey: KeyObject | null;
  screenId: string;
  ledger?: EventSink;
  now: () => Date;
}

export type ApplyResult =
  | { state: "applied"; version: number; previousVersion: number | null }
  | { state: "unchanged"; version: number }
  /** `reasons` as recorded: the first MAX_REASONS, each at most MAX_REASON_CHARS; `moreReasons` the rest. */
  | { state: "rejected"; version: number | null; reasons: string[]; moreReasons: number };

/** What a `schedule.rejected` event holds at most, so one bad document cannot bloat the ledger. */
export const MAX_REASONS = 50;
export const MAX_REASON_CHARS = 500;

/** The first MAX_REASONS reasons, each cut to MAX_REASON_CHARS, and how many more there were. */
export function capReasons(reasons: readonly string[]): { reasons: string[]; moreReasons: number } {
  const cut = (r: string): string => (r.length <= MAX_REASON_CHARS ? r : `${r.slice(0, MAX_REASON_CHARS - 1)}…`);
  return { reasons: reasons.slice(0, MAX_REASONS).map(cut), moreReasons: Math.max(0, reasons.length - MAX_REASONS) };
}

/** Every rejection goes through here: recorded as `schedule.rejected` (capped), nothing changed. */
function reject(deps: ApplyDeps, source: string, version: number | null, all: readonly string[]): ApplyResult {
  const { reasons, moreReasons } = capReasons(all);
  const event = { type: "schedule.rejected" as const, version, source: capReasons([source]).reasons[0], reasons, ...(moreReasons > 0 ? { moreReasons } : {}) };
  deps.ledger?.append({ kind: "event", event });
  return { state: "rejected", version, reasons, moreReasons };
}

/**
 * applyEnvelope() for bytes as delivered (a file, an MQTT payload): text that is not JSON is
 * rejected and recorded like any other bad envelope.
 */
export function applyEnvelopeText(deps: ApplyDeps, text: string | Buffer, source: string): ApplyResult {
  let raw: unknown;
  try {
    raw = JSON.parse(typeof text === "string" ? text : text.toString("utf8"));
  } catch (err) {
    return reject(deps, source, null, [`not JSON: ${(err as Error).message}`]);
  }
  return applyEnvelope(deps, raw, source);
}

/** Checks and, when valid and newer, stores an envelope; records schedule.applied/rejected. */
export function applyEnvelope(deps: ApplyDeps, raw: unknown, source: string): ApplyResult {
  let current: CurrentSchedule | null = null;
  let storeProblem: string | null = null;
  try {
    current = deps.store.current();
  } catch (err) {
    storeProblem = (err as Error).message; // a damaged store must not block a fresh schedule
  }
  const decision = checkEnvelope(raw, { opsPublicKey: deps.opsPublicKey, screenId: deps.screenId, currentVersion: current?.document.version ?? null });
  if (decision.outcome === "unchanged") return { state: "unchanged", version: decision.version };
  if (decision.outcome === "reject") return reject(deps, source, decision.version, decision.reasons);
  const at = deps.now().toISOString();
  const doc = decision.document;
  const campaignAppliedAt: Record<string, string> = {};
  for (const c of doc.campaigns) campaignAppliedAt[c.id] = current?.campaignAppliedAt[c.id] ?? at;
  deps.store.save({ format: STORE_FORMAT, envelope: decision.envelope, appliedAt: at, campaignAppliedAt });
  const previousVersion = current?.document.version ?? null;
  deps.ledger?.append({
    kind: "event",
    event: {
      type: "schedule.applied",
      version: doc.version,
      previousVersion,
      source,
      campaigns: doc.campaigns.map((c) => c.id),
      ...(storeProblem ? { replaced: storeProblem } : {}),
    },
  });
  return { state: "applied", version: doc.version, previousVersion };
}
