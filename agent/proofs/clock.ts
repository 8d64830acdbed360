// The clock facts every entry carries: wall time (UTC ms), the monotonic clock, the boot, and
// whether the wall clock was synchronised when the entry was written.
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";

export interface ClockSource {
  /** Wall clock, for timestamps. */
  now(): Date;
  /** CLOCK_MONOTONIC in ms (time since boot on Linux), for durations; comparable across processes of one boot. */
  monoMs(): number;
  /** Identifies the boot the process runs in. */
  bootId(): string;
  /** True when the wall clock is known to be NTP-synchronised. */
  synced(): boolean;
}

function readBootId(): string {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    // Not Linux: a per-process id still tells two runs apart.
    return `process-${randomUUID()}`;
  }
}

// systemd-timesyncd touches this file once the clock is synchronised. Hosts on chrony or ntpd
// pass their own marker through `syncMarkers`; without one, entries honestly say synced: false.
const SYNC_MARKERS = ["/run/systemd/timesync/synchronized"];

export function systemClock(opts: { syncMarkers?: string[]; recheckMs?: number } = {}): ClockSource {
  const markers = opts.syncMarkers ?? SYNC_MARKERS;
  const recheckMs = opts.recheckMs ?? 60_000;
  const boot = readBootId();
  let synced = false;
  let checkedAt = -Infinity;
  const mono = (): number => Number(process.hrtime.bigint() / 1_000_000n);
  return {
    now: () => new Date(),
    monoMs: mono,
    bootId: () => boot,
    synced() {
      const t = mono();
      if (t - checkedAt >= recheckMs) {
        synced = markers.some((m) => existsSync(m));
        checkedAt = t;
      }
      return synced;
    },
  };
}

/** A hand-driven clock for tests and benchmarks. */
export function fixedClock(start: Date, opts: { synced?: boolean; bootId?: string } = {}): ClockSource & { advance(ms: number): void } {
  let wall = start.getTime();
  let mono = 1_000;
  return {
    now: () => new Date(wall),
    monoMs: () => mono,
    bootId: () => opts.bootId ?? "00000000-0000-4000-8000-000000000000",
    synced: () => opts.synced ?? true,
    advance(ms: number) {
      wall += ms;
      mono += ms;
    },
  };
}
