// What the ledger's history tells the planner and the playout (docs/proof-format.md, events).
export { DeliveredTally } from "./delivered.js";
export { closedFlights, endedFlights, flightCompletedDetail, flightKey, type CampaignCompletedDetail } from "./flights.js";
export {
  describeOrigin,
  liveOrders,
  parseOrder,
  parseResumed,
  parseSuspended,
  parseTakedown,
  resumedEvent,
  suspendedEvent,
  takedownEvent,
  type LiveOrders,
  type LiveOrdersOptions,
  type Parsed,
  type RecordedSuspension,
  type ResumedDetail,
  type SkippedEntry,
  type StandingTakedown,
  type SuspendedDetail,
  type TakedownDetail,
} from "./live-orders.js";
export { appliedTimes, plannerHistory, plannerOrders, readLiveOrders, type HistoryOptions, type PlannerHistory } from "./planner-inputs.js";
export { eventsOfTypes, type HistoryReader } from "./reader.js";
export { readTakedownPeriods, takedownPeriods, type TakedownPeriods } from "./takedown-periods.js";
