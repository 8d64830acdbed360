// The `ledagent` command. Each area registers its subcommands from agent/cli/<area>.ts.
import { Command, CommanderError } from "commander";
import { exitQuietlyOnClosedPipe, fail } from "./cli/common.js";
import { registerControllerCommands } from "./cli/controller.js";
import { registerCreativesCommands } from "./cli/creatives.js";
import { registerDemoCommand } from "./cli/demo.js";
import { registerDoctorCommand } from "./cli/doctor.js";
import { registerInitCommands } from "./cli/init.js";
import { registerOpsCommands } from "./cli/ops.js";
import { registerOrderCommands } from "./cli/orders.js";
import { registerProofsCommands } from "./cli/proofs.js";
import { registerRunCommand } from "./cli/run.js";
import { registerScheduleCommands } from "./cli/schedule.js";
import { registerStatusCommand } from "./cli/status.js";
import { VERSION } from "./version.js";

export function buildProgram(): Command {
  const program = new Command("ledagent")
    .description("Player agent for an outdoor LED screen: plays what was sold, and proves it.")
    .version(VERSION)
    .option("--config <file>", "config file (default: $LEDAGENT_CONFIG, else /etc/ledagent/config.yaml)")
    .showHelpAfterError()
    .exitOverride();
  registerRunCommand(program);
  registerStatusCommand(program);
  registerDoctorCommand(program);
  registerInitCommands(program);
  registerProofsCommands(program);
  registerControllerCommands(program);
  addCreativesCommands(program);
  registerOrderCommands(program);
  registerScheduleCommands(program);
  registerOpsCommands(program);
  registerDemoCommand(program);
  // Subcommands inherit exitOverride only when added after it; apply it to all of them.
  const applyOverride = (cmd: Command): void => {
    cmd.exitOverride();
    cmd.commands.forEach(applyOverride);
  };
  applyOverride(program);
  return program;
}

/**
 * `creatives …` from agent/cli/creatives.ts, without the `pattern` it also registers (a render to a
 * file): the `pattern` a technician runs shows it on the screen, through the agent (cli/orders.ts).
 */
function addCreativesCommands(program: Command): void {
  const scratch = new Command().copyInheritedSettings(program);
  registerCreativesCommands(scratch);
  for (const cmd of scratch.commands) if (cmd.name() !== "pattern") program.addCommand(cmd);
}

async function main(): Promise<void> {
  exitQuietlyOnClosedPipe();
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version exit 0; everything else commander rejects is bad usage.
      process.exit(err.exitCode === 0 ? 0 : 2);
    }
    fail(err);
  }
}

await main();
