// What every doctor check gives back: one line for the technician at the box, and when something
// is wrong, the fix to try. The checks know nothing of the command line that prints them.

/**
 * - ok: nothing to do
 * - warn: the screen plays, but something will bite later or only in some set-ups
 * - fail: something the agent needs is broken; `ledagent doctor` exits 1
 */
export type Level = "ok" | "warn" | "fail";

export interface CheckResult {
  /** Short and stable (`config`, `device key`, `broker` …): scripts match on it. */
  name: string;
  level: Level;
  /** One line: what was found. */
  detail: string;
  /** On warn and fail: what to try, as a command where there is one. */
  fix?: string;
}

export function ok(name: string, detail: string): CheckResult {
  return { name, level: "ok", detail };
}

export function warn(name: string, detail: string, fix: string): CheckResult {
  return { name, level: "warn", detail, fix };
}

export function fail(name: string, detail: string, fix: string): CheckResult {
  return { name, level: "fail", detail, fix };
}

/** A program's answer; null from RunProgram means it could not be started at all (not installed). */
export interface ProgramResult {
  /** Exit status; null when it was killed (its time limit) or ended by a signal. */
  status: number | null;
  stdout: string;
  stderr: string;
}

export type RunProgram = (command: string, args: string[], timeoutMs?: number) => Promise<ProgramResult | null>;

/** The first line of an error's message: what a check that threw reports. */
export function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split("\n")[0];
}

/**
 * Many of the agent's own messages end with the fix (`…; fix with \`chmod go-w F\``): split it off
 * so the line says what is wrong and the fix line what to do, instead of saying it twice.
 */
export function splitFix(message: string): { detail: string; fix: string | null } {
  const m = /^(.*?)[;,]?\s*(?:fix with|run) (`[^`]+`(?: on it)?)\s*$/.exec(message);
  if (!m) return { detail: message, fix: null };
  return { detail: m[1], fix: m[2] };
}
