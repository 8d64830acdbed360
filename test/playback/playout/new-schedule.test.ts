// A new schedule applied while playing, on one rig in order (see new-schedule.scenario.ts): its tests depend on each other's
// order, so they run on their own rather than alongside the other scenarios.
import { newScheduleTests } from "./new-schedule.scenario.js";

newScheduleTests();
