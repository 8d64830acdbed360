// The planner's own view of its inputs and outputs. A validated schedule document satisfies
// PlanSchedule structurally, so the planner depends on nothing outside this folder but luxon.

export interface PlanCreative {
  id: string;
  durationMs: number;
  approved: boolean;
}

export interface PlanDaypart {
  /** ISO weekdays (1 = Monday) of the day the daypart starts on, in the schedule's zone. */
  days: readonly number[];
  from: string;
  to: string;
}

export interface PlanCampaign {
  id: string;
  customer: string;
  category?: string;
  creatives: readonly string[];
  start: string;
  end: string;
  dayparts?: readonly PlanDaypart[];
  playsPerHour?: number;
  playsPerDay?: number;
  priority?: number;
  exclusive?: boolean;
  separateFrom?: readonly string[];
  makeGood?: boolean;
}

export interface PlanScheduleSuspension {
  from: string;
  to: string;
  reason: string;
  campaigns: readonly string[] | null;
  blackout?: boolean;
}

export interface PlanSchedule {
  version: number;
  timezone: string;
  creatives: readonly PlanCreative[];
  campaigns: readonly PlanCampaign[];
  fill: readonly string[];
  suspensions?: readonly PlanScheduleSuspension[];
}

/** A live suspension (command): open-ended until `to`, or until resumed when `to` is absent. */
export interface LiveSuspension {
  from: number;
  to?: number;
  reason: string;
  campaigns: readonly string[] | null;
  blackout?: boolean;
}

/** A takedown from `at` on: a whole campaign, or one creative wherever it is used. */
export interface Takedown {
  at: number;
  campaign?: string;
  creative?: string;
  /**
   * When it stopped standing (lifted, or its schedule replaced). Absent: it stands, and nothing
   * of its target is planned from `at` on. With it: it only excuses the time it held, which is
   * not owed (rule 8), so the windows it covered are not caught up once it is lifted.
   */
  to?: number;
}

/** Plays that count as delivered, per campaign: regular plays by clock-hour start (ms), and make-goods. */
export interface DeliveredCounts {
  byHour: ReadonlyMap<number, number>;
  makeGoods: number;
}

export interface PlannerInput {
  schedule: PlanSchedule;
  /** Window [from, to) in UTC ms. Items start inside it; the last may run past `to`. */
  from: number;
  to: number;
  /** Delivered so far, per campaign id. Absent: a plan with no play history. */
  delivered?: ReadonlyMap<string, DeliveredCounts>;
  /** When this agent first applied a schedule holding each campaign (UTC ms); owed plays count from then. */
  appliedAt?: Readonly<Record<string, number>>;
  suspensions?: readonly LiveSuspension[];
  takedowns?: readonly Takedown[];
  /** The campaign on screen just before `from`, so separation holds across a replan. */
  previousCampaign?: string;
}

export interface PlanItem {
  /** Start, UTC RFC 3339 with milliseconds. */
  at: string;
  startMs: number;
  durationMs: number;
  campaign: string | null;
  customer: string | null;
  creative: string | null;
  category: string | null;
  makeGood: boolean;
  fill: boolean;
  /** A blackout suspension: the screen is black, nothing plays. */
  blackout: boolean;
}

export interface Shortfall {
  campaign: string;
  customer: string;
  /** Start of the clock hour (playsPerHour) or day (playsPerDay), UTC. */
  period: string;
  periodKind: "hour" | "day";
  contracted: number;
  planned: number;
  missing: number;
  reason: string;
}

export interface Bend {
  campaign: string;
  at: string;
  /** The contractual window the item should have started in (rule 3). */
  windowFrom: string;
  windowTo: string;
  reason: string;
}

export interface MakeGoodSummary {
  campaign: string;
  owed: number;
  planned: number;
}

export interface Plan {
  scheduleVersion: number;
  from: string;
  to: string;
  items: PlanItem[];
  shortfalls: Shortfall[];
  bends: Bend[];
  makeGoods: MakeGoodSummary[];
}
