// The clock facts every entry carries: wall time (UTC ms), the monotonic clock, the boot, and
// whether the wall clock was synchronised when the entry was written.
import { randomUUID } from "node:crypto";
import { execFile, execFileSync } from "node:child_process";
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

/**
 * One way of asking whether the wall clock is synchronised: true or false when it can tell, null
 * when it cannot (the tool is not installed, or says nothing), so the next way is asked.
 */
export type SyncProbe = { name: string; marker: string } | { name: string; command: string; args: string[]; read: (out: CommandAnswer) => boolean | null };

export interface CommandAnswer {
  status: number | null;
  stdout: string;
}

/** Runs a probe command: synchronously (the first answer) or not (every later refresh). */
export interface ProbeRunner {
  sync(command: string, args: string[]): CommandAnswer | null;
  async(command: string, args: string[]): Promise<CommandAnswer | null>;
}

// Every time daemon a screen PC may run: systemd-timesyncd touches a marker once synchronised;
// timedated reports the kernel's own sync flag (which chrony and ntpd also set); chronyc and
// ntpstat answer for their daemons where timedated is absent.
export const SYNC_PROBES: SyncProbe[] = [
  { name: "timesyncd", marker: "/run/systemd/timesync/synchronized" },
  {
    name: "timedatectl",
    command: "timedatectl",
    args: ["show", "--property=NTPSynchronized", "--value"],
    read: (a) => (a.stdout.trim() === "yes" ? true : a.stdout.trim() === "no" ? false : null),
  },
  {
    name: "chrony",
    command: "chronyc",
    args: ["-n", "tracking"],
    read: (a) => {
      const leap = /^Leap status\s*:\s*(.+)$/m.exec(a.stdout)?.[1]?.trim();
      return leap === undefined ? null : leap === "Normal";
    },
  },
  { name: "ntpd", command: "ntpstat", args: [], read: (a) => (a.status === 0 ? true : a.status === 1 ? false : null) },
];

const PROBE_TIMEOUT_MS = 2000;

function answerOf(status: number | null, stdout: string | Buffer): CommandAnswer {
  return { status, stdout: stdout.toString() };
}

export const processProbeRunner: ProbeRunner = {
  sync(command, args) {
    try {
      return answerOf(0, execFileSync(command, args, { timeout: PROBE_TIMEOUT_MS, stdio: ["ignore", "pipe", "ignore"] }));
    } catch (err) {
      const e = err as { status?: number | null; stdout?: Buffer | null; code?: string };
      // A spawn that failed (ENOENT, or EACCES from a PATH entry this user cannot enter) has no stdout: no answer.
      return e.code === "ENOENT" || e.stdout == null ? null : answerOf(e.status ?? null, e.stdout);
    }
  },
  async(command, args) {
    return new Promise((resolve) => {
      execFile(command, args, { timeout: PROBE_TIMEOUT_MS }, (err, stdout) => {
        const e = err as (Error & { code?: string | number }) | null;
        if (e && (e.code === "ENOENT" || typeof e.code !== "number")) return resolve(null);
        resolve(answerOf(e ? (e.code as number) : 0, stdout));
      });
    });
  },
};

/** The first probe's verdict that can tell; false (honestly unknown) when none can. */
function verdict(answers: (boolean | null)[]): boolean {
  return answers.find((a) => a !== null) ?? false;
}

function probeSync(probes: SyncProbe[], run: ProbeRunner): boolean {
  return verdict(
    probes.map((p) => {
      if ("marker" in p) return existsSync(p.marker) ? true : null;
      const answer = run.sync(p.command, p.args);
      return answer ? p.read(answer) : null;
    }),
  );
}

async function probeAsync(probes: SyncProbe[], run: ProbeRunner): Promise<boolean> {
  const answers: (boolean | null)[] = [];
  for (const p of probes) {
    if ("marker" in p) answers.push(existsSync(p.marker) ? true : null);
    else {
      const answer = await run.async(p.command, p.args);
      answers.push(answer ? p.read(answer) : null);
    }
    if (answers[answers.length - 1] !== null) break;
  }
  return verdict(answers);
}

export interface SystemClockOptions {
  probes?: SyncProbe[];
  runner?: ProbeRunner;
  /** How long a sync verdict holds before it is asked again (monotonic ms). */
  recheckMs?: number;
}

/**
 * The real clock. Sync state is asked once when first needed (a one-shot command such as `note`
 * must not record a guess), then refreshed in the background at most every `recheckMs`, so an
 * append on the daemon's playout path never waits for a time daemon to answer.
 */
export function systemClock(opts: SystemClockOptions = {}): ClockSource {
  const probes = opts.probes ?? SYNC_PROBES;
  const runner = opts.runner ?? processProbeRunner;
  const recheckMs = opts.recheckMs ?? 60_000;
  const boot = readBootId();
  const mono = (): number => Number(process.hrtime.bigint() / 1_000_000n);
  let synced: boolean | null = null;
  let checkedAt = -Infinity;
  let refreshing = false;
  const refresh = (): void => {
    refreshing = true;
    checkedAt = mono();
    void probeAsync(probes, runner)
      .then((v) => (synced = v))
      .finally(() => (refreshing = false));
  };
  return {
    now: () => new Date(),
    monoMs: mono,
    bootId: () => boot,
    synced() {
      if (synced === null) {
        synced = probeSync(probes, runner);
        checkedAt = mono();
      } else if (!refreshing && mono() - checkedAt >= recheckMs) refresh();
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
