// Whose view the checks take. The agent runs as its own user (the shipped unit: User=ledagent,
// with video, dialout and render added), while a technician runs the doctor as root or as
// themselves: a file root can read proves nothing about the agent. So the doctor finds the agent's
// user, and judges files by that user's uid and groups; run as root, it takes that identity
// outright, so the agent's own loaders (config, keys, TLS files) judge files exactly as they do
// in the agent.
import { readFileSync, statSync } from "node:fs";
import { userInfo } from "node:os";
import type { RunProgram } from "./types.js";

export interface Identity {
  name: string;
  uid: number;
  gid: number;
  /** Every group, the primary one included. */
  groups: number[];
}

/** The text of /etc/passwd and /etc/group. */
export interface Accounts {
  passwd: string;
  group: string;
}

export function readAccounts(): Accounts {
  const read = (path: string): string => {
    try {
      return readFileSync(path, "utf8");
    } catch {
      return "";
    }
  };
  return { passwd: read("/etc/passwd"), group: read("/etc/group") };
}

function rows(text: string): string[][] {
  return text
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => l.split(":"));
}

/** A group's gid by name, or null. */
export function groupId(name: string, accounts: Accounts): number | null {
  const row = rows(accounts.group).find((r) => r[0] === name);
  return row ? Number(row[2]) : null;
}

/** A group's name by gid, else the number. */
export function groupName(gid: number, accounts: Accounts): string {
  return rows(accounts.group).find((r) => Number(r[2]) === gid)?.[0] ?? String(gid);
}

/** A user's name by uid, else the number. */
export function userName(uid: number, accounts: Accounts): string {
  return rows(accounts.passwd).find((r) => Number(r[2]) === uid)?.[0] ?? String(uid);
}

/** A user by name or uid, with the groups /etc/group gives it; null when there is no such user. */
export function lookupUser(user: string | number, accounts: Accounts, extraGroups: readonly string[] = []): Identity | null {
  const row = rows(accounts.passwd).find((r) => (typeof user === "number" ? Number(r[2]) === user : r[0] === user));
  if (!row) return typeof user === "number" ? { name: String(user), uid: user, gid: user, groups: [user] } : null;
  const [name, , uid, gid] = row;
  const member = rows(accounts.group)
    .filter((r) => (r[3] ?? "").split(",").includes(name))
    .map((r) => Number(r[2]));
  const extra = extraGroups.map((g) => groupId(g, accounts)).filter((g): g is number => g !== null);
  return { name, uid: Number(uid), gid: Number(gid), groups: [...new Set([Number(gid), ...member, ...extra])] };
}

/** Who runs this process. */
export function currentIdentity(): Identity {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  let name: string;
  try {
    name = userInfo().username;
  } catch {
    name = String(uid);
  }
  return { name, uid, gid, groups: [...new Set([gid, ...(process.getgroups?.() ?? [])])] };
}

/** What systemd knows of the agent's unit; null where there is no systemd (or no such unit). */
export interface UnitFacts {
  activeState: string;
  /** Empty when the unit runs as root. */
  user: string;
  supplementaryGroups: string[];
  /** The unit's Environment= (not its EnvironmentFile=s). */
  environment: Record<string, string>;
}

export const UNIT = "ledagent";

export async function systemdUnit(run: RunProgram): Promise<UnitFacts | null> {
  const r = await run("systemctl", ["show", UNIT, "--property=LoadState,ActiveState,User,SupplementaryGroups,Environment"], 1500);
  if (!r || r.status !== 0) return null;
  const props = new Map(
    r.stdout
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1).trim()] as [string, string]),
  );
  if (props.get("LoadState") !== "loaded") return null;
  return {
    activeState: props.get("ActiveState") ?? "unknown",
    user: props.get("User") ?? "",
    supplementaryGroups: (props.get("SupplementaryGroups") ?? "").split(/\s+/).filter(Boolean),
    environment: parseEnvironment(props.get("Environment") ?? ""),
  };
}

/** `A=1 "B=two words"`, as systemctl show prints Environment=, as variables. */
export function parseEnvironment(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of text.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) {
    const word = m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2];
    const eq = word.indexOf("=");
    if (eq > 0) env[word.slice(0, eq)] = word.slice(eq + 1);
  }
  return env;
}

export interface AgentUser extends Identity {
  /** How it was found, for the report. */
  source: string;
}

export interface AgentUserDeps {
  unit: UnitFacts | null;
  /** The control socket (its owner is the user the agent ran as), when the config could be read. */
  socketPath: string | null;
  dataDir: string | null;
  me: Identity;
  accounts: Accounts;
  /** The owner of a path, or null when it does not exist. */
  ownerOf?: (path: string) => number | null;
}

function statOwner(path: string): number | null {
  try {
    return statSync(path).uid;
  } catch {
    return null;
  }
}

/**
 * The agent's user: the systemd unit's (how the agent runs in the field), else the owner of the
 * control socket (an agent started by hand made it), else the owner of the data directory, else
 * whoever runs the doctor.
 */
export function resolveAgentUser(deps: AgentUserDeps): AgentUser {
  const owner = deps.ownerOf ?? statOwner;
  if (deps.unit) {
    const found = lookupUser(deps.unit.user || "root", deps.accounts, deps.unit.supplementaryGroups);
    if (found) return { ...found, source: `the systemd unit ${UNIT}.service` };
  }
  for (const [path, what] of [
    [deps.socketPath, "the owner of the control socket"],
    [deps.dataDir, "the owner of the data directory"],
  ] as const) {
    const uid = path === null ? null : owner(path);
    if (uid === null) continue;
    if (uid === deps.me.uid) return { ...deps.me, source: what };
    const found = lookupUser(uid, deps.accounts);
    if (found) return { ...found, source: what };
  }
  return { ...deps.me, source: "the user running the doctor" };
}

/** Takes `user`'s identity for the rest of this process (root only): groups, then group, then user. */
export function becomeUser(user: Identity, proc: Pick<NodeJS.Process, "setgroups" | "setgid" | "setuid"> = process): void {
  proc.setgroups?.(user.groups);
  proc.setgid?.(user.gid);
  proc.setuid?.(user.uid);
}

/** A file's owner, group and mode: what access is judged on. */
export interface Ownership {
  uid: number;
  gid: number;
  mode: number;
}

/**
 * Whether `who` may read (and write, and search) a file by its mode bits, as the kernel decides
 * for an ordinary file: root may, the owner gets the owner bits, a member of its group the group
 * bits, anyone else the other bits. Access control lists are not read.
 */
export function mayAccess(file: Ownership, who: Identity, want: "r" | "rw" | "rwx"): boolean {
  if (who.uid === 0) return true;
  const bits = want === "r" ? 4 : want === "rw" ? 6 : 7;
  const shift = file.uid === who.uid ? 6 : who.groups.includes(file.gid) ? 3 : 0;
  return ((file.mode >> shift) & bits) === bits;
}

/** `ls -l` style: `crw-rw---- root:dialout`. */
export function describeOwnership(file: Ownership, accounts: Accounts): string {
  const mode = (file.mode & 0o7777).toString(8).padStart(4, "0");
  return `mode ${mode}, ${userName(file.uid, accounts)}:${groupName(file.gid, accounts)}`;
}
