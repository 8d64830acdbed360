// The daemon's way to apply a schedule envelope, and what follows a schedule coming into force:
// the brightness windows go to the brightness schedule and the playout is told to take it over.
// Used by `schedule.load` (the technician's file) now, and by the MQTT link's deliveries next.
import type { ScheduleLoader } from "../commands/types.js";
import type { Logger } from "../log.js";
import { applyEnvelopeText, type ApplyDeps, type ApplyResult, type ScheduleDocument } from "../playback/schedule/index.js";

/** What happens once a schedule is in force (applied now, or stored at start). */
export interface ScheduleInForceHooks {
  brightness: () => { setSchedule(windows: ScheduleDocument["brightness"], timezone: string): Promise<void> } | null;
  playout: () => { scheduleApplied(): void } | null;
  log: Logger;
}

/**
 * Hands the schedule in force to the brightness schedule and the playout, whichever of them run.
 * Neither failing stops the other, nor undoes the apply: the schedule is recorded and stored.
 */
export function scheduleInForce(doc: ScheduleDocument, hooks: ScheduleInForceHooks): void {
  const brightness = hooks.brightness();
  if (brightness) {
    try {
      // The scheduler logs and retries its own failures; a rejection here is a bug worth a line.
      brightness.setSchedule(doc.brightness, doc.timezone).catch((err: unknown) => hooks.log.error({ err, version: doc.version }, "brightness windows not taken over"));
    } catch (err) {
      hooks.log.error({ err, version: doc.version }, "brightness windows not taken over");
    }
  }
  const playout = hooks.playout();
  if (!playout) return;
  try {
    playout.scheduleApplied();
  } catch (err) {
    hooks.log.error({ err, version: doc.version }, "the playout did not take the schedule over");
  }
}

export interface DaemonScheduleLoaderDeps {
  /** The apply's parts; origin is always "local" here (a file the technician brought). */
  apply: () => ApplyDeps;
  hooks: ScheduleInForceHooks;
}

/**
 * One apply at a time in this process (the store's lock already keeps other processes out), in
 * the order they were asked for. Each apply is synchronous; the queue keeps a later one from
 * running between an earlier one and its hooks.
 */
export class DaemonScheduleLoader implements ScheduleLoader {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: DaemonScheduleLoaderDeps) {}

  load(text: string, source: string): Promise<ApplyResult> {
    const turn = this.tail.then(() => this.applyNow(text, source));
    // A failed apply must not block the ones after it.
    this.tail = turn.catch(() => undefined);
    return turn;
  }

  private applyNow(text: string, source: string): ApplyResult {
    const deps = this.deps.apply();
    const result = applyEnvelopeText(deps, text, source, "local");
    this.deps.hooks.log.info({ source, ...result }, `schedule ${result.state}`);
    if (result.state !== "applied") return result;
    let current;
    try {
      current = deps.store.current();
    } catch (err) {
      // Recorded and stored a moment ago; a store unreadable now must not turn the apply into a failure.
      this.deps.hooks.log.error({ err, version: result.version }, "the schedule just applied could not be read back for the playout");
      return result;
    }
    if (current) scheduleInForce(current.document, this.deps.hooks);
    return result;
  }
}
