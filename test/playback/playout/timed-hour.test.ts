// The playout's scenarios on real parts (mpv, ffmpeg, the ledger) that run against the clock hour
// (two minutes of timeline, make-goods across an hour's end, plays owed in their hour), with live
// suspensions and hostile cases in the slots those leave free. Each runs on a rig of its own and
// mostly waits on the wall clock, so they run at once, five at a time, and the two-minute run
// bounds the file. The other scenarios are in timed-orders.test.ts: the two files take about as
// long as each other in all, so two workers share them (each scenario's file says what it proves).
import { describe } from "vitest";
import { hostileTests } from "./hostile.scenario.js";
import { longRunTests } from "./long-run.scenario.js";
import { makeGoodTests } from "./make-good.scenario.js";
import { mpvKillTests } from "./mpv-kill.scenario.js";
import { standInTests } from "./stand-in.scenario.js";
import { suspendTests } from "./suspend.scenario.js";

describe.concurrent("playout on real parts, against the clock hour", () => {
  // The longest first, so they hold their slots from the start.
  longRunTests();
  makeGoodTests();
  mpvKillTests();
  standInTests();
  suspendTests();
  hostileTests();
});
