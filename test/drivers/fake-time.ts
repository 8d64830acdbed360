// Fake wall clock and timers for the schedulers' unit tests: time moves only when told.
import type { Clock, TimerHandle, Timers } from "../../agent/drivers/timers.js";

interface Pending {
  at: number;
  fn: () => void;
  handle: TimerHandle;
}

export class FakeTime implements Clock, Timers {
  private t: number;
  /** Wall-clock steps (NTP corrections) taken with jumpWall: the monotonic clock ignores them. */
  private wallOffset = 0;
  private pending: Pending[] = [];

  constructor(start = Date.UTC(2025, 5, 1, 0, 0, 0)) {
    this.t = start;
  }

  now(): number {
    return this.t + this.wallOffset;
  }

  mono(): number {
    return this.t;
  }

  /** Steps the wall clock alone, as an NTP correction does; timers and the monotonic clock keep going. */
  jumpWall(ms: number): void {
    this.wallOffset += ms;
  }

  set(ms: number): void {
    this.t = ms;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle = {};
    this.pending.push({ at: this.t + Math.max(0, ms), fn, handle });
    return handle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.pending = this.pending.filter((p) => p.handle !== handle);
  }

  /** Runs every timer due within `ms`, in order, letting promises settle between them. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    await settle();
    for (;;) {
      const next = this.pending.filter((p) => p.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.pending = this.pending.filter((p) => p !== next);
      this.t = Math.max(this.t, next.at);
      next.fn();
      await settle();
    }
    this.t = end;
  }

  get timers(): number {
    return this.pending.length;
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}
