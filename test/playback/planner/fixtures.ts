// Schedules for planner tests, and an independent checker of the hard rules (1, 2, 4) and gaps.
import { DateTime } from "luxon";
import type { Plan, PlanCampaign, PlanCreative, PlanSchedule } from "../../../agent/playback/planner/index.js";

export const H = 3_600_000;

export function creative(id: string, durationMs = 15_000, approved = true): PlanCreative {
  return { id, durationMs, approved };
}

export function campaign(id: string, over: Partial<PlanCampaign> = {}): PlanCampaign {
  return {
    id,
    customer: `${id}-co`,
    category: "",
    creatives: [`${id}-15`],
    start: "2026-12-01T00:00:00Z",
    end: "2027-01-01T00:00:00Z",
    playsPerHour: 4,
    priority: 5,
    ...over,
  };
}

export function schedule(campaigns: PlanCampaign[], over: Partial<PlanSchedule> = {}): PlanSchedule {
  const ids = new Set(campaigns.flatMap((c) => c.creatives));
  return {
    version: 1,
    timezone: "UTC",
    creatives: [...[...ids].map((id) => creative(id)), creative("house", 30_000)],
    campaigns,
    fill: ["house"],
    ...over,
  };
}

export const ms = (iso: string): number => DateTime.fromISO(iso, { setZone: true }).toMillis();

function activeAt(c: PlanCampaign, t: number, zone: string): boolean {
  if (t < ms(c.start) || t >= ms(c.end)) return false;
  if (!c.dayparts) return true;
  const local = DateTime.fromMillis(t, { zone });
  for (const p of c.dayparts) {
    // The daypart may have started today or (when it wraps) yesterday.
    for (const back of [0, 1]) {
      const day = local.startOf("day").minus({ days: back });
      if (!p.days.includes(day.weekday)) continue;
      const [fh, fm] = p.from.split(":").map(Number);
      const [th, tm] = p.to.split(":").map(Number);
      const start = day.set({ hour: fh, minute: fm }).toMillis();
      const end = (p.to <= p.from ? day.plus({ days: 1 }) : day).set({ hour: th, minute: tm }).toMillis();
      if (t >= start && t < end) return true;
    }
  }
  return false;
}

function suspendedAt(s: PlanSchedule, campaignId: string, t: number): boolean {
  return (s.suspensions ?? []).some((sp) => t >= ms(sp.from) && t < ms(sp.to) && (sp.campaigns === null || sp.campaigns.includes(campaignId)));
}

function separated(a: PlanCampaign, b: PlanCampaign): boolean {
  const ca = a.category ?? "";
  const cb = b.category ?? "";
  if (ca !== "" && ca === cb) return false;
  if (cb !== "" && (a.separateFrom ?? []).includes(cb)) return false;
  return !(ca !== "" && (b.separateFrom ?? []).includes(ca));
}

/** Every broken hard rule or gap, as text; empty when the plan is sound. */
export function hardRuleProblems(plan: Plan, s: PlanSchedule, from: number, to: number): string[] {
  const problems: string[] = [];
  const byId = new Map(s.campaigns.map((c) => [c.id, c]));
  const approved = new Set(s.creatives.filter((c) => c.approved).map((c) => c.id));
  if (plan.items.length === 0) return ["no items"];
  if (plan.items[0].startMs !== from) problems.push(`first item at ${plan.items[0].at}, not the window start`);
  const last = plan.items[plan.items.length - 1];
  if (last.startMs + last.durationMs < to) problems.push("timeline ends before the window does");
  plan.items.forEach((item, i) => {
    if (item.durationMs <= 0) problems.push(`item ${i} has duration ${item.durationMs}`);
    const next = plan.items[i + 1];
    if (next && item.startMs + item.durationMs !== next.startMs) problems.push(`gap or overlap after item ${i} (${item.at})`);
    if (item.creative && !approved.has(item.creative)) problems.push(`item ${i} airs unapproved ${item.creative}`);
    const c = item.campaign ? byId.get(item.campaign) : undefined;
    if (c && !activeAt(c, item.startMs, s.timezone)) problems.push(`rule 2: ${c.id} at ${item.at} is outside its flight or dayparts`);
    for (const x of s.campaigns.filter((k) => k.exclusive)) {
      if (!activeAt(x, item.startMs, s.timezone) || item.campaign === x.id) continue;
      // A suspended buyout keeps its screen time for fill (docs/schedule-format.md): nobody
      // else's paid content, but house content may play.
      if (item.fill && suspendedAt(s, x.id, item.startMs)) continue;
      // The remnant before a stop: when the buyer's creatives do not tile the time up to its
      // suspension, the last few seconds (shorter than any of its creatives) play fill, since
      // paid items are never cut and never run into a stop (docs/schedule-format.md).
      const shortest = Math.min(...x.creatives.map((id) => s.creatives.find((c) => c.id === id)?.durationMs ?? Infinity));
      if (item.fill && item.durationMs < shortest && suspendedAt(s, x.id, item.startMs + item.durationMs)) continue;
      problems.push(`rule 1: ${item.campaign} at ${item.at} during buyout by ${x.id}`);
    }
    const n = next?.campaign ? byId.get(next.campaign) : undefined;
    if (c && n && c !== n && !separated(c, n)) problems.push(`rule 4: ${c.id} then ${n.id} at ${next.at}`);
  });
  return problems;
}

export function countPlays(plan: Plan, campaignId: string, from: number, to: number, makeGood = false): number {
  return plan.items.filter((i) => i.campaign === campaignId && i.makeGood === makeGood && i.startMs >= from && i.startMs < to).length;
}
