// Root acting on an installed agent's files becomes the agent's user first. A technician types
// `sudo ledagent note …`; as root, the CLI would refuse the agent's key (owned by another user) and
// any file it created in the data directory (a ledger's -wal and -shm, a lock) would be root's,
// which the agent then cannot open. The data directory's owner is the agent's user: whoever
// installed it chose that. A root-owned (or missing) data directory leaves root as it is.
import { statSync } from "node:fs";

export interface ProcessIdentity {
  getuid(): number;
  setuid(id: number): void;
  setgid(id: number): void;
  initgroups(user: number, extraGroup: number): void;
  setgroups(groups: number[]): void;
}

export interface RanAs {
  uid: number;
  gid: number;
}

let switched: RanAs | null = null;

/** The identity this process switched to, if it did: an error about access then says so. */
export function ranAs(): RanAs | null {
  return switched;
}

/** Switches a root process to the owner of `dataDir` (supplementary groups included); null when nothing changed. */
export function runAsDataDirOwner(dataDir: string, proc: ProcessIdentity = process as unknown as ProcessIdentity, stat: (path: string) => { uid: number; gid: number } = statSync): RanAs | null {
  if (proc.getuid() !== 0) return null;
  let owner: { uid: number; gid: number };
  try {
    owner = stat(dataDir);
  } catch {
    return null;
  }
  if (owner.uid === 0) return null;
  // Groups first, then the gid, then the uid: once the uid is dropped nothing else may change.
  try {
    proc.initgroups(owner.uid, owner.gid);
  } catch {
    // A uid with no passwd entry has no groups to take; root's own must still go.
    proc.setgroups([owner.gid]);
  }
  proc.setgid(owner.gid);
  proc.setuid(owner.uid);
  switched = { uid: owner.uid, gid: owner.gid };
  return switched;
}
