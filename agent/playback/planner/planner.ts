// The planner (spec/schedule-format.md, rules 1–8): pure and deterministic. It reads no clock
// and touches no file; the same input always gives the same plan, so replanning on any change
// (a new version, a takedown, a suspension, a missed play) is just calling it again.
import { buildContext } from "./context.js";
import { selectForCapacity } from "./capacity.js";
import { buildDemands, owedPlays } from "./demands.js";
import { place } from "./place.js";
import { toIso } from "./time.js";
import type { MakeGoodSummary, Plan, PlannerInput, Shortfall } from "./types.js";

/** Longest window one call plans; a longer one is a caller's mistake, not a bigger plan. */
export const MAX_PLAN_MS = 31 * 24 * 3_600_000;

export class PlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PlanError";
  }
}

export function plan(input: PlannerInput): Plan {
  if (!Number.isFinite(input.from) || !Number.isFinite(input.to) || input.to <= input.from) {
    throw new PlanError(`plan window must be from < to, got ${input.from} .. ${input.to}`);
  }
  if (input.to - input.from > MAX_PLAN_MS) throw new PlanError(`plan window longer than 31 days (${Math.round((input.to - input.from) / 3_600_000)} h)`);
  const ctx = buildContext(input);
  if (ctx.fill.length === 0) throw new PlanError("the schedule has no approved fill creative, so gaps could not be filled");
  const { periods, runs } = buildDemands(ctx, input);
  const selected = selectForCapacity(ctx, input, runs);
  const owed = new Map(ctx.runners.map((r) => [r, owedPlays(ctx, input, r)] as const).filter(([, n]) => n > 0));
  const owedAtStart = new Map(owed);
  const placement = place(ctx, input, selected, owed);

  const shortfalls: Shortfall[] = [];
  for (const p of periods) {
    const missing = p.dropped + p.expired;
    if (missing === 0) continue;
    shortfalls.push({
      campaign: p.runner.campaign.id,
      customer: p.runner.campaign.customer,
      period: toIso(p.start),
      periodKind: p.kind,
      contracted: p.contracted,
      planned: p.planned + p.delivered,
      missing,
      reason: p.reasons.join("; "),
    });
  }
  shortfalls.sort((a, b) => a.period.localeCompare(b.period) || a.campaign.localeCompare(b.campaign));
  const makeGoods: MakeGoodSummary[] = [...owedAtStart].map(([r, n]) => ({
    campaign: r.campaign.id,
    owed: n,
    planned: placement.makeGoodsPlanned.get(r) ?? 0,
  }));
  return {
    scheduleVersion: input.schedule.version,
    from: toIso(input.from),
    to: toIso(input.to),
    items: placement.items,
    shortfalls,
    bends: placement.bends,
    makeGoods,
  };
}
