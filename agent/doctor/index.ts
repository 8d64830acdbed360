// `ledagent doctor` below the command line: finds whose view to take, loads the config, runs every
// check side by side within its own time limit, and hands back the lines in a fixed order with the
// running agent's status. The command (agent/cli/doctor.ts) only prints.
import { callDaemon, type AgentStatus } from "../commands/index.js";
import { configPath, type Config } from "../config.js";
import { agentPaths } from "../paths.js";
import { checkBroker, BROKER_TIMEOUT_MS } from "./broker.js";
import { checkConfig, configForPaths } from "./config-check.js";
import { checkController } from "./controller.js";
import { daemonResult, probeDaemon, type CallAgent, type DaemonState } from "./daemon.js";
import { checkClock, checkDisk, checkWatchdogModule } from "./host.js";
import { becomeUser, currentIdentity, readAccounts, resolveAgentUser, systemdUnit, type AgentUser, type Identity, type UnitFacts } from "./identity.js";
import { checkDeviceKey, checkOpsKey } from "./keys.js";
import { checkLedger } from "./ledger.js";
import { checkDisplay, checkMediaTool, checkMpv } from "./media.js";
import { checkDataDir, checkRunDir, checkSerialDevice, checkVideoAccess } from "./permissions.js";
import { runChecks, runProgram, type Check } from "./run.js";
import { firstLine, ok, warn, type CheckResult, type RunProgram } from "./types.js";

export type { CheckResult, Level } from "./types.js";

export interface DoctorOptions {
  /** The global --config option. */
  configFile?: string;
  env?: NodeJS.ProcessEnv;
  /** Run as root, take the agent's user's identity first (the command does; tests do not). */
  becomeAgent?: boolean;
  run?: RunProgram;
  call?: CallAgent;
}

export interface DoctorReport {
  /** False when any check failed: the command exits 1. */
  ok: boolean;
  checks: CheckResult[];
  /** The running agent's `status`, or null when none answered. */
  daemon: AgentStatus | null;
  /** Checks not run because they need a usable config. */
  skipped: string[];
  /** The config's time zone (UTC without one), for the times people read. */
  timezone: string;
}

/** The checks that need the config, by name, for the report when it cannot be loaded. */
const NEED_CONFIG = ["device key", "ops key", "ledger", "data dir", "run dir", "serial port", "display", "video", "controller", "broker", "disk", "daemon"];

interface Who {
  agent: AgentUser;
  me: Identity;
  result: CheckResult;
}

/** Whose view the checks take, taking the agent's identity when run as root and asked to. */
function whose(opts: DoctorOptions, env: NodeJS.ProcessEnv, configFile: string, unit: UnitFacts | null): Who {
  const accounts = readAccounts();
  const paths = configForPaths(configFile, env);
  const me = currentIdentity();
  const agent = resolveAgentUser({ unit, socketPath: paths ? agentPaths(paths).controlSocket : null, dataDir: paths?.dataDir ?? null, me, accounts });
  if (agent.uid === me.uid) return { agent, me, result: ok("user", `checking as ${agent.name} (uid ${agent.uid}), the agent's user (${agent.source})`) };
  if (me.uid === 0 && opts.becomeAgent) {
    try {
      becomeUser(agent);
    } catch (err) {
      const why = `checking as root: the agent's user ${agent.name} (${agent.source}) could not be taken on (${firstLine(err)}); files are judged as root may use them`;
      return { agent, me, result: warn("user", why, `sudo -u ${agent.name} ledagent doctor`) };
    }
    const detail = `checking as ${agent.name} (uid ${agent.uid}, groups ${agent.groups.join(",")}), the agent's user (${agent.source}), not as root: root's view would hide what the agent meets`;
    return { agent, me: { ...agent }, result: ok("user", detail) };
  }
  return {
    agent,
    me,
    result: warn("user", `checking as ${me.name}, but the agent runs as ${agent.name} (${agent.source}): files are judged as ${me.name} may use them`, "sudo ledagent doctor (it then checks as the agent's user)"),
  };
}

interface Context {
  config: Config;
  who: Who;
  env: NodeJS.ProcessEnv;
  call: CallAgent;
  daemon: Promise<DaemonState>;
  unit: UnitFacts | null;
}

/** A check that may not apply here (null: no line). Run now, to know; a throw is its fail line all the same. */
function ifRelevant(name: string, check: () => CheckResult | null): Check[] {
  let result: CheckResult | null;
  try {
    result = check();
  } catch (err) {
    return [{ name, run: () => Promise.reject(err) }];
  }
  return result ? [{ name, run: () => result }] : [];
}

/** Every check, in the order the lines are printed; those needing the config only when there is one. */
function allChecks(env: NodeJS.ProcessEnv, run: RunProgram, c: Context | null): Check[] {
  const perms = c && { agent: c.who.agent, me: c.who.me, accounts: readAccounts() };
  const withConfig = (f: (c: Context, p: NonNullable<typeof perms>) => Check[]): Check[] => (c && perms ? f(c, perms) : []);
  return [
    ...withConfig((c) => [
      { name: "device key", run: () => checkDeviceKey(c.config) },
      { name: "ledger", run: () => checkLedger(c.config) },
    ]),
    ...withConfig((c, p) => [{ name: "data dir", run: () => checkDataDir(c.config, p) }]),
    ...withConfig((c) => [{ name: "ops key", run: () => checkOpsKey(c.config) }]),
    { name: "ffmpeg", run: () => checkMediaTool("ffmpeg", { env, run }) },
    { name: "ffprobe", run: () => checkMediaTool("ffprobe", { env, run }) },
    { name: "mpv", run: () => checkMpv({ env, run }) },
    ...withConfig((c, p) => [{ name: "display", run: () => checkDisplay({ headless: c.config.player.headless, env }) }, ...ifRelevant("video", () => checkVideoAccess(c.config, p))]),
    ...withConfig((c, p) => [
      // The agent asked first (up to 4 s), then the controller through it (up to 4 s).
      { name: "controller", timeoutMs: 9000, run: () => checkController({ config: c.config, daemon: c.daemon, call: c.call }) },
      ...ifRelevant("serial port", () => checkSerialDevice(c.config, p)),
      { name: "broker", timeoutMs: BROKER_TIMEOUT_MS * 2 + 1000, run: () => checkBroker({ config: c.config }) },
    ]),
    // Up to three time services asked in turn, each within 2 s.
    { name: "clock", timeoutMs: 7000, run: () => checkClock() },
    ...withConfig((c, p) => [
      { name: "disk", run: () => checkDisk({ dataDir: c.config.dataDir }) },
      { name: "run dir", run: () => checkRunDir(c.config, p) },
    ]),
    { name: "watchdog", run: () => checkWatchdogModule() },
    ...withConfig((c) => [{ name: "daemon", run: async () => daemonResult(await c.daemon, c.config, c.unit) }]),
  ];
}

export async function runDoctor(opts: DoctorOptions = {}): Promise<DoctorReport> {
  const run = opts.run ?? runProgram;
  const call = opts.call ?? callDaemon;
  const unit = await systemdUnit(run);
  // The agent under systemd sees its unit's Environment= (LEDAGENT_* overrides, FFMPEG_PATH,
  // DISPLAY …), not the technician's shell: those win.
  const env = { ...(opts.env ?? process.env), ...unit?.environment };
  const path = configPath(opts.configFile, env);
  const who = whose(opts, env, path, unit);
  // Loaded in the agent's identity when the doctor took it: its trust checks are the agent's.
  const { result: configResult, config } = checkConfig({ explicit: opts.configFile, env });
  let context: Context | null = null;
  if (config) {
    const daemon = probeDaemon(config, call);
    // Awaited by the daemon and controller checks; a rejection there becomes their fail line.
    daemon.catch(() => undefined);
    context = { config, who, env, call, daemon, unit };
  }
  const checks = [configResult, who.result, ...(await runChecks(allChecks(env, run, context)))];
  const state = context ? await context.daemon.catch(() => null) : null;
  return {
    ok: checks.every((c) => c.level !== "fail"),
    checks,
    daemon: state?.kind === "running" ? state.status : null,
    skipped: config ? [] : NEED_CONFIG,
    timezone: config?.timezone ?? "UTC",
  };
}
