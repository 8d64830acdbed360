// Refusals, play.now, test play, pattern and screenshot, on one rig in order (see interjections.scenario.ts): its tests depend on each other's
// order, so they run on their own rather than alongside the other scenarios.
import { interjectionTests } from "./interjections.scenario.js";

interjectionTests();
