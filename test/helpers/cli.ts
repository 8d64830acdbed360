import { spawn } from "node:child_process";
import { join } from "node:path";
import { Command } from "commander";
import { vi } from "vitest";

export const CLI = join(import.meta.dirname, "..", "..", "bin", "ledagent.js");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `ledagent` command (dist/ is built by npm test and the test global setup). */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 20_000);
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? "");
  });
}

class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/**
 * Runs `ledagent <args>` in this process with only the commands `register` adds: faster than a
 * child process, and mocks stay possible. process.exit, stdout and stderr are captured.
 */
export async function runCliInProcess(register: (program: Command) => void, args: string[]): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  vi.spyOn(process, "exit").mockImplementation((code?: string | number | null) => {
    throw new Exit(Number(code ?? 0));
  });
  const program = new Command("ledagent").option("--config <file>").exitOverride();
  register(program);
  const applyOverride = (cmd: Command): void => {
    cmd.exitOverride().configureOutput({ writeErr: (s) => (stderr += s), writeOut: (s) => (stdout += s) });
    cmd.commands.forEach(applyOverride);
  };
  applyOverride(program);
  let code = 0;
  try {
    await program.parseAsync(["node", "ledagent", ...args]);
  } catch (err) {
    if (err instanceof Exit) code = err.code;
    else if (err instanceof Error && "exitCode" in err) code = 2;
    else throw err;
  } finally {
    vi.restoreAllMocks();
  }
  return { code, stdout, stderr };
}
