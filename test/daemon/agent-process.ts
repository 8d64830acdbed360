// `ledagent run` in its own process, as systemd runs it: the built CLI (npm test builds dist/; by
// hand, `npx tsc -p tsconfig.build.json`), in its own process group like systemd's cgroup, so a
// kill -9 of the group takes its mpv too.
import { spawn, type ChildProcess } from "node:child_process";
import { callDaemon } from "../../agent/commands/index.js";
import { CLI } from "../helpers/cli.js";

export interface Agent {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: () => string;
}

export class AgentProcesses {
  private readonly agents: Agent[] = [];

  constructor(private readonly where: { config: string; runDir: string }) {}

  start(extraEnv: NodeJS.ProcessEnv = {}): Agent {
    const child = spawn(process.execPath, [CLI, "run", "--config", this.where.config], { env: { ...process.env, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let output = "";
    child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
    const agent = { child, exited, output: () => output };
    this.agents.push(agent);
    return agent;
  }

  /** Resolves once the agent answers `status` on its control socket. */
  async reachable(agent: Agent, timeoutMs = 25_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exitedEarly = false;
    void agent.exited.then(() => (exitedEarly = true));
    while (Date.now() < deadline) {
      if (exitedEarly) throw new Error(`the agent exited before it was reachable:\n${agent.output()}`);
      const call = await callDaemon(this.where.runDir, "status", {}, { timeoutMs: 2000 }).catch(() => null);
      if (call?.daemon === "answered") return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the agent was not reachable within ${timeoutMs} ms:\n${agent.output()}`);
  }

  /** A signal, and how long until the process was gone. */
  async terminate(agent: Agent, signal: NodeJS.Signals = "SIGTERM"): Promise<{ code: number | null; ms: number }> {
    const began = Date.now();
    agent.child.kill(signal);
    const { code } = await agent.exited;
    return { code, ms: Date.now() - began };
  }

  killGroup(agent: Agent): void {
    process.kill(-(agent.child.pid as number), "SIGKILL");
  }

  /** Every agent still running is killed with its group; resolves when all have exited. */
  async killAll(): Promise<void> {
    for (const a of this.agents) if (a.child.exitCode === null && a.child.signalCode === null) this.killGroup(a);
    await Promise.all(this.agents.map((a) => a.exited));
  }
}
