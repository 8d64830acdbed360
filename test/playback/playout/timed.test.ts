// The playout scenarios that wait longest on the wall clock, run at once: the two-minute run
// bounds this file's time, and the others (each on a rig of its own, mostly waiting) ride along,
// so they cost the suite's two workers little. Each scenario's file says what it proves.
import { describe } from "vitest";
import { interjectionTests } from "./interjections.scenario.js";
import { longRunTests } from "./long-run.scenario.js";
import { makeGoodTests } from "./make-good.scenario.js";
import { mpvKillTests } from "./mpv-kill.scenario.js";
import { newScheduleTests } from "./new-schedule.scenario.js";
import { restartTests } from "./restart.scenario.js";
import { standInTests } from "./stand-in.scenario.js";

describe.concurrent("playout on real parts, timed", () => {
  longRunTests();
  makeGoodTests();
  standInTests();
  mpvKillTests();
  restartTests();
  newScheduleTests();
  interjectionTests();
});
