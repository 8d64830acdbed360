// A virtual serial cable: socat joins two pseudo-terminals, the simulator opens one end and the
// agent the other, exactly as it would open /dev/ttyUSB0.
import { spawn, type ChildProcess } from "node:child_process";

export interface PtyPair {
  /** The end the simulator opens. */
  simulatorPath: string;
  /** The end to give the agent: serial://<agentPath>?baud=115200. */
  agentPath: string;
  close(): Promise<void>;
}

export async function openPtyPair(opts: { socat?: string; timeoutMs?: number } = {}): Promise<PtyPair> {
  const child: ChildProcess = spawn(opts.socat ?? "socat", ["-d", "-d", "pty,raw,echo=0", "pty,raw,echo=0"], { stdio: ["ignore", "ignore", "pipe"] });
  const paths = await new Promise<string[]>((resolve, reject) => {
    let text = "";
    const found: string[] = [];
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`socat did not report two pty paths within ${opts.timeoutMs ?? 5000} ms: ${text.trim()}`));
    }, opts.timeoutMs ?? 5000);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run socat (needed for a virtual serial port): ${err.message}`));
    });
    const early = (code: number | null): void => {
      clearTimeout(timer);
      reject(new Error(`socat exited with code ${code}: ${text.trim()}`));
    };
    child.once("exit", early);
    child.stderr?.setEncoding("utf8");
    // socat keeps logging (e.g. when it gets SIGTERM): the pipe must stay drained after the paths are known.
    child.stderr?.on("data", (chunk: string) => {
      if (found.length >= 2) return;
      text += chunk;
      for (const m of chunk.matchAll(/PTY is (\S+)/g)) found.push(m[1]);
      if (found.length >= 2) {
        clearTimeout(timer);
        child.off("exit", early);
        resolve(found.slice(0, 2));
      }
    });
  });
  return {
    simulatorPath: paths[0],
    agentPath: paths[1],
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      await exited;
    },
  };
}
