// The composition root: `ledagent run`. It builds the agent's parts from the config and runs them
// as a list of services, started in order and stopped in reverse (agent/daemon/services.ts):
//
//   run directory → ledger → keep-alive and checkpoints → controller → controller status poller →
//   brightness schedule → creatives → schedule → playout → commands → control socket → MQTT link →
//   systemd notification (READY, the watchdog)
//
// It starts from the schedule stored on disk and needs no network. docs/daemon.md tells the whole
// story: which services are optional, signals, exit codes, and what the ledger records.
import type { AgentLifecycle } from "./commands/index.js";
import type { Config } from "./config.js";
import { commandDeps, commandServices, keepAliveService, runDirectoryService } from "./daemon/control-services.js";
import { deviceServices } from "./daemon/device-services.js";
import { DeviceEventRecorder } from "./daemon/events.js";
import { LedgerService, type StopReason } from "./daemon/ledger-service.js";
import { linkService } from "./daemon/link-service.js";
import { noParts, type DaemonParts } from "./daemon/parts.js";
import { playbackServices } from "./daemon/playback-services.js";
import { takeNotifyTarget } from "./daemon/systemd-notify.js";
import { systemdService } from "./daemon/systemd-service.js";
import { errorLine, ServiceStack, type Service, type StartReport, type StopReport } from "./daemon/services.js";
import type { Logger } from "./log.js";
import { VERSION } from "./version.js";

export { RESTART_EXIT_CODE, runDaemon, type DaemonProcess } from "./daemon/lifecycle.js";
export type { StopReason } from "./daemon/ledger-service.js";
export { ServiceStartError, type StartReport, type StopReport } from "./daemon/services.js";

/**
 * A stop has 5 s in all: the services get 4.5 s of it, whatever has not stopped by then is
 * abandoned, and the rest is for closing the ledger (synchronous, milliseconds).
 */
export const STOP_DEADLINE_MS = 5000;
export const SERVICES_STOP_DEADLINE_MS = 4500;

export interface DaemonDeps {
  config: Config;
  log: Logger;
  /** Where MPV_PATH, FFMPEG_PATH and FFPROBE_PATH are read (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** What agent.restart calls: the runner stops the daemon and exits for systemd to restart it. */
  lifecycle: AgentLifecycle;
}

export class Daemon {
  readonly parts: DaemonParts = noParts();
  private readonly ledgerService: LedgerService;
  private readonly stack: ServiceStack;
  private readonly services: readonly Service[];
  private stopReasonGiven = false;

  constructor(deps: DaemonDeps) {
    const { config, log } = deps;
    const parts = this.parts;
    const recorder = new DeviceEventRecorder({ ledger: () => parts.ledger, log: log.child({ part: "events" }) });
    const control = { config, log, parts, lifecycle: deps.lifecycle };
    const env = deps.env ?? process.env;
    // Before any child process starts, so that none inherits systemd's socket.
    const notifyTarget = takeNotifyTarget(env, process.pid);
    this.ledgerService = new LedgerService({ config, parts, log, version: VERSION, pid: process.pid });
    this.services = [
      runDirectoryService(control),
      this.ledgerService,
      keepAliveService(control),
      ...deviceServices({ config, log, parts, recorder }),
      ...playbackServices({ config, log, parts, env }),
      ...commandServices(control),
      linkService({ config, log, parts, commandDeps: commandDeps(control) }),
      systemdService({ parts, log, target: notifyTarget }),
    ];
    this.stack = new ServiceStack({
      services: this.services,
      log,
      onEssentialFailure: (service, err) => this.stoppingBecause("start-failed", `${service}: ${errorLine(err)}`),
    });
  }

  /** The services in start order. */
  get serviceNames(): string[] {
    return this.services.map((s) => s.name);
  }

  /** Starts every service; throws ServiceStartError (having stopped the started ones) when an essential one fails. */
  start(): Promise<StartReport> {
    return this.stack.start({ deadlineMs: SERVICES_STOP_DEADLINE_MS });
  }

  /**
   * Stops the services in reverse; agent.stopped records `reason`. Whatever has not stopped in
   * time is abandoned, and the ledger is closed all the same.
   */
  async stop(reason: StopReason, detail?: string): Promise<StopReport> {
    this.stoppingBecause(reason, detail);
    const report = await this.stack.stop({ deadlineMs: SERVICES_STOP_DEADLINE_MS });
    // The ledger itself is not abandoned: it is closed here, whatever the others are doing.
    if (report.abandoned.length > 0) this.ledgerService.close(report.abandoned.filter((name) => name !== this.ledgerService.name));
    return report;
  }

  /** The first reason given is the one recorded (a signal during a failing start stays the signal). */
  private stoppingBecause(reason: StopReason, detail?: string): void {
    if (this.stopReasonGiven) return;
    this.stopReasonGiven = true;
    this.ledgerService.stoppingBecause(reason, detail);
  }
}
