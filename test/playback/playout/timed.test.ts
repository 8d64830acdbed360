// The playout's scenarios on real parts (mpv, ffmpeg, the ledger), run at once: each on a rig of
// its own, mostly waiting on the wall clock, so the two-minute run bounds this file's time and the
// others ride along (vitest runs five at a time). Each scenario's file says what it proves; the
// ones whose tests must run in order have their own test files.
import { describe } from "vitest";
import { clockJumpTests } from "./clock-jump.scenario.js";
import { darkTests } from "./dark.scenario.js";
import { exclusiveTests } from "./exclusive.scenario.js";
import { hostileTests } from "./hostile.scenario.js";
import { longRunTests } from "./long-run.scenario.js";
import { makeGoodTests } from "./make-good.scenario.js";
import { mpvKillTests } from "./mpv-kill.scenario.js";
import { orderRaceTests } from "./order-race.scenario.js";
import { plannedSuspensionTests } from "./planned-suspension.scenario.js";
import { restartTests } from "./restart.scenario.js";
import { separationTests } from "./separation.scenario.js";
import { standInTests } from "./stand-in.scenario.js";
import { suspendTests } from "./suspend.scenario.js";
import { takedownTests } from "./takedown.scenario.js";

describe.concurrent("playout on real parts", () => {
  // The longest first, so it holds a slot from the start.
  longRunTests();
  makeGoodTests();
  standInTests();
  mpvKillTests();
  restartTests();
  suspendTests();
  takedownTests();
  hostileTests();
  darkTests();
  plannedSuspensionTests();
  exclusiveTests();
  clockJumpTests();
  orderRaceTests();
  separationTests();
});
