// The machine: is the clock synchronised (asked the way the agent asks, agent/proofs/clock.ts), is
// there room on the data directory's disk (judged by the agent's own disk.low limit), and does the
// optional native module for systemd's notify socket load.
import { existsSync, statfsSync } from "node:fs";
import { dirname } from "node:path";
import { DEFAULT_DISK_LOW_BYTES } from "../link/link.js";
import { processProbeRunner, SYNC_PROBES, type ProbeRunner, type SyncProbe } from "../proofs/clock.js";
import { fail, firstLine, ok, warn, type CheckResult } from "./types.js";

export interface ClockCheckDeps {
  probes?: readonly SyncProbe[];
  runner?: ProbeRunner;
  exists?: (path: string) => boolean;
  now?: () => number;
}

/** Which time service could tell, and what it said; null when none could. */
export async function clockVerdict(deps: ClockCheckDeps = {}): Promise<{ synced: boolean; by: string } | null> {
  const runner = deps.runner ?? processProbeRunner;
  const exists = deps.exists ?? existsSync;
  for (const probe of deps.probes ?? SYNC_PROBES) {
    if ("marker" in probe) {
      // The marker says "synchronised" by being there; its absence says nothing.
      if (exists(probe.marker)) return { synced: true, by: probe.name };
      continue;
    }
    const answer = await runner.async(probe.command, probe.args);
    const verdict = answer ? probe.read(answer) : null;
    if (verdict !== null) return { synced: verdict, by: probe.name };
  }
  return null;
}

/**
 * A clock known to be off is a fail, not a warning: every proof carries its time, and a customer's
 * play detail or an auditor's spot check is only as good as that time.
 */
export async function checkClock(deps: ClockCheckDeps = {}): Promise<CheckResult> {
  const reads = `the clock reads ${new Date((deps.now ?? Date.now)()).toISOString()}`;
  const verdict = await clockVerdict(deps);
  if (verdict === null) {
    return warn(
      "clock",
      `synchronisation unknown: none of ${(deps.probes ?? SYNC_PROBES).map((p) => p.name).join(", ")} could tell; ${reads}`,
      "install and enable a time service (`apt-get install systemd-timesyncd`, or chrony); until then every proof records clock.synced false",
    );
  }
  if (!verdict.synced) {
    return fail(
      "clock",
      `NOT synchronised (says ${verdict.by}); ${reads}`,
      "check the network and the time service: `timedatectl timesync-status` (or `chronyc sources`); a firewall must let NTP (UDP 123) out",
    );
  }
  return ok("clock", `synchronised (says ${verdict.by}); ${reads}`);
}

export interface DiskCheckDeps {
  dataDir: string;
  statfs?: (path: string) => { bavail: number; bsize: number; blocks: number };
  /** Under this, fail (default: the agent's disk.low limit). */
  lowBytes?: number;
  /** Under this, warn. */
  warnBytes?: number;
}

export const DISK_WARN_BYTES = 2 * 1024 ** 3;

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

/** The data directory, or the nearest directory above it that exists (its disk is the one it will be on). */
function existingAncestor(path: string): string {
  let at = path;
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  return at;
}

export function checkDisk(deps: DiskCheckDeps): CheckResult {
  const at = existingAncestor(deps.dataDir);
  const s = (deps.statfs ?? statfsSync)(at);
  // bavail, as the agent's status and disk.low count it: what an unprivileged writer may still use.
  const free = s.bavail * s.bsize;
  const low = deps.lowBytes ?? DEFAULT_DISK_LOW_BYTES;
  const detail = `${gib(free)} free of ${gib(s.blocks * s.bsize)} on ${at}`;
  const fix = `free space on that file system (\`du -xh --max-depth=2 ${at} | sort -h | tail\`, \`journalctl --vacuum-size=200M\`); the agent keeps only the creatives its schedule needs`;
  if (free < low) return fail("disk", `${detail}: under the agent's ${gib(low)} disk.low limit; a full disk stops the ledger`, fix);
  if (free < (deps.warnBytes ?? DISK_WARN_BYTES)) return warn("disk", `${detail}: getting low (a new schedule's creatives may not fit)`, fix);
  return ok("disk", detail);
}

/** The specifier through a variable: an optional module without type declarations. */
const UNIX_DGRAM = "unix-dgram";

export async function checkWatchdogModule(load: () => Promise<unknown> = () => import(UNIX_DGRAM)): Promise<CheckResult> {
  try {
    await load();
    return ok("watchdog", "unix-dgram loads: the agent can tell systemd it is ready and alive (Type=notify, WatchdogSec)");
  } catch (err) {
    // Only an agent under systemd's notify and watchdog needs it, so this is never a fail.
    return warn("watchdog", `unix-dgram does not load (${firstLine(err)}): under systemd (Type=notify, WatchdogSec) the agent cannot say it is ready or alive`, "npm rebuild unix-dgram in the agent's directory (needs python3, make, g++)");
  }
}
