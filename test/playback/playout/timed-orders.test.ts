// The playout's scenarios on real parts for orders that last (takedowns), faults (a restart on the
// same data, wall-clock steps, a late timeline, orders racing mpv's next item) and what the screen
// shows (its state on each play, an exclusive campaign, the schedule's own suspensions). Each test
// runs on a rig of its own and mostly waits on the wall clock, so they run at once, five at a time
// (each scenario's file says what it proves). The rest are in timed-hour.test.ts.
import { describe } from "vitest";
import { clockJumpTests } from "./clock-jump.scenario.js";
import { darkTests } from "./dark.scenario.js";
import { exclusiveTests } from "./exclusive.scenario.js";
import { orderRaceTests } from "./order-race.scenario.js";
import { plannedSuspensionTests } from "./planned-suspension.scenario.js";
import { restartTests } from "./restart.scenario.js";
import { separationTests } from "./separation.scenario.js";
import { takedownTests } from "./takedown.scenario.js";

describe.concurrent("playout on real parts, orders, faults and the screen", () => {
  // The longest (takedowns, whole windows waited out) first.
  takedownTests();
  separationTests();
  clockJumpTests();
  restartTests();
  plannedSuspensionTests();
  darkTests();
  exclusiveTests();
  orderRaceTests();
});
