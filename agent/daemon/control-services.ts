// The daemon's own services: its run directory (and the check that no other agent runs), the
// keep-alive that also checkpoints the ledger, the command registry and the control socket.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { CommandRegistry, CONTROL_SOCKET_NAME, ControlSocketServer, type AgentLifecycle, type CommandDeps } from "../commands/index.js";
import { clearSocketName } from "../commands/socket-path.js";
import type { Config } from "../config.js";
import type { Logger } from "../log.js";
import { hostFacts } from "./link-service.js";
import { required, type DaemonParts } from "./parts.js";
import type { Service } from "./services.js";

export interface ControlServicesDeps {
  config: Config;
  log: Logger;
  parts: DaemonParts;
  lifecycle: AgentLifecycle;
}

/**
 * Creates the run directory (mpv's socket and the control socket live there) and refuses to go on
 * when another agent answers on the control socket: before the ledger is opened, so a second
 * `ledagent run` says the agent is already running rather than that the ledger is busy.
 */
export function runDirectoryService(deps: ControlServicesDeps): Service {
  return {
    name: "run directory",
    async start() {
      await mkdir(deps.config.runDir, { recursive: true, mode: 0o750 });
      await clearSocketName(join(deps.config.runDir, CONTROL_SOCKET_NAME));
    },
    async stop() {},
  };
}

/**
 * One referenced interval: the daemon's timers elsewhere are unreferenced (so that a CLI command
 * using the same parts exits when done), and the control socket and mpv would keep the process
 * alive only as a side effect. Each tick signs a head checkpoint, which also records the device
 * key's high-water mark.
 */
export function keepAliveService(deps: ControlServicesDeps): Service {
  let timer: NodeJS.Timeout | null = null;
  const checkpoint = (): void => {
    try {
      const cp = required(deps.parts, "ledger", "the checkpoint").checkpoint();
      deps.log.info({ seq: cp.seq }, "ledger checkpoint signed");
    } catch (err) {
      deps.log.error({ err }, "ledger checkpoint failed; trying again at the next interval");
    }
  };
  return {
    name: "keep-alive and checkpoints",
    async start() {
      timer = setInterval(checkpoint, deps.config.checkpointIntervalS * 1000);
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}

/** The command registry's view of the parts: read at each call, so a part that is not running answers `unavailable`. */
export function commandDeps(deps: ControlServicesDeps): CommandDeps {
  const { parts } = deps;
  return {
    get ledger() {
      return parts.ledger ?? undefined;
    },
    get controller() {
      return parts.controller ?? undefined;
    },
    get brightness() {
      return parts.brightness ?? undefined;
    },
    get playout() {
      return parts.playout ?? undefined;
    },
    get schedule() {
      return parts.scheduleLoader ?? undefined;
    },
    get proofSync() {
      return parts.proofSync ?? undefined;
    },
    host: hostFacts(deps.config, parts),
    agent: deps.lifecycle,
    log: deps.log.child({ part: "commands" }),
  };
}

/** The command registry, then the control socket that serves it to the local CLI. */
export function commandServices(deps: ControlServicesDeps): Service[] {
  let registry: CommandRegistry | null = null;
  let server: ControlSocketServer | null = null;
  const commands: Service = {
    name: "commands",
    async start() {
      registry = new CommandRegistry(commandDeps(deps));
      deps.parts.commands = registry;
    },
    async stop() {
      deps.parts.commands = null;
      registry = null;
    },
  };
  const controlSocket: Service = {
    name: "control socket",
    async start() {
      if (!registry) throw new Error("the control socket needs the command registry, which is not running");
      server = new ControlSocketServer({ registry, runDir: deps.config.runDir, log: deps.log.child({ part: "control" }) });
      await server.start();
    },
    async stop() {
      await server?.stop();
      server = null;
    },
  };
  return [commands, controlSocket];
}
