// The schedule's `brightness` windows (spec/schedule-format.md): a pure function from windows,
// instant and time zone to a percent, and a scheduler that applies it at start-up and at each
// transition, with a temporary override that expires.
import { DateTime } from "luxon";
import { z } from "zod";
import type { Logger } from "../log.js";
import type { Clock, TimerHandle, Timers } from "./timers.js";
import type { Controller } from "./types.js";

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "a local time as HH:MM (00:00–23:59)");

export const brightnessWindowSchema = z.object({ from: hhmm, to: hhmm, percent: z.number().int().min(0).max(100) }).strict();
export const brightnessWindowsSchema = z.array(brightnessWindowSchema);
export type BrightnessWindow = z.infer<typeof brightnessWindowSchema>;

export class BrightnessScheduleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BrightnessScheduleError";
  }
}

/** Validates windows from a schedule document; the error names each bad entry. */
export function parseBrightnessWindows(raw: unknown): BrightnessWindow[] {
  const result = brightnessWindowsSchema.safeParse(raw);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `brightness${i.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")}: ${i.message}`);
  throw new BrightnessScheduleError(problems.join("; "));
}

function minutesOf(hhmmText: string): number {
  const [h, m] = hhmmText.split(":").map(Number);
  return h * 60 + m;
}

function zoned(atMs: number, timezone: string): DateTime {
  const local = DateTime.fromMillis(atMs, { zone: timezone });
  if (!local.isValid) throw new BrightnessScheduleError(`time zone ${JSON.stringify(timezone)}: ${local.invalidExplanation ?? "not valid"}`);
  return local;
}

/** Whether a window covers a local minute of the day; `to` ≤ `from` wraps past midnight. */
function covers(window: BrightnessWindow, minute: number): boolean {
  const from = minutesOf(window.from);
  const to = minutesOf(window.to);
  return from < to ? minute >= from && minute < to : minute >= from || minute < to;
}

/** The percent the windows ask for at `atMs`, or null when none covers it. The first covering window wins. */
export function brightnessAt(windows: readonly BrightnessWindow[], atMs: number, timezone: string): number | null {
  const local = zoned(atMs, timezone);
  const minute = local.hour * 60 + local.minute + local.second / 60 + local.millisecond / 60_000;
  return windows.find((w) => covers(w, minute))?.percent ?? null;
}

/** The first window boundary strictly after `atMs` (UTC ms), or null when there are no windows. */
export function nextBoundary(windows: readonly BrightnessWindow[], atMs: number, timezone: string): number | null {
  if (windows.length === 0) return null;
  const today = zoned(atMs, timezone).startOf("day");
  let best: number | null = null;
  for (let day = 0; day <= 2; day++) {
    const date = today.plus({ days: day });
    for (const w of windows) {
      for (const text of [w.from, w.to]) {
        const [hour, minute] = text.split(":").map(Number);
        // A local time inside a spring-forward gap resolves to just after the gap.
        const at = DateTime.fromObject({ year: date.year, month: date.month, day: date.day, hour, minute }, { zone: timezone }).toMillis();
        if (at > atMs && (best === null || at < best)) best = at;
      }
    }
  }
  return best;
}

export type BrightnessEvent =
  | { type: "brightness.changed"; at: number; percent: number; previous: number | null; source: "schedule" | "override"; until?: number }
  | { type: "brightness.failed"; at: number; percent: number; source: "schedule" | "override"; reason: string; retryInMs: number };

export interface BrightnessSchedulerDeps {
  controller: Pick<Controller, "setBrightness">;
  clock: Clock;
  timers: Timers;
  log: Logger;
  onEvent: (event: BrightnessEvent) => void;
  /** After a failed change, when to try again (default 30 s). */
  retryMs?: number;
  /** Longest sleep between checks, so a clock jump is noticed (default 60 s). */
  maxSleepMs?: number;
}

interface Target {
  percent: number;
  source: "schedule" | "override";
  until?: number;
}

export class BrightnessScheduler {
  private windows: BrightnessWindow[] = [];
  private timezone = "UTC";
  private overrideTarget: { percent: number; until: number } | null = null;
  private applied: number | null = null;
  private mustApply = true;
  private timer: TimerHandle | null = null;
  private running = false;
  private busy: Promise<void> = Promise.resolve();

  constructor(private readonly deps: BrightnessSchedulerDeps) {}

  /** Applies the current target at once (start-up), then at every transition. */
  start(): Promise<void> {
    this.running = true;
    this.mustApply = true;
    return this.evaluate();
  }

  stop(): void {
    this.running = false;
    this.cancelTimer();
  }

  /** A new schedule's windows; applied at once if they change the target. */
  setSchedule(windows: readonly BrightnessWindow[], timezone: string): Promise<void> {
    zoned(0, timezone);
    this.windows = [...windows];
    this.timezone = timezone;
    return this.evaluate();
  }

  /** Holds `percent` until `untilMs` (UTC ms), then returns to the schedule. */
  override(percent: number, untilMs: number): Promise<void> {
    if (!Number.isInteger(percent) || percent < 0 || percent > 100) throw new BrightnessScheduleError(`override: ${percent} is not a whole percent 0..100`);
    if (untilMs <= this.deps.clock.now()) throw new BrightnessScheduleError(`override: expiry ${new Date(untilMs).toISOString()} is not in the future`);
    this.overrideTarget = { percent, until: untilMs };
    this.mustApply = true;
    return this.evaluate();
  }

  clearOverride(): Promise<void> {
    this.overrideTarget = null;
    this.mustApply = true;
    return this.evaluate();
  }

  /**
   * Sends the current target again even though it has not changed: for after the controller
   * was power-cycled or reconnected (brightness is not stored to flash, so a power cycle loses it).
   */
  reapply(): Promise<void> {
    this.mustApply = true;
    return this.evaluate();
  }

  /** The last percent the controller confirmed, or null before the first change. */
  get appliedPercent(): number | null {
    return this.applied;
  }

  /** What the screen should be at now, and why; null when nothing asks for a level. */
  target(now = this.deps.clock.now()): Target | null {
    if (this.overrideTarget && now < this.overrideTarget.until) return { percent: this.overrideTarget.percent, source: "override", until: this.overrideTarget.until };
    const percent = brightnessAt(this.windows, now, this.timezone);
    return percent === null ? null : { percent, source: "schedule" };
  }

  /** Changes are serialised: a transition and an override never race each other to the controller. */
  private evaluate(): Promise<void> {
    // A step that throws must not leave the chain rejected: every later change would then be
    // skipped, and brightness control would be over for good. Log it, and try again later.
    this.busy = this.busy.then(() => this.applyNow()).catch((err: unknown) => {
      this.deps.log.error({ err }, "brightness step failed; retrying");
      this.scheduleNext(this.deps.clock.now(), this.deps.retryMs ?? 30_000);
    });
    return this.busy;
  }

  private async applyNow(): Promise<void> {
    if (!this.running) return;
    this.cancelTimer();
    const now = this.deps.clock.now();
    if (this.overrideTarget && now >= this.overrideTarget.until) {
      this.overrideTarget = null;
      this.mustApply = true;
    }
    const target = this.target(now);
    let retryIn: number | null = null;
    if (target && (this.mustApply || target.percent !== this.applied)) {
      try {
        await this.deps.controller.setBrightness(target.percent);
        const previous = this.applied;
        this.applied = target.percent;
        this.mustApply = false;
        this.emit({ type: "brightness.changed", at: this.deps.clock.now(), percent: target.percent, previous, source: target.source, ...(target.until ? { until: target.until } : {}) });
      } catch (err) {
        retryIn = this.deps.retryMs ?? 30_000;
        this.mustApply = true;
        this.emit({ type: "brightness.failed", at: this.deps.clock.now(), percent: target.percent, source: target.source, reason: err instanceof Error ? err.message : String(err), retryInMs: retryIn });
      }
    }
    this.scheduleNext(now, retryIn);
  }

  private scheduleNext(now: number, retryIn: number | null): void {
    if (!this.running) return;
    const candidates = [now + (this.deps.maxSleepMs ?? 60_000)];
    const boundary = nextBoundary(this.windows, now, this.timezone);
    if (boundary !== null) candidates.push(boundary);
    if (this.overrideTarget) candidates.push(this.overrideTarget.until);
    if (retryIn !== null) candidates.push(now + retryIn);
    const wakeAt = Math.min(...candidates);
    this.timer = this.deps.timers.setTimeout(() => {
      this.timer = null;
      void this.evaluate();
    }, Math.max(0, wakeAt - now));
  }

  private cancelTimer(): void {
    if (this.timer) this.deps.timers.clearTimeout(this.timer);
    this.timer = null;
  }

  private emit(event: BrightnessEvent): void {
    if (event.type === "brightness.failed") this.deps.log.warn(event, "brightness change failed");
    else this.deps.log.info(event, "brightness changed");
    try {
      this.deps.onEvent(event);
    } catch (err) {
      this.deps.log.error({ err }, "brightness event listener threw");
    }
  }
}
