// Clock and timers as dependencies, so schedulers can be driven by a test's fake time.

export interface Clock {
  /** Wall clock, UTC ms: for timestamps. */
  now(): number;
  /** Monotonic clock, ms: for ages and durations, which a wall-clock step (NTP) must not bend. */
  mono(): number;
}

export type TimerHandle = object;

export interface Timers {
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const systemClock: Clock = { now: () => Date.now(), mono: () => performance.now() };

export const systemTimers: Timers = {
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, ms);
    // A pending poll or brightness change must not keep a finished CLI process alive.
    handle.unref();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
