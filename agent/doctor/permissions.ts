// Who may use what, judged for the agent's user (identity.ts): its data directory and the files in
// it, its run directory and control socket (and whether the technician can use that socket), the
// controller's serial device, and the GPU devices a screen with a real output plays through.
import { lstatSync, readdirSync, statSync, type Stats } from "node:fs";
import { dirname, join } from "node:path";
import type { Config } from "../config.js";
import { signingRecordPath } from "../crypto/index.js";
import { parsePortUrl } from "../drivers/transport/url.js";
import { agentPaths } from "../paths.js";
import { describeOwnership, groupId, groupName, mayAccess, type Accounts, type Identity } from "./identity.js";
import { fail, ok, warn, type CheckResult } from "./types.js";

export interface PermissionDeps {
  /** The user the agent runs as. */
  agent: Identity;
  /** Whoever runs the doctor (after it took the agent's identity, if it did). */
  me: Identity;
  accounts: Accounts;
  /** stat (follow) or lstat; null when nothing is there. Tests give devices they cannot make. */
  stat?: (path: string, follow: boolean) => Stats | null;
}

function statOrNull(path: string, follow = true): Stats | null {
  try {
    return follow ? statSync(path) : lstatSync(path);
  } catch {
    return null;
  }
}

/** What in the data directory the agent writes: each must be its user's (a command run as root leaves root's). */
function agentFiles(config: Pick<Config, "dataDir" | "runDir">): string[] {
  const p = agentPaths(config);
  return [p.database, `${p.database}-wal`, `${p.database}-shm`, dirname(p.deviceKey), p.deviceKey, signingRecordPath(p.deviceKey), p.scheduleFile, p.creativesDir];
}

function statter(deps: PermissionDeps): (path: string, follow?: boolean) => Stats | null {
  return (path, follow = true) => (deps.stat ?? statOrNull)(path, follow);
}

export function checkDataDir(config: Pick<Config, "dataDir" | "runDir">, deps: PermissionDeps): CheckResult {
  const stat = statter(deps);
  const dir = config.dataDir;
  const st = stat(dir);
  if (!st) return fail("data dir", `${dir} does not exist`, "`ledagent init` creates it with the device key (or restore it from the backup)");
  if (!st.isDirectory()) return fail("data dir", `${dir} is not a directory`, `move it away and point dataDir at the agent's directory`);
  const who = deps.agent.name;
  const chown = `chown -R ${who}: ${dir}`;
  if (!mayAccess(st, deps.agent, "rwx")) return fail("data dir", `${who} (the agent's user) cannot write ${dir} (${describeOwnership(st, deps.accounts)})`, chown);
  if (deps.agent.uid !== 0) {
    const foreign = agentFiles(config).filter((f) => {
      const s = stat(f, false);
      return s !== null && s.uid !== deps.agent.uid;
    });
    if (foreign.length > 0) {
      return fail("data dir", `${foreign.join(", ")} not owned by ${who}, the agent's user: the agent cannot write ${foreign.length === 1 ? "it" : "them"} (a command run as root?)`, chown);
    }
  }
  const detail = `${dir} (${describeOwnership(st, deps.accounts)})`;
  if ((st.mode & 0o022) !== 0) return warn("data dir", `${detail} is writable by group or others: the ledger and the device key must be private`, `chmod go-w ${dir}`);
  return ok("data dir", `${detail}, writable by ${who}`);
}

export function checkRunDir(config: Pick<Config, "dataDir" | "runDir">, deps: PermissionDeps): CheckResult {
  const stat = statter(deps);
  const dir = config.runDir;
  const who = deps.agent.name;
  const st = stat(dir);
  if (!st) {
    // The agent creates it at start (mkdir -p); under systemd, RuntimeDirectory= does.
    let parent = dirname(dir);
    while (stat(parent) === null && dirname(parent) !== parent) parent = dirname(parent);
    const pst = stat(parent);
    if (pst && mayAccess(pst, deps.agent, "rwx")) return ok("run dir", `${dir} not there yet: the agent creates it at start`);
    return warn("run dir", `${dir} does not exist, and ${who} cannot create it in ${parent}`, `the shipped unit creates it (RuntimeDirectory=ledagent); by hand: \`install -d -o ${who} -m 750 ${dir}\``);
  }
  if (!st.isDirectory()) return fail("run dir", `${dir} is not a directory`, `remove it, or set runDir to a directory of the agent's`);
  if (!mayAccess(st, deps.agent, "rwx")) return fail("run dir", `${who} (the agent's user) cannot write ${dir} (${describeOwnership(st, deps.accounts)})`, `chown ${who}: ${dir}`);
  return socketResult(agentPaths(config).controlSocket, deps);
}

function socketResult(path: string, deps: PermissionDeps): CheckResult {
  const st = statter(deps)(path, false);
  if (!st) return ok("run dir", `${dirname(path)} writable by ${deps.agent.name}; no control socket (no agent running)`);
  if (!st.isSocket()) return fail("run dir", `${path} is not a socket: the agent will not start while it is there`, `rm ${path}`);
  const detail = `${path} (${describeOwnership(st, deps.accounts)})`;
  if (!mayAccess(st, deps.me, "rw")) {
    const group = groupName(st.gid, deps.accounts);
    return warn("run dir", `${detail}: ${deps.me.name} may not use it, so \`ledagent status\` and the other commands through the agent fail for ${deps.me.name}`, `usermod -aG ${group} ${deps.me.name}, then log in again (or use sudo)`);
  }
  return ok("run dir", `${detail}, usable by ${deps.me.name}`);
}

/** Null when the controller is not on a serial port (then there is nothing to check). */
export function checkSerialDevice(config: Pick<Config, "controller">, deps: PermissionDeps): CheckResult | null {
  if (config.controller.driver === "none" || config.controller.port === undefined) return null;
  let path: string;
  try {
    const spec = parsePortUrl(config.controller.port);
    if (spec.kind !== "serial") return null;
    path = spec.path;
  } catch {
    return null; // the controller check names a bad URL
  }
  const st = statter(deps)(path);
  if (!st) return fail("serial port", `${path} does not exist`, "plug in the USB-serial adapter (or the cable); `ls -l /dev/serial/by-id/` names it; set controller.port to it and restart the agent");
  if (!st.isCharacterDevice()) return fail("serial port", `${path} is not a serial device`, "set controller.port to the serial device (`ls -l /dev/serial/by-id/`)");
  const detail = `${path} (${describeOwnership(st, deps.accounts)})`;
  if (!mayAccess(st, deps.agent, "rw")) {
    const group = groupName(st.gid, deps.accounts);
    return fail("serial port", `${detail}: ${deps.agent.name} (the agent's user) may not open it`, `usermod -aG ${group} ${deps.agent.name} and restart the agent (the shipped unit adds dialout itself: SupplementaryGroups=)`);
  }
  return ok("serial port", `${detail}, ${deps.agent.name} may read and write it`);
}

function devices(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((n) => /^(card|renderD)\d+$/.test(n))
      .map((n) => join(dir, n));
  } catch {
    return [];
  }
}

/** Null when headless (mpv opens no GPU). */
export function checkVideoAccess(config: Pick<Config, "player">, deps: PermissionDeps & { driDir?: string }): CheckResult | null {
  if (config.player.headless) return null;
  const found = devices(deps.driDir ?? "/dev/dri");
  const fix = `usermod -aG video,render ${deps.agent.name} and restart the agent (the shipped unit adds them itself: SupplementaryGroups=)`;
  if (found.length === 0) {
    const video = groupId("video", deps.accounts);
    if (video !== null && deps.agent.uid !== 0 && !deps.agent.groups.includes(video)) return warn("video", `${deps.agent.name} (the agent's user) is not in the video group`, fix);
    return ok("video", "no DRM device to check (see the display line)");
  }
  const denied = found.filter((d) => {
    const st = statter(deps)(d);
    return st !== null && !mayAccess(st, deps.agent, "rw");
  });
  if (denied.length > 0) return warn("video", `${deps.agent.name} (the agent's user) may not open ${denied.join(", ")}: mpv cannot use the GPU`, fix);
  return ok("video", `${deps.agent.name} may open ${found.join(", ")}`);
}
