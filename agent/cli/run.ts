// `ledagent run`: the daemon (systemd's ExecStart). A config error ends it before anything starts.
import type { Command } from "commander";
import { Daemon, runDaemon, type DaemonProcess } from "../daemon.js";
import { createLogger } from "../log.js";
import { action, cliConfig } from "./common.js";

const realProcess: DaemonProcess = {
  onSignal: (signal, handler) => void process.on(signal, handler),
  exit: (code) => process.exit(code),
};

export function registerRunCommand(program: Command): void {
  program
    .command("run")
    .description("the agent: plays the stored schedule, drives the controller, keeps the ledger, serves the control socket (systemd's ExecStart)")
    .action(
      action(async (_opts: unknown, cmd: Command) => {
        // Throws ConfigError naming the key, the value and what is expected: exit 1, nothing started.
        const config = cliConfig(cmd);
        const log = createLogger({ level: config.logLevel });
        // A stray rejected promise is a bug to see in the log, not a reason to take the screen down.
        process.on("unhandledRejection", (err) => log.error({ err }, "unhandled rejection"));
        await runDaemon({
          daemon: (lifecycle) => new Daemon({ config, log, lifecycle }),
          process: realProcess,
          log,
        });
      }),
    );
}
