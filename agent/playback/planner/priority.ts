// Rule 5 beyond an hour's arithmetic. selectForCapacity() serves higher priorities first when an
// hour's quotas exceed its time; but time also runs short inside an hour (a burst in a 15-minute
// daypart) and goes to separators (rule 4). So while laying items, a play goes only if what the
// higher priorities still need fits before their periods end once it has played.
import { conflicts, SEPARATOR_MS, type PlanContext, type Runner } from "./context.js";
import { normalTime, type Demand, type Period } from "./demands.js";

/** A period's selected plays not yet placed or expired. */
interface Backlog {
  runner: Runner;
  expires: number;
  left: number;
}

export class PriorityGuard {
  private readonly backlogs = new Map<Period, Backlog>();
  /** Backlogs of periods with a play already due, so with a claim on the time from now on. */
  private live: Backlog[] = [];
  private readonly released = new Set<Backlog>();

  constructor(
    private readonly ctx: PlanContext,
    demands: readonly Demand[],
  ) {
    for (const d of demands) {
      const b = this.backlogs.get(d.period);
      if (b) b.left++;
      else this.backlogs.set(d.period, { runner: d.runner, expires: d.expires, left: 1 });
    }
  }

  /** A play is due (its window opened). */
  release(d: Demand): void {
    const b = this.backlogs.get(d.period) as Backlog;
    if (this.released.has(b)) return;
    this.released.add(b);
    this.live.push(b);
  }

  /** A play was placed or expired. */
  settle(d: Demand): void {
    (this.backlogs.get(d.period) as Backlog).left--;
  }

  /** Whether `d`, played from `t` to `end`, still leaves the higher priorities their time. */
  leavesRoom(d: Demand, t: number, end: number): boolean {
    this.live = this.live.filter((b) => b.left > 0 && b.expires > t);
    const higher = this.live.filter((b) => b.runner.priority > d.runner.priority);
    if (higher.length === 0) return true;
    const after = end + (higher.some((b) => conflicts(d.runner, b.runner)) ? SEPARATOR_MS : 0);
    // Higher plays that may not follow one another need a separator each.
    const runners = [...new Set(higher.map((b) => b.runner))];
    const apart = new Set(runners.filter((r) => runners.some((o) => conflicts(r, o))));
    const need = (b: Backlog): number => b.left * (b.runner.meanDurationMs + (apart.has(b.runner) ? SEPARATOR_MS : 0));
    let total = 0;
    let soonest = Infinity;
    for (const b of higher) {
      total += need(b);
      soonest = Math.min(soonest, b.expires);
    }
    if (normalTime(this.ctx, after, soonest) >= total) return true;
    // By each deadline: all of what expires by then, and the share of later periods whose
    // windows (spread evenly over what is left of them) end by then.
    const deadlines = [...new Set(higher.map((b) => b.expires))].sort((a, b) => a - b);
    for (const deadline of deadlines) {
      let sum = 0;
      for (const b of higher) sum += b.expires <= deadline ? need(b) : (need(b) * (deadline - t)) / (b.expires - t);
      if (normalTime(this.ctx, after, deadline) < sum) return false;
    }
    return true;
  }
}
