// Checks a schedule document and names every problem (path: reason), never just the first:
// the shape (zod), and what a shape cannot say — ids that point nowhere, times that run
// backwards, buyouts that overlap or would air an unapproved creative. A shape problem hides
// nothing else: each of those checks runs on every part well-formed enough for it (a campaign
// with a bad `priority` still has its creatives looked up and its buyout times compared).
import { IANAZone } from "luxon";
import type { z } from "zod";
import { parseInstant } from "../planner/time.js";
import type { PlanCampaign } from "../planner/types.js";
import { campaignSchema, creativeSchema, scheduleDocumentSchema, suspensionSchema, type ScheduleDocument } from "./document.js";
import { EARLIEST_SCHEDULE_TIME, earliestScheduleMs, latestEndMs, MAX_YEARS_AFTER_ISSUE, sizeProblems } from "./limits.js";
import { exclusiveOverlaps } from "./overlaps.js";

export type Validation = { ok: true; document: ScheduleDocument } | { ok: false; problems: string[] };

type Fields = Record<string, unknown>;

/** One element of a list: the fields that are well-formed, and the keys that are not. */
interface Part {
  index: number;
  value: Fields;
  bad: ReadonlySet<string>;
}

const isRecord = (v: unknown): v is Fields => typeof v === "object" && v !== null && !Array.isArray(v);
const fits = (part: Part, keys: readonly string[]): boolean => keys.every((k) => !part.bad.has(k));

function describe(issue: z.core.$ZodIssue): string {
  const where = issue.path.map(String).join(".") || "(document)";
  if (issue.code === "unrecognized_keys") return issue.keys.map((k) => `${where === "(document)" ? "" : `${where}.`}${k}: unknown key`).join("; ");
  return `${where}: ${issue.message}`;
}

function duplicates(ids: string[]): string[] {
  const seen = new Set<string>();
  return ids.filter((id) => (seen.has(id) ? true : (seen.add(id), false)));
}

/** Each element of a list, parsed field by field when it does not parse as a whole. */
function partsOf(schema: z.ZodObject, list: unknown): Part[] {
  if (!Array.isArray(list)) return [];
  const out: Part[] = [];
  list.forEach((raw, index) => {
    if (!isRecord(raw)) return;
    const whole = schema.safeParse(raw);
    if (whole.success) {
      out.push({ index, value: whole.data as Fields, bad: new Set() });
      return;
    }
    const value: Fields = {};
    const bad = new Set<string>();
    for (const [key, field] of Object.entries(schema.shape)) {
      const r = (field as z.ZodType).safeParse(raw[key]);
      if (r.success) value[key] = r.data;
      else bad.add(key);
    }
    out.push({ index, value, bad });
  });
  return out;
}

const wholeParts = (list: readonly object[]): Part[] => list.map((value, index) => ({ index, value: value as Fields, bad: new Set() }));

/**
 * Every problem with the document, or the document. Lists over their limits are refused first,
 * alone: nothing else reads the elements of a document that large.
 */
export function validateDocument(raw: unknown): Validation {
  const oversized = sizeProblems(raw);
  if (oversized.length > 0) return { ok: false, problems: oversized };
  const parsed = scheduleDocumentSchema.safeParse(raw);
  if (parsed.success) {
    const doc = parsed.data;
    const problems = semanticProblems({
      timezone: doc.timezone,
      issuedAt: doc.issuedAt,
      creatives: wholeParts(doc.creatives),
      campaigns: wholeParts(doc.campaigns),
      fill: doc.fill,
      suspensions: wholeParts(doc.suspensions),
    });
    return problems.length ? { ok: false, problems } : { ok: true, document: doc };
  }
  const problems = parsed.error.issues.map(describe);
  if (isRecord(raw)) {
    const fill = Array.isArray(raw.fill) ? raw.fill : [];
    problems.push(
      ...semanticProblems({
        timezone: typeof raw.timezone === "string" ? raw.timezone : null,
        issuedAt: scheduleDocumentSchema.shape.issuedAt.safeParse(raw.issuedAt).success ? (raw.issuedAt as string) : null,
        creatives: Array.isArray(raw.creatives) ? partsOf(creativeSchema, raw.creatives) : null,
        campaigns: Array.isArray(raw.campaigns) ? partsOf(campaignSchema, raw.campaigns) : null,
        // An element that is not an id is a shape problem already; the rest is looked up.
        fill: fill.map((id) => (campaignSchema.shape.id.safeParse(id).success ? (id as string) : null)),
        suspensions: partsOf(suspensionSchema, raw.suspensions ?? []),
      }),
    );
  }
  return { ok: false, problems };
}

interface Parts {
  /** The zone as given, or null when it is not a string (a shape problem). */
  timezone: string | null;
  /** The well-formed issue time, or null: flights may end at most MAX_YEARS_AFTER_ISSUE after it. */
  issuedAt: string | null;
  /** null when the list itself is malformed: then nothing can be looked up in it. */
  creatives: Part[] | null;
  campaigns: Part[] | null;
  fill: readonly (string | null)[];
  suspensions: Part[];
}

function semanticProblems(parts: Parts): string[] {
  const problems: string[] = [];
  const outside: string[] = []; // times beyond the horizon
  const zone = parts.timezone !== null && IANAZone.isValidZone(parts.timezone) ? parts.timezone : null;
  if (parts.timezone !== null && zone === null) problems.push(`timezone: ${JSON.stringify(parts.timezone)} is not an IANA time zone`);
  const withId = (list: Part[]): Part[] => list.filter((p) => fits(p, ["id"]));
  const creatives = withId(parts.creatives ?? []);
  const campaigns = parts.campaigns ?? [];
  for (const id of duplicates(creatives.map((p) => p.value.id as string))) problems.push(`creatives: id ${id} appears more than once`);
  for (const id of duplicates(withId(campaigns).map((p) => p.value.id as string))) problems.push(`campaigns: id ${id} appears more than once`);
  // approved: true/false when well-formed, null when the creative exists but its flag is malformed.
  const approval = new Map<string, boolean | null>(creatives.map((p) => [p.value.id as string, fits(p, ["approved"]) ? (p.value.approved as boolean) : null]));
  // Ids are looked up only in a list that is itself well-formed.
  const lookUpCreatives = parts.creatives !== null;
  const campaignIds = parts.campaigns !== null ? new Set(withId(campaigns).map((p) => p.value.id as string)) : null;

  for (const part of campaigns) {
    const c = part.value;
    const at = `campaigns.${part.index} (${fits(part, ["id"]) ? (c.id as string) : "?"})`;
    if (lookUpCreatives && fits(part, ["creatives", "exclusive"])) {
      (c.creatives as string[]).forEach((id, j) => {
        const approved = approval.get(id);
        if (approved === undefined) problems.push(`${at}.creatives.${j}: unknown creative ${id}`);
        else if (c.exclusive && approved === false) problems.push(`${at}.creatives.${j}: exclusive campaign references ${id}, which is not approved`);
      });
    }
    if (fits(part, ["start", "end"])) {
      if (parseInstant(c.end as string) <= parseInstant(c.start as string)) problems.push(`${at}: end ${c.end as string} is not after start ${c.start as string}`);
      outside.push(...horizonProblems(at, "start", c.start as string, "end", c.end as string, parts.issuedAt));
    }
    if (fits(part, ["exclusive", "playsPerHour", "playsPerDay"])) {
      const quotas = [c.playsPerHour, c.playsPerDay].filter((q) => q !== undefined).length;
      if (c.exclusive && quotas > 0) problems.push(`${at}: an exclusive campaign takes every slot while active; remove playsPerHour/playsPerDay`);
      if (!c.exclusive && quotas !== 1) problems.push(`${at}: needs exactly one of playsPerHour or playsPerDay (has ${quotas})`);
    }
    if (fits(part, ["dayparts"])) {
      (c.dayparts as PlanCampaign["dayparts"])?.forEach((p, j) => {
        if (new Set(p.days).size !== p.days.length) problems.push(`${at}.dayparts.${j}.days: a weekday appears more than once`);
      });
    }
  }
  if (lookUpCreatives) {
    parts.fill.forEach((id, i) => {
      if (id !== null && !approval.has(id)) problems.push(`fill.${i}: unknown creative ${id}`);
    });
    const fillApproval = parts.fill.map((id) => (id === null ? null : (approval.get(id) ?? false)));
    if (fillApproval.length > 0 && fillApproval.every((a) => a === false)) problems.push("fill: no approved creative, so gaps could not be filled");
  }
  for (const part of parts.suspensions) {
    const s = part.value;
    if (fits(part, ["from", "to"]) && parseInstant(s.to as string) <= parseInstant(s.from as string)) {
      problems.push(`suspensions.${part.index}: to ${s.to as string} is not after from ${s.from as string}`);
    }
    if (fits(part, ["from", "to"])) outside.push(...horizonProblems(`suspensions.${part.index}`, "from", s.from as string, "to", s.to as string, parts.issuedAt));
    if (campaignIds && fits(part, ["campaigns"])) {
      (s.campaigns as string[] | null)?.forEach((id, j) => {
        if (!campaignIds.has(id)) problems.push(`suspensions.${part.index}.campaigns.${j}: unknown campaign ${id}`);
      });
    }
  }
  if (parts.issuedAt !== null && parseInstant(parts.issuedAt) < earliestScheduleMs) outside.push(`issuedAt: ${parts.issuedAt} is before ${EARLIEST_SCHEDULE_TIME}`);
  problems.push(...outside);
  // The costly check runs only when every time is inside the horizon (and is bounded even then).
  if (zone !== null && outside.length === 0) problems.push(...exclusiveOverlaps(buyouts(campaigns), zone));
  return problems;
}

/**
 * Times far outside what any contract covers: before EARLIEST_SCHEDULE_TIME, or ending more than
 * MAX_YEARS_AFTER_ISSUE years after issuedAt (unchecked when issuedAt itself is malformed).
 */
function horizonProblems(at: string, fromKey: string, from: string, toKey: string, to: string, issuedAt: string | null): string[] {
  const problems: string[] = [];
  if (parseInstant(from) < earliestScheduleMs) problems.push(`${at}.${fromKey}: ${from} is before ${EARLIEST_SCHEDULE_TIME}`);
  if (issuedAt !== null && parseInstant(to) > latestEndMs(parseInstant(issuedAt))) {
    problems.push(`${at}.${toKey}: ${to} is more than ${MAX_YEARS_AFTER_ISSUE} years after issuedAt ${issuedAt}`);
  }
  return problems;
}

/** What the overlap check needs of a campaign: its times, dayparts and categories. */
const TIMING = ["id", "start", "end", "dayparts", "exclusive", "category", "separateFrom"] as const;

/** Every exclusive campaign whose times are well-formed and run forward, whatever else is wrong. */
function buyouts(campaigns: Part[]): PlanCampaign[] {
  return campaigns
    .filter((p) => fits(p, TIMING) && p.value.exclusive === true)
    .map((p) => p.value as unknown as PlanCampaign) // every field activeIntervals and competing() read is well-formed (TIMING)
    .filter((c) => parseInstant(c.end) > parseInstant(c.start));
}
