// `ledagent status`: what the running agent is doing now, from the daemon itself.
import type { Command } from "commander";
import type { AgentStatus } from "../commands/index.js";
import { action, cliConfig } from "./common.js";
import { callRunningDaemon } from "./daemon-client.js";
import { statusText } from "./status-output.js";

export function registerStatusCommand(program: Command): void {
  program
    .command("status")
    .description("what the agent is doing now: on screen, next, schedule version, controller, live orders, ledger head")
    .option("--json", "the daemon's status result as one JSON object")
    .action(
      action(async (opts: { json?: boolean }, cmd: Command) => {
        const config = cliConfig(cmd);
        const status = (await callRunningDaemon(config, "status", {})) as AgentStatus;
        process.stdout.write(opts.json ? `${JSON.stringify(status)}\n` : `${statusText(status, config.timezone)}\n`);
      }),
    );
}
