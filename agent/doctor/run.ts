// Runs the checks side by side, each within its own time limit: one that hangs (a controller that
// never answers, a tool stuck on a dead NFS mount) or throws costs its own line, never the others'.
import { spawn } from "node:child_process";
import { fail, firstLine, type CheckResult, type ProgramResult, type RunProgram } from "./types.js";

export interface Check {
  name: string;
  /** Default: DEFAULT_CHECK_TIMEOUT_MS. */
  timeoutMs?: number;
  run(): Promise<CheckResult> | CheckResult;
}

export const DEFAULT_CHECK_TIMEOUT_MS = 5000;

const REPORT = "run `ledagent doctor` again; if it repeats, report this line with the agent's version (`ledagent --version`)";

function timedOut(name: string, ms: number): CheckResult {
  return fail(name, `the check did not finish within ${ms / 1000} s`, REPORT);
}

/** One check, never rejecting: a throw or its time limit becomes a fail naming it. */
export async function runCheck(check: Check, defaultTimeoutMs = DEFAULT_CHECK_TIMEOUT_MS): Promise<CheckResult> {
  const ms = check.timeoutMs ?? defaultTimeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(() => resolve(timedOut(check.name, ms)), ms);
    // The doctor exits when it has printed; a check left running past its limit must not hold it.
    timer.unref();
  });
  const work = Promise.resolve()
    .then(() => check.run())
    .catch((err: unknown) => fail(check.name, `the check failed: ${firstLine(err)}`, REPORT));
  try {
    return await Promise.race([work, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** Every check at once; results in the order given, whatever order they finish in. */
export function runChecks(checks: readonly Check[], defaultTimeoutMs = DEFAULT_CHECK_TIMEOUT_MS): Promise<CheckResult[]> {
  return Promise.all(checks.map((c) => runCheck(c, defaultTimeoutMs)));
}

/** Output past this is cut: the checks read a version line or a yes/no. */
const MAX_OUTPUT = 64 * 1024;

/** The real RunProgram: no shell, stdin closed, killed at its time limit. */
export const runProgram: RunProgram = (command, args, timeoutMs = 3000) =>
  new Promise((resolve) => {
    let child;
    try {
      child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    } catch {
      resolve(null);
      return;
    }
    let stdout = "";
    let stderr = "";
    let missing = false;
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    timer.unref();
    child.stdout.on("data", (d: Buffer) => (stdout = (stdout + d.toString()).slice(0, MAX_OUTPUT)));
    child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(0, MAX_OUTPUT)));
    child.on("error", (err: NodeJS.ErrnoException) => {
      // ENOENT / EACCES: not installed, or not a program this user may run.
      missing = true;
      clearTimeout(timer);
      resolve(err.code === "ENOENT" ? null : { status: null, stdout: "", stderr: err.message });
    });
    child.on("close", (status: number | null) => {
      clearTimeout(timer);
      if (!missing) resolve({ status, stdout, stderr } satisfies ProgramResult);
    });
  });
