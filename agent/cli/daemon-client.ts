// The CLI's way through a running daemon: one call, and what to tell the technician when there
// is no daemon, when it could not be talked to, or when it refused.
import { callDaemon, DaemonCallError, type CallOptions, type CommandOutcome } from "../commands/index.js";
import type { Config } from "../config.js";
import { CliError } from "./common.js";

export const NOT_RUNNING = "the agent is not running: start it with `ledagent run` or systemctl start ledagent";

/** The daemon's outcome, or null when no daemon runs. A daemon that is there but could not be talked to is an error, never "absent". */
export async function askDaemon(config: Pick<Config, "runDir">, name: string, args: unknown, options?: CallOptions): Promise<CommandOutcome | null> {
  try {
    const call = await callDaemon(config.runDir, name, args, options);
    return call.daemon === "absent" ? null : call.outcome;
  } catch (err) {
    if (err instanceof DaemonCallError) throw new CliError(err.message);
    throw err;
  }
}

/** The result of a successful outcome; a refusal is its message, exit 2 when the args were bad (bad usage), else 1. */
export function resultOf(outcome: CommandOutcome): unknown {
  if (outcome.ok) return outcome.result;
  throw new CliError(outcome.error.message, outcome.error.code === "bad-args" ? 2 : 1);
}

/** A command that only the daemon can do: its result, or exit 1 saying the agent is not running. */
export async function callRunningDaemon(config: Pick<Config, "runDir">, name: string, args: unknown, options?: CallOptions): Promise<unknown> {
  const outcome = await askDaemon(config, name, args, options);
  if (outcome === null) throw new CliError(NOT_RUNNING);
  return resultOf(outcome);
}
