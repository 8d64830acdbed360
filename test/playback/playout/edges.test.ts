// Shorter playout scenarios on real parts, run at once (each on a rig of its own): the screen's
// state on each play, the schedule's planned suspensions, an exclusive campaign, wall-clock
// steps, orders that land as mpv starts an item, and separation when the timeline runs late. Each scenario's file says what it proves.
import { describe } from "vitest";
import { clockJumpTests } from "./clock-jump.scenario.js";
import { darkTests } from "./dark.scenario.js";
import { exclusiveTests } from "./exclusive.scenario.js";
import { orderRaceTests } from "./order-race.scenario.js";
import { plannedSuspensionTests } from "./planned-suspension.scenario.js";
import { separationTests } from "./separation.scenario.js";

describe.concurrent("playout on real parts, edges", () => {
  darkTests();
  plannedSuspensionTests();
  exclusiveTests();
  clockJumpTests();
  orderRaceTests();
  separationTests();
});
