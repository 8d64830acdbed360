// The parts the daemon's services build, in one place: each service sets its part when it has
// started and clears it when it stops, and whoever needs a part (the command registry, the
// schedule hooks, the event recorder) reads it when it needs it. A part that failed to start, or
// is not configured, stays null.
import type { CommandRegistry, ProofSync } from "../commands/index.js";
import type { BrightnessScheduler, Controller, StatusPoller } from "../drivers/index.js";
import type { Link } from "../link/link.js";
import type { CreativePipeline } from "../playback/creatives/index.js";
import type { Playout } from "../playback/playout/index.js";
import type { ScheduleStore } from "../playback/schedule/index.js";
import type { Ledger } from "../proofs/index.js";
import type { DaemonScheduleLoader } from "./schedule-loader.js";

export interface DaemonParts {
  ledger: Ledger | null;
  controller: Controller | null;
  poller: StatusPoller | null;
  brightness: BrightnessScheduler | null;
  creatives: CreativePipeline | null;
  schedules: ScheduleStore | null;
  scheduleLoader: DaemonScheduleLoader | null;
  playout: Playout | null;
  commands: CommandRegistry | null;
  proofSync: ProofSync | null;
  link: Link | null;
}

export function noParts(): DaemonParts {
  return { ledger: null, controller: null, poller: null, brightness: null, creatives: null, schedules: null, scheduleLoader: null, playout: null, commands: null, proofSync: null, link: null };
}

/** The part, or an error naming what it needs and is not running (an optional service that failed). */
export function required<K extends keyof DaemonParts>(parts: DaemonParts, key: K, neededBy: string): NonNullable<DaemonParts[K]> {
  const part = parts[key];
  if (part === null) throw new Error(`${neededBy} needs the ${key}, which is not running`);
  return part as NonNullable<DaemonParts[K]>;
}
