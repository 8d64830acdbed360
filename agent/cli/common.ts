// What every `ledagent` subcommand shares: config loading, one-line errors, exit codes
// (0 ok, 1 failure with one clear line on stderr, 2 bad usage).
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { DateTime } from "luxon";
import { configPath, loadConfig, type Config } from "../config.js";

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

export function cliConfig(cmd: Command): Config {
  return loadConfig(configPath(globalOptions(cmd).config));
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

export function fail(err: unknown): never {
  const code = err instanceof CliError ? err.exitCode : 1;
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`ledagent: ${message.split("\n")[0]}\n`);
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

/** A file's text, or a one-line failure naming it (`what` says what the file is). */
export function readTextFile(path: string, what = "file"): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new CliError(`${what} ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** A JSON file, parsed, or a one-line failure naming it. */
export function readJsonFile(path: string, what = "file"): unknown {
  const text = readTextFile(path, what);
  try {
    return JSON.parse(text);
  } catch {
    throw new CliError(`${what} ${path}: not JSON`);
  }
}
