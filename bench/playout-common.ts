// What the playout bench's figures share: the area's name, progress on stderr, and bench
// children forked from dist/bench.
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

export const AREA = "playout";

export function progress(text: string): void {
  process.stderr.write(`${AREA}: ${text}\n`);
}

export function met(ok: boolean): string {
  return ok ? "met" : "MISSED";
}

/** Forks a bench child from dist/bench; `first` is its first message (it says it is ready). */
export function forkChild(script: string, args: string[], execArgv: string[] = []): { child: ChildProcess; first: Promise<unknown> } {
  const child = fork(fileURLToPath(new URL(script, import.meta.url)), args, { execArgv, stdio: ["ignore", "ignore", "inherit", "ipc"] });
  const first = new Promise<unknown>((resolve, reject) => {
    child.once("message", resolve);
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code} before it reported`)));
  });
  return { child, first };
}
