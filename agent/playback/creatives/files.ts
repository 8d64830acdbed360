// How the cache touches its own files. Whatever sits in staging/, sources/ or renditions/ may
// have been put there by someone else (a technician's `ln -s`, a restored backup, another
// process): files are created only anew (O_EXCL, never through an existing name), opened with
// O_NOFOLLOW (a symbolic link is refused, not followed) and used only when they are regular
// files. A name that holds anything else is "foreign": the cache removes the name (unlinking a
// link never touches its target) and treats the bytes as absent.
import { createHash } from "node:crypto";
import { constants, lstatSync, rmdirSync, unlinkSync, type Stats } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { pipeline } from "node:stream/promises";

const { O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_WRONLY } = constants;

/** Private to the agent: nobody else on the box needs to read creatives before they air. */
const FILE_MODE = 0o600;

/** What a cache name holds. */
export type CacheEntry = { kind: "absent" } | { kind: "file"; size: number; mtimeMs: number } | { kind: "foreign"; what: string; isDirectory: boolean; mtimeMs: number };

function describeNonFile(info: Stats): string {
  if (info.isSymbolicLink()) return "a symbolic link";
  if (info.isDirectory()) return "a directory";
  if (info.isFIFO()) return "a named pipe";
  if (info.isSocket()) return "a socket";
  return "not a regular file";
}

/** The name itself (lstat: a link is reported as a link, never followed). */
export function cacheEntry(path: string): CacheEntry {
  let info: Stats;
  try {
    info = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { kind: "absent" };
    throw err;
  }
  if (info.isFile()) return { kind: "file", size: info.size, mtimeMs: info.mtimeMs };
  return { kind: "foreign", what: describeNonFile(info), isDirectory: info.isDirectory(), mtimeMs: info.mtimeMs };
}

/** An open that found something other than a regular file behind the name. */
export class NotARegularFile extends Error {
  readonly code = "ENOTREG";
  constructor(path: string, what: string) {
    super(`${path} is ${what}, not a regular file`);
    this.name = "NotARegularFile";
  }
}

/** Creates `path` as a new, empty, private file; fails (EEXIST) if the name is taken, by a link or anything else. */
export function createExclusive(path: string): Promise<FileHandle> {
  return open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, FILE_MODE);
}

// O_NONBLOCK: a named pipe planted under the name would otherwise hang the open forever.
async function openRegular(path: string, flags: number): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(path, flags | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    // Linux says ELOOP when the last component is a link and O_NOFOLLOW is set.
    if ((err as NodeJS.ErrnoException).code === "ELOOP") throw new NotARegularFile(path, "a symbolic link");
    throw err;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new NotARegularFile(path, describeNonFile(info));
    return handle;
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** Opens an existing regular file to add to its end (a resumed download). */
export function openToAppend(path: string): Promise<FileHandle> {
  return openRegular(path, O_WRONLY | O_APPEND);
}

/** Opens an existing regular file to read it; never through a link. */
export function openToRead(path: string): Promise<FileHandle> {
  return openRegular(path, O_RDONLY);
}

/** Which file a name held when it was opened: a rename moves this identity, a replacement does not. */
export interface FileIdentity {
  dev: number;
  ino: number;
}

/** SHA-256 (hex) of a regular file's bytes and which file was hashed; a link or non-file is refused. */
export async function hashFile(path: string): Promise<{ sha256: string; identity: FileIdentity }> {
  const handle = await openToRead(path);
  const { dev, ino } = await handle.stat().catch(async (err: unknown) => {
    await handle.close();
    throw err;
  });
  const hash = createHash("sha256");
  // The stream closes the handle when it ends or fails.
  await pipeline(handle.createReadStream(), hash);
  return { sha256: hash.digest("hex"), identity: { dev, ino } };
}

/** SHA-256 (hex) of a regular file's bytes; a link or non-file is refused (NotARegularFile). */
export async function sha256OfFile(path: string): Promise<string> {
  return (await hashFile(path)).sha256;
}

/** True when `path` is (still) the very file `identity` names, not a link or a replacement. */
export function isSameFile(path: string, identity: FileIdentity): boolean {
  try {
    const info = lstatSync(path);
    return info.isFile() && info.dev === identity.dev && info.ino === identity.ino;
  } catch {
    return false;
  }
}

/**
 * Removes the name itself and never what is behind it: a link or file is unlinked, a directory
 * only when empty (never recursively: a directory someone else made may hold their files).
 * True when the name is gone.
 */
export function removeName(path: string): boolean {
  const entry = cacheEntry(path);
  if (entry.kind === "absent") return true;
  try {
    if (entry.kind === "foreign" && entry.isDirectory) rmdirSync(path);
    else unlinkSync(path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return true;
    if (code === "ENOTEMPTY" || code === "EEXIST") return false;
    throw err;
  }
}
