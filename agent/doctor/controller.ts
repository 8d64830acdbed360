// The LED controller answers. A running agent holds its port (two processes on one serial line
// garble each other's frames), so then the agent is asked; otherwise the doctor opens the port
// itself with the configured driver, once, with no retries, and closes it.
import { DaemonCallError } from "../commands/index.js";
import type { Config } from "../config.js";
import { createController, ControllerError, type Controller, type ControllerIdentity, type ControllerStatus, type FaultCode } from "../drivers/index.js";
import { TransportError } from "../drivers/transport/types.js";
import { parsePortUrl } from "../drivers/transport/url.js";
import { silentLogger } from "../log.js";
import type { CallAgent, DaemonState } from "./daemon.js";
import { DAEMON_CALL_TIMEOUT_MS } from "./daemon.js";
import { fail, firstLine, ok, warn, type CheckResult } from "./types.js";

export interface ControllerCheckDeps {
  config: Pick<Config, "controller" | "runDir">;
  daemon: Promise<DaemonState>;
  call: CallAgent;
  /** Default: the driver the agent uses (createController). */
  open?: (config: Config["controller"]) => Controller;
}

const NAME = "controller";

/** What to try when the controller cannot be reached, from the port's kind and the words of the failure. */
export function reachFix(port: string, problem: string): string {
  let serial = false;
  let where = port;
  try {
    const spec = parsePortUrl(port);
    serial = spec.kind === "serial";
    where = spec.kind === "serial" ? spec.path : `${spec.host}:${spec.port}`;
  } catch {
    return "correct controller.port (serial:///dev/ttyUSB0?baud=115200 or tcp://host:5200)";
  }
  if (serial) {
    if (/no such file|ENOENT/i.test(problem)) return `${where} is not there: plug in the USB-serial adapter and check the cable; \`ls -l /dev/serial/by-id/\` names it; set controller.port to it`;
    if (/permission denied|EACCES/i.test(problem)) return "the agent's user needs the dialout group (`usermod -aG dialout ledagent`; the shipped unit adds it)";
    if (/busy|lock/i.test(problem)) return `another program holds ${where} (\`fuser -v ${where}\`): stop it`;
    return `check the serial cable and that the sending card is powered; the baud rate in controller.port must be the card's (MSD/MCTRL300: 115200, MCTRL600/660: 1048576)`;
  }
  if (/ECONNREFUSED|refused/.test(problem)) return `nothing listens on ${where}: is the controller powered, and is ${where} its address (NovaStar listens on 5200)?`;
  if (/did not answer|closed the connection|dropped/.test(problem)) return `${where} takes the connection but does not answer as a NovaStar sending card: check controller.port and controller.unit, and power-cycle the controller`;
  return `check the network cable and the addresses: \`ping ${where.replace(/:\d+$/, "")}\`; the controller and this box must be on the same network`;
}

const FAULT_FIX: Partial<Record<FaultCode, string>> = {
  "card.silent": "a receiving card does not answer: check the cables from the sending card to the cabinets, and the cabinets' power",
  "card.checksum": "frames arrive damaged: check the data cables and their connectors",
  "card.invalid": "the card refuses the status read: check controller.monitoredCards against the screen's wiring",
  "temperature.high": "a cabinet runs hot: check its fans and ventilation, and lower the brightness meanwhile",
};

function faultFix(faults: FaultCode[]): string {
  return faults.map((f) => FAULT_FIX[f]).find((f) => f !== undefined) ?? "see `ledagent controller status`";
}

function describe(status: ControllerStatus, identity: ControllerIdentity | null): string {
  return [
    ...(identity ? [`${identity.model}${identity.modelId ? ` (id ${identity.modelId})` : ""}`] : []),
    `brightness ${status.brightness === null ? "unknown" : `${status.brightness} %`}`,
    `blackout ${status.blackout === null ? "unknown" : status.blackout ? "on" : "off"}`,
    ...(status.temperatureC === null ? [] : [`${status.temperatureC} °C`]),
  ].join(", ");
}

function judge(port: string, status: ControllerStatus, identity: ControllerIdentity | null, how: string): CheckResult {
  if (!status.online) return fail(NAME, `${port} does not answer${status.detail ? `: ${status.detail}` : ""} (${how})`, reachFix(port, status.detail));
  const detail = `${port}: ${describe(status, identity)} (${how})`;
  if (status.faults.length > 0) return warn(NAME, `${detail}; faults ${status.faults.join(", ")}: ${status.detail}`, faultFix(status.faults));
  if (status.blackout === true) return warn(NAME, `${detail}: the screen is blacked out`, "`ledagent controller blackout off` when it should show video (or find the live suspension: `ledagent status`)");
  return ok(NAME, detail);
}

interface Reading {
  driver: string;
  port: string | null;
  identity: ControllerIdentity | null;
  status: ControllerStatus;
}

async function throughAgent(deps: ControllerCheckDeps, port: string): Promise<CheckResult> {
  let answer;
  try {
    answer = await deps.call(deps.config.runDir, "controller.status", {}, { timeoutMs: DAEMON_CALL_TIMEOUT_MS });
  } catch (err) {
    if (!(err instanceof DaemonCallError)) throw err;
    // A controller that does not answer keeps the agent's read waiting on its link's timeouts.
    const why = err.code === "timeout" ? `the agent did not answer within ${DAEMON_CALL_TIMEOUT_MS / 1000} s (its reads may be waiting on the controller)` : err.message;
    return fail(NAME, `${port}: ${why}`, `${reachFix(port, "did not answer")}; \`ledagent controller status\` waits longer`);
  }
  if (answer.daemon === "absent") return fail(NAME, "the agent stopped while the doctor asked it", "run `ledagent doctor` again");
  if (!answer.outcome.ok) return fail(NAME, `${port}: the agent says: ${answer.outcome.error.message}`, reachFix(port, answer.outcome.error.message));
  const reading = answer.outcome.result as Reading;
  return judge(port, reading.status, reading.identity, "asked the running agent, which holds the port");
}

async function direct(deps: ControllerCheckDeps, port: string): Promise<CheckResult> {
  const cfg = deps.config.controller;
  let controller: Controller;
  try {
    // One attempt per request: the doctor reports, the agent is the one that retries forever.
    controller = deps.open ? deps.open(cfg) : createController(cfg, { log: silentLogger(), novastar: { link: { retries: 0, reconnectInitialMs: 100 } } });
  } catch (err) {
    if (err instanceof TransportError) return fail(NAME, `controller.port: ${err.message}`, "correct controller.port (serial:///dev/ttyUSB0?baud=115200 or tcp://host:5200)");
    throw err;
  }
  await controller.start();
  try {
    let identity: ControllerIdentity;
    try {
      identity = await controller.probe();
    } catch (err) {
      if (!(err instanceof ControllerError)) throw err;
      return fail(NAME, `${firstLine(err)} (probed directly: no agent runs)`, reachFix(port, err.message));
    }
    return judge(port, await controller.status(), identity, "probed directly: no agent runs");
  } finally {
    await controller.stop();
  }
}

export async function checkController(deps: ControllerCheckDeps): Promise<CheckResult> {
  const cfg = deps.config.controller;
  if (cfg.driver === "none" || cfg.port === undefined) return ok(NAME, "none configured (controller.driver: none): plays count without a screen-state check");
  const port = cfg.port;
  const daemon = await deps.daemon;
  if (daemon.kind === "running") return throughAgent(deps, port);
  if (daemon.kind === "unreachable") {
    return fail(NAME, `not checked: an agent may hold ${port}, but it could not be asked (${daemon.message})`, "see the daemon line; the port is never opened beside a running agent");
  }
  return direct(deps, port);
}
