// The playout: the timeline on air (docs/playout.md).
export { Playout, type PlayoutEvents } from "./playout.js";
export type { ScheduleTakeover } from "./on-air.js";
export type * from "./types.js";
