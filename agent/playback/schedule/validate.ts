// Checks a schedule document and names every problem (path: reason), never just the first:
// the shape (zod), then what a shape cannot say — ids that point nowhere, times that run
// backwards, buyouts that overlap or would air an unapproved creative.
import { IANAZone } from "luxon";
import type { z } from "zod";
import { activeIntervals, intersect, parseInstant } from "../planner/time.js";
import type { PlanCampaign } from "../planner/types.js";
import { scheduleDocumentSchema, type ScheduleDocument } from "./document.js";

export type Validation = { ok: true; document: ScheduleDocument } | { ok: false; problems: string[] };

function describe(issue: z.core.$ZodIssue): string {
  const where = issue.path.map(String).join(".") || "(document)";
  if (issue.code === "unrecognized_keys") return issue.keys.map((k) => `${where === "(document)" ? "" : `${where}.`}${k}: unknown key`).join("; ");
  return `${where}: ${issue.message}`;
}

function duplicates(ids: string[]): string[] {
  const seen = new Set<string>();
  return ids.filter((id) => (seen.has(id) ? true : (seen.add(id), false)));
}

export function validateDocument(raw: unknown): Validation {
  const parsed = scheduleDocumentSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, problems: parsed.error.issues.map(describe) };
  const doc = parsed.data;
  const problems: string[] = [];
  if (!IANAZone.isValidZone(doc.timezone)) problems.push(`timezone: ${JSON.stringify(doc.timezone)} is not an IANA time zone`);
  for (const id of duplicates(doc.creatives.map((c) => c.id))) problems.push(`creatives: id ${id} appears more than once`);
  for (const id of duplicates(doc.campaigns.map((c) => c.id))) problems.push(`campaigns: id ${id} appears more than once`);
  const creatives = new Map(doc.creatives.map((c) => [c.id, c]));
  const campaignIds = new Set(doc.campaigns.map((c) => c.id));

  doc.campaigns.forEach((c, i) => {
    const at = `campaigns.${i} (${c.id})`;
    c.creatives.forEach((id, j) => {
      const creative = creatives.get(id);
      if (!creative) problems.push(`${at}.creatives.${j}: unknown creative ${id}`);
      else if (c.exclusive && !creative.approved) problems.push(`${at}.creatives.${j}: exclusive campaign references ${id}, which is not approved`);
    });
    if (parseInstant(c.end) <= parseInstant(c.start)) problems.push(`${at}: end ${c.end} is not after start ${c.start}`);
    const quotas = [c.playsPerHour, c.playsPerDay].filter((q) => q !== undefined).length;
    if (c.exclusive && quotas > 0) problems.push(`${at}: an exclusive campaign takes every slot while active; remove playsPerHour/playsPerDay`);
    if (!c.exclusive && quotas !== 1) problems.push(`${at}: needs exactly one of playsPerHour or playsPerDay (has ${quotas})`);
    c.dayparts?.forEach((p, j) => {
      if (new Set(p.days).size !== p.days.length) problems.push(`${at}.dayparts.${j}.days: a weekday appears more than once`);
    });
  });
  doc.fill.forEach((id, i) => {
    if (!creatives.has(id)) problems.push(`fill.${i}: unknown creative ${id}`);
  });
  if (doc.fill.every((id) => creatives.get(id)?.approved !== true)) problems.push("fill: no approved creative, so gaps could not be filled");
  doc.suspensions.forEach((s, i) => {
    if (parseInstant(s.to) <= parseInstant(s.from)) problems.push(`suspensions.${i}: to ${s.to} is not after from ${s.from}`);
    s.campaigns?.forEach((id, j) => {
      if (!campaignIds.has(id)) problems.push(`suspensions.${i}.campaigns.${j}: unknown campaign ${id}`);
    });
  });
  if (problems.length === 0) problems.push(...exclusiveOverlaps(doc));
  return problems.length ? { ok: false, problems } : { ok: true, document: doc };
}

/** Two buyouts of competing categories: neither may follow the other (rule 4). */
function competing(a: PlanCampaign, b: PlanCampaign): boolean {
  const ca = a.category ?? "";
  const cb = b.category ?? "";
  return (ca !== "" && ca === cb) || (cb !== "" && (a.separateFrom ?? []).includes(cb)) || (ca !== "" && (b.separateFrom ?? []).includes(ca));
}

/**
 * Two buyouts whose active times overlap cannot both have the whole screen (rule 1); two competing
 * buyouts that touch would force one right after the other, breaking rule 4: both are refused.
 */
function exclusiveOverlaps(doc: ScheduleDocument): string[] {
  const problems: string[] = [];
  const exclusive = doc.campaigns.filter((c) => c.exclusive);
  for (let i = 0; i < exclusive.length; i++) {
    for (let j = i + 1; j < exclusive.length; j++) {
      const a: PlanCampaign = exclusive[i];
      const b: PlanCampaign = exclusive[j];
      const from = Math.min(parseInstant(a.start), parseInstant(b.start));
      const to = Math.max(parseInstant(a.end), parseInstant(b.end));
      const activeA = activeIntervals(a, from, to, doc.timezone);
      const activeB = activeIntervals(b, from, to, doc.timezone);
      const both = intersect(activeA, activeB);
      if (both.length > 0) {
        problems.push(`campaigns ${a.id} and ${b.id}: exclusive campaigns overlap (first at ${new Date(both[0][0]).toISOString()})`);
        continue;
      }
      if (!competing(a, b)) continue;
      const seam = activeA.flatMap(([s, e]) => activeB.filter(([s2, e2]) => s2 === e || e2 === s).map(([s2]) => (s2 === e ? e : s)))[0];
      if (seam !== undefined) {
        problems.push(
          `campaigns ${a.id} and ${b.id}: competing exclusive campaigns meet back to back at ${new Date(seam).toISOString()}; leave a gap between them`,
        );
      }
    }
  }
  return problems;
}
