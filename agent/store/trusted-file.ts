// Small files the agent trusts (its config, the ops public key, a head checkpoint): read only
// from a regular file of sane size, checked with fstat on the descriptor that is then read, so
// nothing can be swapped in between the check and the read. `/dev/zero`, a FIFO or a directory
// would otherwise hang the reader or fill its memory; a file that group or others may write
// could be rewritten by any local account, so the agent would trust what an intruder wrote.
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from "node:fs";

/** Largest trusted file read unless a caller says otherwise: far above any real config or key. */
export const TRUSTED_FILE_MAX_BYTES = 1024 * 1024;

export type TrustedFileProblem = "unreadable" | "not a regular file" | "too large" | "writable by others";

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
  /** Refuse a file that group or others may write (config, keys): anyone could rewrite it. */
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
  if (opts.refuseWritableByOthers && (st.mode & 0o022) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, "0");
    return new TrustedFileError(`${path}: is writable by group or others (mode ${mode}); fix with \`chmod go-w ${path}\``, "writable by others");
  }
  return null;
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
  const problem = statProblem(fstatSync(fd), path, opts);
  if (problem) {
    closeSync(fd);
    throw problem;
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
 * Refuses a file (an ops or device public key) that is not a sane regular file or that group or
 * others may write, without reading it: for loaders that read the file themselves.
 */
export function checkTrustedFile(path: string, options: TrustedReadOptions = { refuseWritableByOthers: true }): void {
  closeSync(openChecked(path, withDefaults(options)));
}
