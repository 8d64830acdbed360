// The schedule in force, kept on disk (agentPaths(config).scheduleFile) so the agent runs from
// it offline for weeks. It changes only through applyEnvelope() (apply.ts).
import { readFileSync } from "node:fs";
import { withFileLockSync, writeFileDurably } from "../../store/index.js";
import type { ScheduleDocument } from "./document.js";
import { validateDocument } from "./validate.js";

export const STORE_FORMAT = "ledagent.schedule-store/v1";

export interface StoredSchedule {
  format: typeof STORE_FORMAT;
  /** The envelope exactly as ops signed it, so it can be re-verified at any time. */
  envelope: { schedule: unknown; sig: string };
  appliedAt: string;
  /** When this agent first applied a schedule holding each campaign: owed plays count from then (rule 6). */
  campaignAppliedAt: Record<string, string>;
}

export interface CurrentSchedule extends StoredSchedule {
  document: ScheduleDocument;
}

export class ScheduleStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ScheduleStoreError";
  }
}

export class ScheduleStore {
  constructor(private readonly deps: { path: string }) {}

  /**
   * Runs `fn` as the only applier of schedules on this device: a daemon's MQTT delivery and a
   * technician's `schedule load` must not both read the same floor and both apply (an older
   * version could then land after a newer one).
   */
  exclusive<T>(fn: () => T): T {
    return withFileLockSync(this.deps.path, fn, { what: "the schedule" });
  }

  /** The schedule in force, or null when none was ever applied. */
  current(): CurrentSchedule | null {
    let text: string;
    try {
      text = readFileSync(this.deps.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw new ScheduleStoreError(`cannot read ${this.deps.path}: ${(err as Error).message}`);
    }
    let stored: StoredSchedule;
    try {
      stored = JSON.parse(text) as StoredSchedule;
    } catch {
      throw new ScheduleStoreError(`${this.deps.path} is not JSON; load the schedule again`);
    }
    if (stored?.format !== STORE_FORMAT) throw new ScheduleStoreError(`${this.deps.path}: not a ${STORE_FORMAT} file`);
    const validation = validateDocument(stored.envelope?.schedule);
    if (!validation.ok) throw new ScheduleStoreError(`${this.deps.path}: stored schedule no longer valid: ${validation.problems[0]}`);
    return { ...stored, document: validation.document };
  }

  /** Replaces the file atomically: a crash leaves the old schedule or the new one, never half. */
  save(stored: StoredSchedule): void {
    writeFileDurably(this.deps.path, `${JSON.stringify(stored, null, 2)}\n`, 0o644);
  }
}
