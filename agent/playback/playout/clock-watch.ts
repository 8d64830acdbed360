// A step of the wall clock (NTP correcting a wrong clock, a technician setting it): plans are in
// wall-clock time, so a step makes the plan in force early or late by its size. Seen by comparing
// how far the wall clock moved with how far the monotonic clock did.
import type { PlayoutClock } from "./types.js";

/** Steps smaller than this are slewing and scheduling noise, not jumps. */
export const CLOCK_JUMP_MS = 2000;

export interface ClockJump {
  /** Positive: the wall clock jumped ahead. */
  stepMs: number;
  /** Where the wall clock would have been without the step, and where it is (UTC ms). */
  expectedMs: number;
  nowMs: number;
}

export class ClockJumpWatch {
  private last: { wall: number; mono: number } | null = null;

  constructor(private readonly clock: PlayoutClock) {}

  /** The step since the last check, or null when the two clocks ran alike. */
  check(): ClockJump | null {
    const now = { wall: this.clock.wallMs(), mono: this.clock.monoMs() };
    const last = this.last;
    this.last = now;
    if (!last) return null;
    const expectedMs = last.wall + (now.mono - last.mono);
    const stepMs = now.wall - expectedMs;
    return Math.abs(stepMs) < CLOCK_JUMP_MS ? null : { stepMs: Math.round(stepMs), expectedMs: Math.round(expectedMs), nowMs: now.wall };
  }
}
