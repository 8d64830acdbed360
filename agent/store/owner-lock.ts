// An inter-process lock that belongs to a process, not to a clock: it is stale only when the
// process it names is gone (not running on this boot), never because its holder was slow. For a
// lock held for a process's whole life (the ledger's writer lock), where proper-lockfile's
// refreshed mtime would hand the lock to another writer whenever the holder's event loop stalls
// past the stale time, and make a holder killed with -9 block everyone until that time passed.
//
// Layout: `<path>` is a directory holding one file, `owner-<nonce>`, that names the holder (pid,
// boot id, the process's start time). A directory rather than a single O_EXCL file, because both
// steps that must be atomic then are:
// - taking: the owner file is written into a staging directory of its own, then renamed to
//   `<path>`. rename(2) of a directory fails while `<path>` holds a file, so a lock appears whole,
//   owner included, or not at all (a holder killed between creating and writing a bare O_EXCL file
//   would leave a lock nobody could judge), and two takers cannot both succeed;
// - removing a stale lock: only the owner file judged stale is unlinked, by its unique name, then
//   the directory is removed if empty. A process that judged the same lock stale a moment later
//   finds that name gone, and can remove neither the lock another process just took (another
//   name inside) nor its directory (not empty). Renaming over an empty directory is allowed, so a
//   lock emptied but not yet removed (a release or a removal half done) is simply taken.
import { randomUUID } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";

/** The process a lock names. `boot` and `start` are null where the system does not tell them. */
export interface LockOwner {
  pid: number;
  /** The kernel's boot id: a lock from before a reboot names no running process. */
  boot: string | null;
  /** The process's start time (clock ticks since boot): a pid reused by a later process is told apart. */
  start: string | null;
}

/** How a lock's owner is judged; the process's own view by default, a test may pass its own. */
export interface OwnerChecks {
  /** This process, as its locks name it. */
  self(): LockOwner;
  /** False only when the named process is known to be gone; a holder that cannot be judged counts as alive. */
  alive(owner: LockOwner): boolean;
}

const OWNER_PREFIX = "owner-";
// Takers that keep finding the lock emptied and retaken under them: after this many rounds, busy.
const MAX_ROUNDS = 8;

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return null;
  }
}

/** State (R, S, T, Z …) and start time of a running process, from /proc; null where there is none. */
function procStat(pid: number | "self"): { state: string; start: string } | null {
  const stat = readOrNull(`/proc/${pid}/stat`);
  if (stat === null) return null;
  // The command name (field 2) may hold spaces and parentheses: the fields that follow are counted
  // from its closing parenthesis, state first (field 3), start time 20 further on (field 22).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return fields.length > 19 ? { state: fields[0], start: fields[19] } : null;
}

export const processOwnerChecks: OwnerChecks = {
  self: () => ({ pid: process.pid, boot: readOrNull("/proc/sys/kernel/random/boot_id"), start: procStat("self")?.start ?? null }),
  alive(owner) {
    const here = readOrNull("/proc/sys/kernel/random/boot_id");
    if (owner.boot !== null && here !== null && owner.boot !== here) return false;
    try {
      process.kill(owner.pid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ESRCH") return false;
      // EPERM: it runs, as another user.
    }
    const stat = procStat(owner.pid);
    if (stat === null) return true;
    // A zombie has exited and only waits for its parent to collect it.
    if (stat.state === "Z" || stat.state === "X") return false;
    return owner.start === null || stat.start === owner.start;
  },
};

/** The owner a lock file names, or null when it names none (not ours, or edited): such a lock is stale. */
function parseOwner(text: string): LockOwner | null {
  try {
    const v = JSON.parse(text) as Partial<Record<keyof LockOwner, unknown>>;
    // A pid of 0 or below would make process.kill signal a whole process group.
    if (typeof v.pid !== "number" || !Number.isSafeInteger(v.pid) || v.pid <= 0) return null;
    const optional = (x: unknown): string | null => (typeof x === "string" ? x : null);
    return { pid: v.pid, boot: optional(v.boot), start: optional(v.start) };
  } catch {
    return null;
  }
}

/** The owner files in the lock at `path`, with whom they name; none when there is no lock. */
function holders(path: string): { file: string; owner: LockOwner | null }[] {
  let names: string[];
  try {
    names = readdirSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const foreign = names.filter((n) => !n.startsWith(OWNER_PREFIX));
  // Nothing of ours would ever put it there, and the directory could then never be removed.
  if (foreign.length > 0) throw new Error(`the lock ${path} holds ${foreign.map((n) => JSON.stringify(n)).join(", ")}, which no ledagent process puts there; remove the directory by hand once no ledagent process runs`);
  const found: { file: string; owner: LockOwner | null }[] = [];
  for (const name of names) {
    const text = readOrNull(join(path, name));
    if (text !== null) found.push({ file: join(path, name), owner: parseOwner(text) }); // null text: released meanwhile
  }
  return found;
}

function ignoring(codes: string[], fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (!codes.includes((err as NodeJS.ErrnoException).code ?? "")) throw err;
  }
}

/** Removes an owner file by its own name, then the lock directory if that left it empty. */
function removeOwner(path: string, file: string): void {
  ignoring(["ENOENT"], () => unlinkSync(file));
  ignoring(["ENOENT", "ENOTEMPTY", "EEXIST"], () => rmdirSync(path));
}

function stage(path: string, owner: LockOwner): { dir: string; name: string } {
  const nonce = randomUUID();
  const dir = `${path}.${nonce}.staging`;
  const name = `${OWNER_PREFIX}${nonce}`;
  mkdirSync(dir);
  const fd = openSync(join(dir, name), "wx");
  try {
    writeSync(fd, JSON.stringify(owner) + "\n");
    // On disk before the rename can be: after a power cut the lock names its owner or is absent.
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return { dir, name };
}

/**
 * Takes the lock at `path` (a directory) if no live process holds it, without waiting; null when
 * one does. A lock whose owner is gone is removed and taken at once. The release removes only this
 * process's own owner file.
 */
export function tryOwnerLockSync(path: string, checks: OwnerChecks = processOwnerChecks): (() => void) | null {
  const staged = stage(path, checks.self());
  try {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      try {
        renameSync(staged.dir, path);
        const mine = join(path, staged.name);
        return () => removeOwner(path, mine);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== "ENOTEMPTY" && code !== "EEXIST") throw err;
      }
      const found = holders(path);
      if (found.some((h) => h.owner !== null && checks.alive(h.owner))) return null;
      for (const h of found) removeOwner(path, h.file);
    }
    return null;
  } finally {
    rmSync(staged.dir, { recursive: true, force: true });
  }
}
