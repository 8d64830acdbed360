// Is the agent running: its control socket answers `status` (a read: nothing is recorded in the
// ledger). Asked once; the controller check waits for the answer, since a running agent holds the
// controller's port and must be asked instead of opening the port a second time.
import type { Config } from "../config.js";
import { callDaemon, DaemonCallError, type AgentStatus, type DaemonCall } from "../commands/index.js";
import { agentPaths } from "../paths.js";
import type { UnitFacts } from "./identity.js";
import { fail, firstLine, ok, warn, type CheckResult } from "./types.js";

export type CallAgent = (runDir: string, name: string, args: unknown, options: { timeoutMs: number }) => Promise<DaemonCall>;

/**
 * - running: it answered `status`
 * - absent: no socket, or a socket nobody holds
 * - unreachable: a socket that could not be used (permission, no answer in time, closed): an
 *   agent may well hold the controller's port, so nothing goes around it
 */
export type DaemonState =
  | { kind: "running"; status: AgentStatus }
  | { kind: "absent" }
  | { kind: "unreachable"; code: DaemonCallError["code"] | "refused"; message: string };

export const DAEMON_CALL_TIMEOUT_MS = 4000;

export async function probeDaemon(config: Pick<Config, "runDir">, call: CallAgent = callDaemon): Promise<DaemonState> {
  try {
    const answer = await call(config.runDir, "status", {}, { timeoutMs: DAEMON_CALL_TIMEOUT_MS });
    if (answer.daemon === "absent") return { kind: "absent" };
    if (!answer.outcome.ok) return { kind: "unreachable", code: "refused", message: answer.outcome.error.message };
    return { kind: "running", status: answer.outcome.result as AgentStatus };
  } catch (err) {
    if (err instanceof DaemonCallError) return { kind: "unreachable", code: err.code, message: err.message };
    throw err;
  }
}

const LOOK = "systemctl status ledagent; journalctl -u ledagent -n 50";

function uptime(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : `${m} min ${seconds % 60} s`;
}

export function daemonResult(state: DaemonState, config: Pick<Config, "runDir" | "dataDir">, unit: UnitFacts | null): CheckResult {
  const socket = agentPaths(config).controlSocket;
  const systemd = unit ? ` (systemd: ${unit.activeState})` : "";
  if (state.kind === "running") return ok("daemon", `running, up ${uptime(state.status.process.uptimeS)}, answers on ${socket}${systemd}`);
  if (state.kind === "absent") {
    const start = unit ? "systemctl start ledagent" : "ledagent run (or install systemd/ledagent.service)";
    return warn("daemon", `not running: nothing answers on ${socket}${systemd}`, `${LOOK}; to start it: ${start}`);
  }
  if (state.code === "access") return fail("daemon", firstLine(state.message), "add your user to the agent's group (`usermod -aG ledagent $USER`, then log in again), or use sudo");
  if (state.code === "timeout") return fail("daemon", `${firstLine(state.message)}: the agent is there but hangs${systemd}`, `${LOOK}; then systemctl restart ledagent`);
  return fail("daemon", `${firstLine(state.message)}${systemd}`, LOOK);
}
