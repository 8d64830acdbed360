// Small files the agent trusts (its config, the ops public key, a head checkpoint): read only
// from a regular file of sane size, checked with fstat on the descriptor that is then read, so
// nothing can be swapped in between the check and the read. `/dev/zero`, a FIFO or a directory
// would otherwise hang the reader or fill its memory; a file that group or others may write
// could be rewritten by any local account, so the agent would trust what an intruder wrote.
// For the same reason a trusted file must be owned by root or by the user the agent runs as, and
// so must every directory its path goes through, none of them writable by anyone else: whoever
// can write a directory can rename another file over the one the agent means to read.
import { closeSync, constants, fstatSync, lstatSync, openSync, readlinkSync, readSync, type Stats } from "node:fs";
import { posix } from "node:path";

/** Largest trusted file read unless a caller says otherwise: far above any real config or key. */
export const TRUSTED_FILE_MAX_BYTES = 1024 * 1024;

export type TrustedFileProblem = "unreadable" | "not a regular file" | "too large" | "writable by others" | "owned by others" | "unsafe directory";

/** A trusted file that cannot be used; `message` says why and, where it can, how to fix it. */
export class TrustedFileError extends Error {
  constructor(
    message: string,
    readonly problem: TrustedFileProblem,
    readonly code?: string,
  ) {
    super(message);
    this.name = "TrustedFileError";
  }
}

export interface TrustedReadOptions {
  /** Refuse files larger than this (bytes). */
  maxBytes?: number;
  /**
   * Refuse a file (config, keys) that anyone but root and the agent's user could rewrite or
   * replace: writable by group or others, owned by someone else, or reached through a directory
   * that someone else owns or may write (see checkTrustedPath).
   */
  refuseWritableByOthers?: boolean;
  /**
   * Instead of refusing a file over `maxBytes`, return its first `maxBytes + 1` bytes, so that a
   * caller who judges what was delivered (a schedule) can reject it, and record why, itself.
   */
  truncate?: boolean;
}

/** What an errno means, in words a technician reads; the code stays in brackets for searches. */
export function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const words: Record<string, string> = {
    ENOENT: "no such file or directory",
    ENOTDIR: "a part of the path is not a directory",
    EACCES: "permission denied",
    EPERM: "permission denied",
    EISDIR: "is a directory",
    ENOSPC: "the disk is full",
    EDQUOT: "the disk quota is used up",
    EROFS: "read-only file system",
    ELOOP: "too many symbolic links",
    ENAMETOOLONG: "the name is too long",
    EMFILE: "too many open files",
  };
  if (code && words[code]) return `${words[code]} (${code})`;
  return code ?? (err as Error).message;
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a FIFO";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice() || st.isBlockDevice()) return "a device";
  if (st.isSymbolicLink()) return "a symbolic link";
  return "not a regular file";
}

/** Why the file behind `fd` may not be trusted, or null. */
function statProblem(st: Stats, path: string, opts: Required<TrustedReadOptions>): TrustedFileError | null {
  if (!st.isFile()) return new TrustedFileError(`${path}: is ${kindOf(st)}, not a regular file`, "not a regular file");
  if (st.size > opts.maxBytes && !opts.truncate) {
    return new TrustedFileError(`${path}: is ${st.size} bytes, more than the ${opts.maxBytes} allowed`, "too large");
  }
  return opts.refuseWritableByOthers ? writerProblem(st, path) : null;
}

/** Why someone other than root and the agent's user could rewrite the file `st` describes, or null. */
function writerProblem(st: Stats, path: string): TrustedFileError | null {
  if ((st.mode & 0o022) !== 0) {
    return new TrustedFileError(`${path}: is writable by group or others (mode ${modeText(st)}); fix with \`chmod go-w ${path}\``, "writable by others");
  }
  if (!isTrustedOwner(st.uid)) {
    const fix = `chown ${fileOwnerSpec()} ${path}`;
    return new TrustedFileError(`${path}: is owned by uid ${st.uid}, not by ${trustedOwnerWords()}, so uid ${st.uid} can rewrite it; fix with \`${fix}\``, "owned by others");
  }
  return null;
}

function modeText(st: Stats): string {
  return (st.mode & 0o7777).toString(8).padStart(4, "0");
}

/** The user the agent runs as; 0 where there are no uids, so root alone is then trusted. */
function agentUid(): number {
  return process.getuid?.() ?? 0;
}

/** Root may rewrite anything anyway, and the agent's user is the one trusting the file. */
function isTrustedOwner(uid: number): boolean {
  return uid === 0 || uid === agentUid();
}

function trustedOwnerWords(): string {
  const uid = agentUid();
  return uid === 0 ? "root (the user the agent runs as)" : `root or uid ${uid} (the user the agent runs as)`;
}

/** A file must stay readable by the agent: give it to the agent's user. Directories go to root. */
function fileOwnerSpec(): string {
  const uid = agentUid();
  return uid === 0 ? "root:root" : String(uid);
}

/** Opens `path` and checks it with fstat; the caller reads the descriptor and closes it. */
function openChecked(path: string, opts: Required<TrustedReadOptions>): number {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO with no writer must not hang before fstat can refuse it.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new TrustedFileError(`${path}: ${describeFsError(err)}`, "unreadable", (err as NodeJS.ErrnoException).code);
  }
  try {
    const problem = statProblem(fstatSync(fd), path, opts);
    if (problem) throw problem;
    if (opts.refuseWritableByOthers) checkLookupDirectories(path);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
}

function withDefaults(options: TrustedReadOptions): Required<TrustedReadOptions> {
  return {
    maxBytes: options.maxBytes ?? TRUSTED_FILE_MAX_BYTES,
    refuseWritableByOthers: options.refuseWritableByOthers ?? false,
    truncate: options.truncate ?? false,
  };
}

/** The bytes of a trusted file: a regular file, at most `maxBytes`, checked on the descriptor read. */
export function readTrustedFile(path: string, options: TrustedReadOptions = {}): Buffer {
  const opts = withDefaults(options);
  const fd = openChecked(path, opts);
  try {
    return readUpTo(fd, path, opts.maxBytes, opts.truncate);
  } finally {
    closeSync(fd);
  }
}

/** Reads to the end, but never more than `max` bytes: the file may grow after fstat. */
function readUpTo(fd: number, path: string, max: number, truncate: boolean): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = Buffer.alloc(Math.min(64 * 1024, max + 1 - total));
    let n: number;
    try {
      n = readSync(fd, chunk, 0, chunk.length, null);
    } catch (err) {
      throw new TrustedFileError(`${path}: ${describeFsError(err)}`, "unreadable", (err as NodeJS.ErrnoException).code);
    }
    if (n === 0) return Buffer.concat(chunks, total);
    chunks.push(chunk.subarray(0, n));
    total += n;
    if (total > max && truncate) return Buffer.concat(chunks, total);
    if (total > max) throw new TrustedFileError(`${path}: grew past the ${max} bytes allowed while being read`, "too large");
  }
}

/** A trusted file as UTF-8 text. */
export function readTrustedText(path: string, options: TrustedReadOptions = {}): string {
  return readTrustedFile(path, options).toString("utf8");
}

/**
 * Refuses a file (an ops or device public key) that is not a sane regular file or that anyone but
 * root and the agent's user could rewrite or replace, without reading it: for loaders that read
 * the file themselves.
 */
export function checkTrustedFile(path: string, options: TrustedReadOptions = { refuseWritableByOthers: true }): void {
  closeSync(openChecked(path, withDefaults(options)));
}

/**
 * Refuses `path` unless only root and the agent's user could have put what it names there: the
 * file it resolves to is owned by one of them and writable by no one else, and so is every
 * directory a name is looked up in on the way (see checkLookupDirectories). Checked on paths, not
 * on a descriptor: for a loader that opens and reads the file itself (the device private key).
 */
export function checkTrustedPath(path: string): void {
  const real = checkLookupDirectories(path);
  const problem = writerProblem(lstatChecked(path, real), path);
  if (problem) throw problem;
}

/** The kernel's own limit on symbolic links followed in one lookup. */
const MAX_SYMLINKS = 40;

/**
 * Resolves `path` as the kernel does, a component at a time, following symbolic links, and checks
 * each directory a name is looked up in: those on the path as given (where a link may sit) and
 * those on the real path alike. Returns the real path.
 *
 * These checks use lstat on paths after the file was opened, not descriptors. That is sound
 * enough: a directory that passes is writable only by root and the agent's user, and an entry in
 * a sticky one is owned by them, so no one else could have changed what the path resolved to
 * between the open and this walk; whoever could is refused here.
 */
function checkLookupDirectories(path: string): string {
  const pending = absoluteComponents(path);
  let dir = "/";
  let links = 0;
  for (let name = pending.shift(); name !== undefined; name = pending.shift()) {
    if (name === ".") continue;
    if (name === "..") {
      dir = posix.dirname(dir); // `dir` is already real, so its parent is the kernel's `..`
      continue;
    }
    const dirStat = lstatChecked(path, dir);
    checkDirectory(path, dir, dirStat);
    const entry = posix.join(dir, name);
    const entryStat = lstatChecked(path, entry);
    if (isSticky(dirStat)) checkStickyEntry(path, dir, entry, entryStat);
    if (!entryStat.isSymbolicLink()) {
      dir = entry;
      continue;
    }
    if (++links > MAX_SYMLINKS) throw new TrustedFileError(`${path}: too many symbolic links (ELOOP)`, "unreadable", "ELOOP");
    const target = readlinkSync(entry);
    pending.unshift(...components(target));
    if (posix.isAbsolute(target)) dir = "/";
  }
  return dir;
}

function components(path: string): string[] {
  return path.split("/").filter((c) => c !== "");
}

/** A relative path starts from the working directory, which getcwd already gives as a real path. */
function absoluteComponents(path: string): string[] {
  return posix.isAbsolute(path) ? components(path) : [...components(process.cwd()), ...components(path)];
}

function lstatChecked(path: string, at: string): Stats {
  try {
    return lstatSync(at);
  } catch (err) {
    const where = at === path ? "" : ` ${at}:`;
    throw new TrustedFileError(`${path}:${where} ${describeFsError(err)}`, "unreadable", (err as NodeJS.ErrnoException).code);
  }
}

/**
 * Whoever owns a directory or may write it can rename another file over any entry in it. A sticky
 * directory (like /tmp) is the exception: there only an entry's owner can rename or delete it, so
 * its entries are checked instead (checkStickyEntry).
 */
function checkDirectory(path: string, dir: string, st: Stats): void {
  if (!isTrustedOwner(st.uid)) {
    const why = `directory ${dir} is owned by uid ${st.uid}, not by ${trustedOwnerWords()}, so uid ${st.uid} could put another file in its place`;
    throw new TrustedFileError(`${path}: ${why}; fix with \`chown root:root ${dir}\``, "unsafe directory");
  }
  if ((st.mode & 0o022) !== 0 && !isSticky(st)) {
    const why = `directory ${dir} is writable by group or others (mode ${modeText(st)}), so they could put another file in its place`;
    throw new TrustedFileError(`${path}: ${why}; fix with \`chmod go-w ${dir}\``, "unsafe directory");
  }
}

/** The sticky bit (S_ISVTX), which node:fs does not export on every platform. */
function isSticky(st: Stats): boolean {
  return (st.mode & 0o1000) !== 0;
}

/** In a sticky directory an entry's owner can replace it (a symbolic link pointed elsewhere, say). */
function checkStickyEntry(path: string, dir: string, entry: string, st: Stats): void {
  if (isTrustedOwner(st.uid)) return;
  const why = `${entry} is owned by uid ${st.uid} in the sticky directory ${dir}, so uid ${st.uid} can replace it`;
  throw new TrustedFileError(`${path}: ${why}; fix with \`chown -h ${fileOwnerSpec()} ${entry}\``, "owned by others");
}
