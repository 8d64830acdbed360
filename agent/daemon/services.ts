// The daemon's parts as a list of services: started in order, stopped in reverse. A failing
// optional service (the controller link, the brightness schedule) is logged and left out, and the
// screen plays on; a failing essential one (the ledger, the playout, the control socket) ends the
// start, and what had started is stopped again, in reverse.
import type { Logger } from "../log.js";

export interface Service {
  name: string;
  /** Optional services may fail to start without stopping the daemon. Default: essential. */
  optional?: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** An essential service failed to start; `cause` is its error, `stopped` what was stopped again. */
export class ServiceStartError extends Error {
  constructor(
    readonly service: string,
    override readonly cause: unknown,
    readonly stopReport: StopReport,
  ) {
    super(`${service} did not start: ${errorLine(cause)}`);
    this.name = "ServiceStartError";
  }
}

export interface StartReport {
  started: string[];
  /** Optional services that failed, with why. */
  failed: Array<{ name: string; error: string }>;
  /** A stop came during the start: the services after the one starting then were never started. */
  cancelled: boolean;
}

export interface StopReport {
  stopped: string[];
  /** Services whose stop threw (they count as stopped: nothing more is tried). */
  failed: Array<{ name: string; error: string }>;
  /** Services left running when the deadline came: the one stopping then and those after it. */
  abandoned: string[];
}

export interface StopOptions {
  /** Whatever has not stopped this long after the stop began is abandoned. */
  deadlineMs: number;
}

export interface ServiceStackDeps {
  services: readonly Service[];
  log: Logger;
  /** Told which essential service failed, before the started ones are stopped (the ledger records why). */
  onEssentialFailure?: (service: string, err: unknown) => void;
}

export function errorLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0];
}

const TIMED_OUT = Symbol("timed out");

/** Resolves with `work`'s outcome, or TIMED_OUT at `deadline` (performance.now() ms). */
async function before<T>(work: Promise<T>, deadline: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), Math.max(0, deadline - performance.now()));
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** How the start loop ended: every service tried, cut short by a stop, or an essential one failed. */
interface Launch {
  report: StartReport;
  failure: { service: string; err: unknown } | null;
}

export class ServiceStack {
  /** Started services, in start order. */
  private readonly running: Service[] = [];
  /** The service whose start is in progress, if any. */
  private startingNow: string | null = null;
  private launching: Promise<Launch> | null = null;
  /** A stop was asked for: no further service starts. */
  private cancelled = false;
  private stopping: Promise<StopReport> | null = null;

  constructor(private readonly deps: ServiceStackDeps) {}

  /** Names of the services running now, in start order. */
  get runningNames(): string[] {
    return this.running.map((s) => s.name);
  }

  /**
   * Starts every service in order. Throws ServiceStartError when an essential one fails, after
   * stopping (in reverse, within `stopOnFailure.deadlineMs`) the ones that had started. A stop()
   * during the start lets the service starting then finish, starts no more, and stops them all.
   */
  async start(stopOnFailure: StopOptions): Promise<StartReport> {
    this.launching = this.launch();
    const { report, failure } = await this.launching;
    if (!failure) return report;
    this.deps.log.fatal({ service: failure.service, err: failure.err }, `${failure.service} did not start; stopping what had started`);
    this.deps.onEssentialFailure?.(failure.service, failure.err);
    throw new ServiceStartError(failure.service, failure.err, await this.stop(stopOnFailure));
  }

  /** Stops the running services in reverse order; a second call shares the first one's stop. */
  stop(options: StopOptions): Promise<StopReport> {
    this.cancelled = true;
    this.stopping ??= this.stopAll(options).finally(() => {
      this.stopping = null;
    });
    return this.stopping;
  }

  /** The start loop. Never throws, and never stops anything itself (a stop waits for it). */
  private async launch(): Promise<Launch> {
    const report: StartReport = { started: [], failed: [], cancelled: false };
    for (const service of this.deps.services) {
      if (this.cancelled) {
        report.cancelled = true;
        break;
      }
      this.startingNow = service.name;
      try {
        // A start that throws before returning its promise fails like any other.
        await Promise.resolve().then(() => service.start());
      } catch (err) {
        if (!service.optional) return { report, failure: { service: service.name, err } };
        this.deps.log.error({ service: service.name, err }, `${service.name} did not start; the agent goes on without it`);
        report.failed.push({ name: service.name, error: errorLine(err) });
        continue;
      } finally {
        this.startingNow = null;
      }
      this.running.push(service);
      report.started.push(service.name);
      this.deps.log.debug({ service: service.name }, "service started");
    }
    return { report, failure: null };
  }

  private async stopAll(options: StopOptions): Promise<StopReport> {
    const deadline = performance.now() + options.deadlineMs;
    const report: StopReport = { stopped: [], failed: [], abandoned: [] };
    if (this.launching && (await before(this.launching, deadline)) === TIMED_OUT) {
      report.abandoned = [...(this.startingNow ? [this.startingNow] : []), ...this.running.map((s) => s.name).reverse()];
      this.deps.log.error({ abandoned: report.abandoned, deadlineMs: options.deadlineMs }, "the start did not end in time to stop cleanly; abandoning the services");
      return report;
    }
    while (this.running.length > 0) {
      const service = this.running[this.running.length - 1];
      const outcome = await before(
        // A stop that throws before returning its promise is a failed stop like any other.
        Promise.resolve()
          .then(() => service.stop())
          .then(
            () => null,
            (err: unknown) => errorLine(err),
          ),
        deadline,
      );
      if (outcome === TIMED_OUT) {
        report.abandoned = this.running.map((s) => s.name).reverse();
        this.deps.log.error({ abandoned: report.abandoned, deadlineMs: options.deadlineMs }, `${service.name} did not stop in time; abandoning it and the services before it`);
        return report;
      }
      this.running.pop();
      if (outcome === null) report.stopped.push(service.name);
      else {
        this.deps.log.error({ service: service.name, error: outcome }, `${service.name} failed to stop cleanly`);
        report.failed.push({ name: service.name, error: outcome });
      }
    }
    return report;
  }
}
