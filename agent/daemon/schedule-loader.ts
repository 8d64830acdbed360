// The daemon's way to apply a schedule envelope, and what follows a schedule coming into force:
// the brightness windows go to the brightness schedule and the playout is told to take it over.
// Used by `schedule.load` (the technician's file) and by the MQTT link's deliveries alike.
import type { ScheduleLoader } from "../commands/types.js";
import type { Logger } from "../log.js";
import type { ScheduleTakeover } from "../playback/playout/index.js";
import { applyEnvelopeText, type ApplyDeps, type ApplyResult, type EnvelopeOrigin, type ScheduleDocument } from "../playback/schedule/index.js";

/** What happens once a schedule is in force (applied now, or stored at start). */
export interface ScheduleInForceHooks {
  brightness: () => { setSchedule(windows: ScheduleDocument["brightness"], timezone: string): Promise<void> } | null;
  playout: () => { scheduleApplied(): Promise<ScheduleTakeover> } | null;
  log: Logger;
}

/** No playout runs to take the schedule over: it is in force as soon as it is stored. */
function inForceAtOnce(doc: ScheduleDocument): Promise<ScheduleTakeover> {
  return Promise.resolve({ version: doc.version, onAir: true, rejected: [] });
}

/**
 * Hands the schedule in force to the brightness schedule and the playout, whichever of them run.
 * Neither failing stops the other, nor undoes the apply: the schedule is recorded and stored.
 * Resolves once the playout has it on air (its creatives all tried), never rejects.
 */
export function scheduleInForce(doc: ScheduleDocument, hooks: ScheduleInForceHooks): Promise<ScheduleTakeover> {
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
  if (!playout) return inForceAtOnce(doc);
  const failed = (err: unknown): ScheduleTakeover => {
    hooks.log.error({ err, version: doc.version }, "the playout did not take the schedule over");
    return { version: doc.version, onAir: false, rejected: [] };
  };
  try {
    return playout.scheduleApplied().catch(failed);
  } catch (err) {
    return Promise.resolve(failed(err));
  }
}

/** An apply's result and, when it put a schedule in force, when that schedule is on air. */
export interface LoadOutcome {
  result: ApplyResult;
  /** null when nothing new came into force (rejected, or unchanged). */
  takeover: Promise<ScheduleTakeover> | null;
}

export interface DaemonScheduleLoaderDeps {
  /** The apply's parts. */
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

  /** A file the technician brought (`schedule load`): `file:` creatives allowed. */
  async load(text: string, source: string): Promise<ApplyResult> {
    return (await this.apply(text, source, "local")).result;
  }

  /** Applies in turn; `origin` "network" for the MQTT link's deliveries. */
  apply(text: string | Buffer, source: string, origin: EnvelopeOrigin): Promise<LoadOutcome> {
    const turn = this.tail.then(() => this.applyNow(text, source, origin));
    // A failed apply must not block the ones after it.
    this.tail = turn.catch(() => undefined);
    return turn;
  }

  private applyNow(text: string | Buffer, source: string, origin: EnvelopeOrigin): LoadOutcome {
    const deps = this.deps.apply();
    const result = applyEnvelopeText(deps, text, source, origin);
    this.deps.hooks.log.info({ source, ...result }, `schedule ${result.state}`);
    if (result.state !== "applied") return { result, takeover: null };
    let current;
    try {
      current = deps.store.current();
    } catch (err) {
      // Recorded and stored a moment ago; a store unreadable now must not turn the apply into a failure.
      this.deps.hooks.log.error({ err, version: result.version }, "the schedule just applied could not be read back for the playout");
      return { result, takeover: null };
    }
    return { result, takeover: current ? scheduleInForce(current.document, this.deps.hooks) : null };
  }
}
