// The daemon as a process: signals, agent.restart, and exit codes.
//   SIGTERM / SIGINT  a clean stop within 5 s, exit 0 (also when something had to be abandoned)
//   a second signal   during the stop: exit at once, 128 + the signal's number (143, 130)
//   agent.restart     a clean stop, exit 75 (EX_TEMPFAIL): systemd's Restart= starts it again
//   a failed start    exit 1, from the caller (`ledagent run`), with the reason on one line
import type { AgentLifecycle } from "../commands/types.js";
import type { Logger } from "../log.js";
import type { StopReason } from "./ledger-service.js";
import type { StartReport, StopReport } from "./services.js";

/** Non-zero, so that `Restart=on-failure` restarts too; the unit's `Restart=always` restarts on any exit. */
export const RESTART_EXIT_CODE = 75;

const SIGNAL_NUMBERS = { SIGINT: 2, SIGTERM: 15 } as const;
export type StopSignal = keyof typeof SIGNAL_NUMBERS;

/** What the runner needs of the process (the real one, or a test's stand-in). */
export interface DaemonProcess {
  onSignal(signal: StopSignal, handler: () => void): void;
  exit(code: number): void;
}

export interface RunnableDaemon {
  start(): Promise<StartReport>;
  stop(reason: StopReason, detail?: string): Promise<StopReport>;
}

export interface RunDaemonDeps {
  /** Builds the daemon, handing it the lifecycle that agent.restart uses. */
  daemon: (lifecycle: AgentLifecycle) => RunnableDaemon;
  process: DaemonProcess;
  log: Logger;
}

/**
 * Starts the daemon and stops it on a signal or agent.restart, then exits. Resolves once it has
 * started (the process then runs on its own); rejects with the reason when the start failed, the
 * started services already stopped again.
 */
export async function runDaemon(deps: RunDaemonDeps): Promise<void> {
  const { log } = deps;
  let stopping = false;
  let exited = false;
  const exit = (code: number): void => {
    if (exited) return;
    exited = true;
    deps.process.exit(code);
  };
  const stop = (reason: StopReason, detail: string | undefined, code: number): void => {
    stopping = true;
    log.info({ reason, detail }, "stopping");
    void daemon.stop(reason, detail).then(
      (report) => {
        log.info({ ...report, exitCode: code }, report.abandoned.length > 0 ? "stopped, some services abandoned" : "stopped");
        exit(code);
      },
      (err: unknown) => {
        log.error({ err }, "the stop failed");
        exit(code);
      },
    );
  };
  const daemon = deps.daemon({
    restart(reason) {
      if (stopping) return;
      stopping = true;
      // After this turn, so that the command's reply is written before the control socket closes.
      setImmediate(() => stop("restart", reason, RESTART_EXIT_CODE));
    },
  });
  for (const signal of Object.keys(SIGNAL_NUMBERS) as StopSignal[]) {
    deps.process.onSignal(signal, () => {
      if (!stopping) return stop(signal, undefined, 0);
      log.warn({ signal }, "second signal while stopping: exiting now");
      exit(128 + SIGNAL_NUMBERS[signal]);
    });
  }
  const report = await daemon.start();
  if (report.cancelled) return;
  log.info({ started: report.started, failed: report.failed }, report.failed.length > 0 ? "agent running without some optional services" : "agent running");
}
