// The live orders (suspend, resume, takedown) as ledger events: builders that write their
// details, zod parsers that read them back, and liveOrders(), which replays them into the orders
// in force. The daemon's playout keeps its orders across restarts by this replay alone, and the
// CLI plans with the same orders. Pure.
import { z } from "zod";
import type { CommandOrigin, TakedownTarget } from "../../commands/types.js";
import type { EventEntry } from "../../proofs/types.js";

/** A UTC instant as the ledger writes it: RFC 3339, milliseconds, `Z`. */
const utcInstant = z.iso.datetime({ precision: 3 });
const id = z.string().min(1);
const version = z.number().int().nonnegative().nullable();

export const suspendedDetailSchema = z.object({
  type: z.literal("suspended"),
  reason: z.string(),
  until: utcInstant.nullable(),
  campaigns: z.array(id).nullable(),
  blackout: z.boolean(),
  by: z.string().min(1),
  scheduleVersion: version,
});

export const resumedDetailSchema = z.object({
  type: z.literal("resumed"),
  suspendedSeq: z.number().int().positive(),
  suspendedAt: utcInstant,
  suspendedForMs: z.number().int().nonnegative(),
  auto: z.boolean(),
  by: z.string().min(1),
});

export const takedownDetailSchema = z
  .object({
    type: z.literal("takedown"),
    campaign: id.optional(),
    creative: id.optional(),
    immediate: z.boolean(),
    lift: z.boolean(),
    scheduleVersion: version,
    by: z.string().min(1),
  })
  .refine((d) => (d.campaign === undefined) !== (d.creative === undefined), { message: "exactly one of campaign and creative" });

export type SuspendedDetail = z.infer<typeof suspendedDetailSchema>;
export type ResumedDetail = z.infer<typeof resumedDetailSchema>;
export type TakedownDetail = z.infer<typeof takedownDetailSchema>;

/** Who gave an order, for `by`: `local:<user>` or `mqtt:<commandId>`; the agent's own are "schedule" or "agent". */
export function describeOrigin(origin: CommandOrigin): string {
  return origin.kind === "local" ? `local:${origin.user}` : `mqtt:${origin.commandId}`;
}

const isoOrNull = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** A `suspended` detail; the suspension starts at the entry's `at`. Throws on what the parser would refuse (a caller's bug). */
export function suspendedEvent(order: { reason: string; until: number | null; campaigns: readonly string[] | null; blackout: boolean; by: string; scheduleVersion: number | null }): SuspendedDetail {
  return suspendedDetailSchema.parse({
    type: "suspended",
    reason: order.reason,
    until: isoOrNull(order.until),
    campaigns: order.campaigns === null ? null : [...order.campaigns],
    blackout: order.blackout,
    by: order.by,
    scheduleVersion: order.scheduleVersion,
  });
}

/**
 * A `resumed` detail ending `suspension` at `endedAt` (ms): for a resume order the time it was
 * given; for an automatic resume (`auto`), the suspension's `until`, however late it is recorded.
 */
export function resumedEvent(suspension: RecordedSuspension, opts: { endedAt: number; auto: boolean; by: string }): ResumedDetail {
  return resumedDetailSchema.parse({
    type: "resumed",
    suspendedSeq: suspension.seq,
    suspendedAt: new Date(suspension.since).toISOString(),
    suspendedForMs: Math.max(0, Math.round(opts.endedAt - suspension.since)),
    auto: opts.auto,
    by: opts.by,
  });
}

/** A `takedown` detail; `lift: true` records the lifting of a standing takedown of the same target. */
export function takedownEvent(order: { target: TakedownTarget; immediate: boolean; lift: boolean; scheduleVersion: number | null; by: string }): TakedownDetail {
  return takedownDetailSchema.parse({ type: "takedown", ...targetOf(order.target), immediate: order.immediate, lift: order.lift, scheduleVersion: order.scheduleVersion, by: order.by });
}

function targetOf(target: TakedownTarget): { campaign: string } | { creative: string } {
  return "campaign" in target ? { campaign: target.campaign } : { creative: target.creative };
}

/** An entry that was read but not understood: skipped, never fatal; the caller logs it. */
export interface SkippedEntry {
  seq: number;
  type: string;
  reason: string;
}

export type Parsed<T> = { ok: true; detail: T } | { ok: false; skipped: SkippedEntry };

function parseWith<T>(schema: z.ZodType<T>, entry: EventEntry): Parsed<T> {
  const result = schema.safeParse(entry.event);
  if (result.success) return { ok: true, detail: result.data };
  const first = result.error.issues[0];
  const where = first.path.length > 0 ? `${first.path.join(".")}: ` : "";
  return { ok: false, skipped: { seq: entry.seq, type: String(entry.event.type), reason: `${where}${first.message}` } };
}

export const parseSuspended = (entry: EventEntry): Parsed<SuspendedDetail> => parseWith(suspendedDetailSchema, entry);
export const parseResumed = (entry: EventEntry): Parsed<ResumedDetail> => parseWith(resumedDetailSchema, entry);
export const parseTakedown = (entry: EventEntry): Parsed<TakedownDetail> => parseWith(takedownDetailSchema, entry);

/** A suspension as recorded: from its entry's `at` (`since`, ms) until `until` (ms) or a resume. */
export interface RecordedSuspension {
  seq: number;
  since: number;
  reason: string;
  until: number | null;
  campaigns: string[] | null;
  blackout: boolean;
  by: string;
}

/** A takedown that stands: not lifted, and given under the schedule in force. */
export interface StandingTakedown {
  seq: number;
  at: number;
  campaign?: string;
  creative?: string;
  immediate: boolean;
  by: string;
}

export interface LiveOrders {
  /** The suspension in force, if any. */
  suspension: RecordedSuspension | null;
  /** A suspension whose `until` has passed but whose resume is not recorded yet: the playout records it (auto). */
  expired: RecordedSuspension | null;
  /** In order of the entries that gave them, one per target (the earliest that still stands). */
  takedowns: StandingTakedown[];
  /** Order events that did not parse, in ledger order. */
  skipped: SkippedEntry[];
}

export interface LiveOrdersOptions {
  /** The version of the schedule in force (null: none): a takedown stands only under the schedule it was given under. */
  scheduleVersion: number | null;
  /** UTC ms: a suspension whose `until` is at or before it has expired. */
  now: number;
}

/** `campaign:<id>` or `creative:<id>`: what a lift must name to end a takedown. */
const targetKey = (d: { campaign?: string; creative?: string }): string => (d.campaign !== undefined ? `campaign:${d.campaign}` : `creative:${d.creative}`);

/**
 * The orders in force after `events` (suspended, resumed and takedown entries, in ledger order;
 * any other entry is ignored). One suspension is live at a time: a later `suspended` supersedes
 * the live one, and a `resumed` naming the live one's seq ends it. A takedown stands until a
 * later lift of the same target, and only while the schedule it was given under (null matches
 * null only) is the one in force: a new schedule replaces the one it was given under.
 */
export function liveOrders(events: Iterable<EventEntry>, opts: LiveOrdersOptions): LiveOrders {
  let live: RecordedSuspension | null = null;
  const standing = new Map<string, StandingTakedown>();
  const skipped: SkippedEntry[] = [];
  for (const entry of events) {
    const parsed = parseOrder(entry);
    if (parsed === null) continue;
    if (!parsed.ok) {
      skipped.push(parsed.skipped);
      continue;
    }
    const d = parsed.detail;
    if (d.type === "suspended") live = recordedSuspension(entry, d);
    else if (d.type === "resumed") {
      if (live !== null && live.seq === d.suspendedSeq) live = null;
    }    else applyTakedown(standing, entry, d, opts.scheduleVersion);
  }
  const expired = live !== null && live.until !== null && live.until <= opts.now;
  return { suspension: expired ? null : live, expired: expired ? live : null, takedowns: [...standing.values()].sort((a, b) => a.seq - b.seq), skipped };
}

/** An order event's detail, or why it could not be read; null for any other entry. */
export function parseOrder(entry: EventEntry): Parsed<SuspendedDetail | ResumedDetail | TakedownDetail> | null {
  switch (entry.event.type) {
    case "suspended":
      return parseSuspended(entry);
    case "resumed":
      return parseResumed(entry);
    case "takedown":
      return parseTakedown(entry);
    default:
      return null;
  }
}

function recordedSuspension(entry: EventEntry, d: SuspendedDetail): RecordedSuspension {
  return {
    seq: entry.seq,
    since: Date.parse(entry.at),
    reason: d.reason,
    until: d.until === null ? null : Date.parse(d.until),
    campaigns: d.campaigns,
    blackout: d.blackout,
    by: d.by,
  };
}

function applyTakedown(standing: Map<string, StandingTakedown>, entry: EventEntry, d: TakedownDetail, scheduleVersion: number | null): void {
  const key = targetKey(d);
  if (d.lift) {
    standing.delete(key);
    return;
  }
  if (d.scheduleVersion !== scheduleVersion || standing.has(key)) return;
  standing.set(key, {
    seq: entry.seq,
    at: Date.parse(entry.at),
    ...(d.campaign !== undefined ? { campaign: d.campaign } : { creative: d.creative }),
    immediate: d.immediate,
    by: d.by,
  });
}
