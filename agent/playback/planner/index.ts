export { plan, PlanError, MAX_PLAN_MS } from "./planner.js";
export { SEPARATOR_MS } from "./place.js";
export { hourStart, dayStart, daysOverlapping, hoursOverlapping, parseInstant } from "./time.js";
export type * from "./types.js";
