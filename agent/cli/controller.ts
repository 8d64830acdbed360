// `ledagent controller …` (through the running agent, which holds the controller's port; directly
// when no agent runs) and `ledagent simulate novastar …` (the wire-faithful simulator).
import type { Command } from "commander";
import type { Config } from "../config.js";
import { createController, isPatternName, PATTERN_NAMES, type Controller, type ControllerIdentity, type ControllerStatus } from "../drivers/index.js";
import { openPtyPair, type PtyPair } from "../drivers/novastar/simulator/pty.js";
import { NovaStarSimulator } from "../drivers/novastar/simulator/server.js";
import { DEFAULT_SETUP } from "../drivers/novastar/simulator/device.js";
import { ControllerError } from "../drivers/types.js";
import { TransportError } from "../drivers/transport/types.js";
import { createLogger, silentLogger } from "../log.js";
import { action, cliConfig, CliError, intOption } from "./common.js";
import { askDaemon, resultOf } from "./daemon-client.js";

/** Opens the configured controller, runs `job`, closes it; a controller error becomes one CLI line. */
async function withController<T>(config: Config, job: (controller: Controller) => Promise<T>): Promise<T> {
  if (config.controller.driver === "none") throw new CliError("no controller configured (controller.driver is none): set controller.driver and controller.port in the config");
  let controller: Controller;
  try {
    controller = createController(config.controller, { log: silentLogger() });
  } catch (err) {
    if (err instanceof TransportError) throw new CliError(`controller.port: ${err.message}`);
    throw err;
  }
  await controller.start();
  try {
    return await job(controller);
  } catch (err) {
    if (err instanceof ControllerError) throw new CliError(err.message, err.reason === "bad-input" ? 2 : 1);
    throw err;
  } finally {
    await controller.stop();
  }
}

/**
 * Through the running agent's `command` when one runs (it holds the controller's port: a second
 * link would fight it for the serial line), else `direct` on a link of our own. The agent's result
 * has the shape `direct` resolves to.
 */
async function viaAgent<T>(cmd: Command, command: string, args: Record<string, unknown>, direct: (controller: Controller) => Promise<T>): Promise<T> {
  const config = cliConfig(cmd);
  const outcome = await askDaemon(config, command, args);
  // The registry's result for each command used here is the shape `direct` gives.
  if (outcome) return resultOf(outcome) as T;
  return withController(config, direct);
}

interface ControllerReading {
  driver: string;
  port: string | null;
  status: ControllerStatus;
}

function yesNo(v: boolean | null): string {
  return v === null ? "unknown" : v ? "yes" : "no";
}

function statusLines(port: string | null, driver: string, s: ControllerStatus): string {
  const rows: Array<[string, string]> = [
    ["controller", `${port ?? "-"} (${driver})`],
    ["online", yesNo(s.online)],
    ["brightness", s.brightness === null ? "unknown" : `${s.brightness} %`],
    ["blackout", yesNo(s.blackout)],
    ["pattern", s.pattern ?? "unknown"],
    ["temperature", s.temperatureC === null ? "unknown" : `${s.temperatureC} °C`],
    ["faults", s.faults.length === 0 ? "none" : `${s.faults.join(", ")} (${s.detail})`],
  ];
  return rows.map(([k, v]) => `${k.padEnd(12)}${v}`).join("\n");
}

function parseOnOff(raw: string): boolean {
  if (raw === "on") return true;
  if (raw === "off") return false;
  throw new CliError(`blackout: ${JSON.stringify(raw)} is not on or off`, 2);
}

function parseHostPort(raw: string): { host: string; port: number } {
  const m = /^([^:]+):(\d{1,5})$/.exec(raw);
  if (!m) throw new CliError(`--tcp: ${JSON.stringify(raw)} is not HOST:PORT (e.g. 127.0.0.1:5200)`, 2);
  return { host: m[1], port: intOption("--tcp port", m[2], 0, 65535) };
}

function parseModel(raw: string): [number, number] {
  const m = /^([0-9a-fA-F]{2})\s*([0-9a-fA-F]{2})$/.exec(raw);
  if (!m) throw new CliError(`--model: ${JSON.stringify(raw)} is not two hex bytes such as "01 11" or 0711`, 2);
  return [parseInt(m[1], 16), parseInt(m[2], 16)];
}

interface SimulateOptions {
  tcp?: string;
  pty?: boolean;
  model: string;
  ports: string;
  cards: string;
  baud: string;
}

async function simulate(opts: SimulateOptions): Promise<void> {
  if (!opts.tcp && !opts.pty) throw new CliError("simulate novastar: give --tcp HOST:PORT or --pty (or both)", 2);
  const setup = {
    units: [{ modelId: parseModel(opts.model), ports: intOption("--ports", opts.ports, 1, 16), cardsPerPort: intOption("--cards", opts.cards, 1, 1024) }],
    temperatureC: DEFAULT_SETUP.temperatureC,
  };
  const baud = intOption("--baud", opts.baud, 300, 4_000_000);
  const sim = new NovaStarSimulator({ log: createLogger({ destination: process.stderr, level: "warn" }), setup });
  let pty: PtyPair | null = null;
  try {
    if (opts.tcp) {
      const { host, port } = parseHostPort(opts.tcp);
      const url = await sim.listenTcp(host, port);
      process.stdout.write(`${url}\n`);
      process.stderr.write(`novastar simulator listening on ${url} (controller.port: ${url})\n`);
    }
    if (opts.pty) {
      pty = await openPtyPair();
      await sim.attachSerial(pty.simulatorPath, baud);
      const url = `serial://${pty.agentPath}?baud=${baud}`;
      process.stdout.write(`${url}\n`);
      process.stderr.write(`novastar simulator on a virtual serial port: set controller.port to ${url}\n`);
    }
  } catch (err) {
    await sim.close();
    await pty?.close();
    if (err instanceof CliError) throw err;
    throw new CliError(`simulate novastar: ${(err as Error).message}`);
  }
  const signal = await new Promise<string>((resolve) => {
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
  });
  await sim.close();
  await pty?.close();
  process.stderr.write(`novastar simulator stopped (${signal}); served ${sim.device.counters.requests} requests\n`);
}

export function registerControllerCommands(program: Command): void {
  const controller = program.command("controller").description("talk to the LED controller on controller.port (through the running agent; directly when none runs)");

  controller
    .command("probe")
    .description("the controller's model (and firmware, where the driver can read it)")
    .action(
      action(async (_opts: unknown, cmd: Command) => {
        const id = await viaAgent<ControllerIdentity>(cmd, "controller.probe", {}, (c) => c.probe());
        process.stdout.write(`model       ${id.model}${id.modelId ? ` (id ${id.modelId})` : ""}\nfirmware    ${id.firmware ?? "unknown (not readable with the documented registers)"}\n`);
      }),
    );

  controller
    .command("status")
    .description("online, brightness, blackout, test pattern, temperature and faults")
    .option("--json", "one JSON object")
    .action(
      action(async (opts: { json?: boolean }, cmd: Command) => {
        const { status, port, driver } = await viaAgent<ControllerReading>(cmd, "controller.status", {}, async (c) => ({ driver: c.driver, port: c.port, status: await c.status() }));
        if (!status.online) throw new CliError(status.detail || `controller ${port} is offline`);
        process.stdout.write(opts.json ? `${JSON.stringify(status)}\n` : `${statusLines(port, driver, status)}\n`);
      }),
    );

  controller
    .command("brightness <percent>")
    .description("set the global brightness, 0–100 %")
    .action(
      action(async (raw: string, _opts: unknown, cmd: Command) => {
        const percent = intOption("brightness", raw, 0, 100);
        await viaAgent(cmd, "brightness.set", { percent }, (c) => c.setBrightness(percent));
        process.stdout.write(`brightness set to ${percent} %\n`);
      }),
    );

  controller
    .command("blackout <state>")
    .description("on: black the screen out; off: back to video")
    .action(
      action(async (raw: string, _opts: unknown, cmd: Command) => {
        const on = parseOnOff(raw);
        await viaAgent(cmd, "screen.blackout", { on }, (c) => c.setBlackout(on));
        process.stdout.write(on ? "blackout on: screen is black\n" : "blackout off: screen shows video\n");
      }),
    );

  controller
    .command("pattern <name>")
    .description(`the controller's own test pattern: ${PATTERN_NAMES.join(" | ")}`)
    .action(
      action(async (raw: string, _opts: unknown, cmd: Command) => {
        if (!isPatternName(raw)) throw new CliError(`pattern: ${JSON.stringify(raw)} is not one of ${PATTERN_NAMES.join(", ")}`, 2);
        await viaAgent(cmd, "controller.pattern", { name: raw }, (c) => c.setPattern(raw));
        process.stdout.write(raw === "off" ? "test pattern off: screen shows video\n" : `test pattern ${raw} on\n`);
      }),
    );

  const simulateCmd = program.command("simulate").description("device simulators for demos and tests");
  simulateCmd
    .command("novastar")
    .description("a NovaStar MCTRL/MSD sending card on TCP and/or a virtual serial port; runs until SIGINT/SIGTERM; prints the controller.port URL(s) on stdout")
    .option("--tcp <host:port>", "listen on TCP, e.g. 127.0.0.1:5200 (port 0 picks a free one)")
    .option("--pty", "create a virtual serial cable with socat and serve on one end")
    .option("--model <hex>", "model id wire bytes", "01 11")
    .option("--ports <n>", "sending-card outputs with receiving cards", "2")
    .option("--cards <n>", "receiving cards per output", "4")
    .option("--baud <n>", "serial baud rate for --pty", "115200")
    .action(action((opts: SimulateOptions) => simulate(opts)));
}
