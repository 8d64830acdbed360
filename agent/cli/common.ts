// What every `ledagent` subcommand shares: config loading, one-line errors, exit codes
// (0 ok, 1 failure with one clear line on stderr, 2 bad usage).
import { accessSync, closeSync, constants, createWriteStream, fsyncSync, openSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import type { Command } from "commander";
import { DateTime } from "luxon";
import { configPath, loadConfig, type Config } from "../config.js";
import { ranAs, runAsDataDirOwner } from "../run-as.js";
import { fsyncDirectory, tempPathBeside } from "../store/index.js";
import { describeFsError, readTrustedText, TrustedFileError } from "../store/trusted-file.js";

/** A failure to report as one line on stderr with exit code 1 (or 2 for bad usage). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** The global `--config` option, from any subcommand. */
export function globalOptions(cmd: Command): { config?: string } {
  return cmd.optsWithGlobals() as { config?: string };
}

/**
 * The config, after which a root process acts as the agent's user (the data directory's owner:
 * agent/run-as.ts), so that `sudo ledagent …` reads the agent's key and leaves no root-owned file.
 */
export function cliConfig(cmd: Command): Config {
  const config = loadConfig(configPath(globalOptions(cmd).config));
  runAsDataDirOwner(config.dataDir);
  return config;
}

/** Wraps an action so that any error becomes one line on stderr and the right exit code. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      fail(err);
    }
  };
}

/**
 * The exit status when whoever reads our output has gone (`ledagent proofs export | head -1`):
 * 128 + SIGPIPE, what a shell reports for `cat` in the same place. Quiet (the reader chose to
 * stop), but not 0: the output was not delivered whole, and `set -o pipefail` can tell.
 */
export const CLOSED_PIPE_EXIT = 141;

function isClosedPipe(err: unknown): boolean {
  if ((err as NodeJS.ErrnoException | null)?.code !== "EPIPE") return false;
  // Only our own stdout or stderr closing is the reader's choice; EPIPE elsewhere (a socket to
  // the daemon, a child process) is a failure like any other.
  return process.stdout.errored === err || process.stderr.errored === err;
}

/**
 * Once for the whole CLI: a reader that closes stdout (or stderr) early ends the command
 * quietly with CLOSED_PIPE_EXIT, never an "EPIPE" line or a stack trace. Node ignores SIGPIPE,
 * so the closed pipe arrives as an error event on the stream (or a failed write, see fail()).
 */
export function exitQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPIPE") process.exit(CLOSED_PIPE_EXIT);
      // Any other error on our own output cannot be reported there; say it once on stderr.
      if (stream === process.stdout) fail(new CliError(`cannot write the output: ${describeFsError(err)}`));
      process.exit(1);
    });
  }
}

export function fail(err: unknown): never {
  if (isClosedPipe(err)) process.exit(CLOSED_PIPE_EXIT);
  const code = err instanceof CliError ? err.exitCode : 1;
  const message = err instanceof Error ? err.message : String(err);
  const as = ranAs();
  // Run as root, the command went on as the agent's user: a refusal of access is that user's.
  const hint = as && /EACCES|EPERM|permission denied/i.test(message) ? ` (run as root, this command acts as the agent's user, uid ${as.uid}: give it paths that user may use, or write to stdout)` : "";
  process.stderr.write(`ledagent: ${message.split("\n")[0]}${hint}\n`);
  process.exit(code);
}

/** Parses an integer option, or fails as bad usage naming the option. */
export function intOption(name: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new CliError(`${name}: ${JSON.stringify(raw)} is not an integer in ${min}..${max}`, 2);
  return n;
}

/** "now", an RFC 3339 time, or a local date/time read in `timezone`: epoch milliseconds. */
export function timeOption(option: string, raw: string, timezone: string): number {
  if (raw === "now") return Date.now();
  const t = DateTime.fromISO(raw, { zone: timezone, setZone: false });
  if (!t.isValid) throw new CliError(`${option}: ${JSON.stringify(raw)} is not a time (use e.g. 2026-12-01T08:00:00+08:00 or 2026-12-01)`, 2);
  return t.toMillis();
}

/** An ISO time as people read it in `timezone`: `2026-12-01 19:30:05 +08:00` (as given when it does not parse). */
export function localTime(iso: string, timezone: string): string {
  const t = DateTime.fromISO(iso, { zone: timezone });
  return t.isValid ? t.toFormat("yyyy-MM-dd HH:mm:ss ZZ") : iso;
}

/**
 * A small file's text (a head, a schedule document, a key), or a one-line failure naming it
 * (`what` says what the file is). Only a regular file of at most `maxBytes` is read.
 */
export function readTextFile(path: string, what = "file", maxBytes?: number): string {
  try {
    return readTrustedText(path, { maxBytes });
  } catch (err) {
    if (!(err instanceof TrustedFileError)) throw err;
    throw new CliError(`${what} ${err.message}`);
  }
}

/** A JSON file's text, checked to be JSON, or a one-line failure naming it. */
export function readJsonText(path: string, what = "file"): string {
  const text = readTextFile(path, what);
  try {
    JSON.parse(text);
  } catch {
    throw new CliError(`${what} ${path}: not JSON`);
  }
  return text;
}

/** A JSON file, parsed, or a one-line failure naming it. */
export function readJsonFile(path: string, what = "file"): unknown {
  return JSON.parse(readJsonText(path, what)) as unknown;
}

/**
 * Why `--out` cannot name `target`, checked before anything is computed or written: the real
 * reason (no such directory, is a directory, permission denied) instead of an error about a
 * temp file the technician never named.
 */
function outputTargetProblem(target: string): string | null {
  const dir = dirname(target);
  try {
    if (!statSync(dir).isDirectory()) return `${dir} is not a directory`;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT" ? `no such directory ${dir}` : `${dir}: ${describeFsError(err)}`;
  }
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    return `permission denied: cannot create files in ${dir}`;
  }
  let st;
  try {
    st = statSync(target);
  } catch {
    return null; // a new file
  }
  if (st.isDirectory()) return "is a directory";
  // Renaming over /dev/null or a FIFO would replace the device node or pipe with a plain file.
  if (!st.isFile()) return "is not a regular file (use - for stdout)";
  try {
    accessSync(target, constants.W_OK);
  } catch {
    return "permission denied: the file is read-only";
  }
  return null;
}

/**
 * Runs `write` against stdout (no `--out`, or `-`), or against a file written whole: a fresh
 * temp file beside the target (O_EXCL, so never a planted file or symlink), fsynced, renamed
 * over it, the directory fsynced. A reader never sees half of it, a power cut never tears it,
 * and a failure leaves no temp file. One helper for every command's `--out`.
 */
export async function withOutput(out: string | undefined, write: (stream: Writable) => Promise<void> | void, mode = 0o640): Promise<void> {
  if (out === undefined || out === "-") {
    await write(process.stdout);
    return;
  }
  const target = resolve(out);
  const problem = outputTargetProblem(target);
  if (problem) throw new CliError(`--out ${out}: ${problem}`);
  const tmp = tempPathBeside(target);
  let fd: number;
  try {
    fd = openSync(tmp, "wx", mode);
  } catch (err) {
    throw new CliError(`--out ${out}: ${describeFsError(err)}`);
  }
  const stream = createWriteStream("", { fd, autoClose: false });
  try {
    await write(stream);
    stream.end();
    await finished(stream);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, target);
  } catch (err) {
    stream.destroy();
    try {
      closeSync(fd);
    } catch {
      // already closed before the rename failed
    }
    rmSync(tmp, { force: true });
    // A file system error here is about the output (the disk filled, the rename failed).
    throw typeof (err as NodeJS.ErrnoException).syscall === "string" ? new CliError(`--out ${out}: ${describeFsError(err)}`) : err;
  }
  fsyncDirectory(dirname(target));
}
