// Polls the controller's status, keeps the ScreenState that playback stamps onto each proof, and
// turns fault changes into controller.fault / controller.recovered events. Never throws.
import type { Logger } from "../log.js";
import type { Clock, TimerHandle, Timers } from "./timers.js";
import { screenStateOf, UNVERIFIED_SCREEN, type Controller, type ControllerStatus, type FaultCode, type ScreenState } from "./types.js";

export type ControllerEvent =
  | { type: "controller.fault"; at: number; faults: FaultCode[]; newFaults: FaultCode[]; detail: string }
  | { type: "controller.recovered"; at: number; cleared: FaultCode[]; faults: FaultCode[] };

export interface PollerDeps {
  controller: Controller;
  log: Logger;
  clock: Clock;
  timers: Timers;
  intervalMs: number;
  /** A state older than this is no proof of anything (default: 2 intervals + 5 s). */
  staleAfterMs?: number;
  onEvent: (event: ControllerEvent) => void;
}

export class StatusPoller {
  private latest: ControllerStatus | null = null;
  /**
   * When the read behind `latest` arrived, on the monotonic clock: its age must survive a
   * wall-clock step. For a status patched after a write, that of the read it was built on.
   */
  private latestMono = 0;
  /** The last confirmed status to arrive and when, to age the unconfirmed ones built on it. */
  private lastRead: { readAt: number; mono: number } | null = null;
  private faults = new Set<FaultCode>();
  private timer: TimerHandle | null = null;
  private running = false;
  private inFlight: Promise<void> | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly deps: PollerDeps) {}

  /** Polls at once, then every interval (never two polls at the same time). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.unsubscribe = this.deps.controller.onState((status) => this.keep(status));
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) this.deps.timers.clearTimeout(this.timer);
    this.timer = null;
    this.unsubscribe?.();
    await this.inFlight;
  }

  /** One poll now; resolves when it and its events are done. */
  async pollOnce(): Promise<ControllerStatus | null> {
    let status: ControllerStatus | null = null;
    try {
      status = await this.deps.controller.status();
      this.keep(status);
      this.compare(status);
    } catch (err) {
      // status() does not throw by contract; a driver bug must still not stop the poller.
      this.deps.log.error({ err }, "controller status read threw");
    }
    return status;
  }

  private keep(status: ControllerStatus): void {
    const mono = this.deps.clock.mono();
    this.latest = status;
    if (status.confirmed) {
      this.lastRead = { readAt: status.readAt, mono };
      this.latestMono = mono;
    } else {
      // Built on a read this poller did not see (or on none): as old as can be.
      this.latestMono = this.lastRead?.readAt === status.readAt ? this.lastRead.mono : -Infinity;
    }
  }

  /** The last known status, or null before the first read. */
  get status(): ControllerStatus | null {
    return this.latest;
  }

  get activeFaults(): FaultCode[] {
    return [...this.faults].sort();
  }

  /**
   * How long ago (monotonic ms) the read behind `status` arrived: for a status patched after a
   * write, the age of the read it was built on. Infinity when it rests on a read this poller never
   * saw; null before any status.
   */
  readAgeMs(): number | null {
    return this.latest ? this.deps.clock.mono() - this.latestMono : null;
  }

  /** What the screen is showing now, as far as the controller can tell: the proof stamp. */
  screenState(): ScreenState {
    if (!this.latest) return { ...UNVERIFIED_SCREEN };
    const stamp = screenStateOf(this.latest);
    const age = this.readAgeMs() ?? Infinity;
    const staleAfter = this.deps.staleAfterMs ?? 2 * this.deps.intervalMs + 5000;
    if (age > staleAfter) return { ...stamp, verified: false };
    return stamp;
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer = this.deps.timers.setTimeout(() => {
      this.timer = null;
      this.inFlight = this.pollOnce().then(() => {
        this.inFlight = null;
        this.schedule(this.deps.intervalMs);
      });
    }, ms);
  }

  private compare(status: ControllerStatus): void {
    const now = new Set(status.faults);
    const added = [...now].filter((f) => !this.faults.has(f)).sort();
    const cleared = [...this.faults].filter((f) => !now.has(f)).sort();
    this.faults = now;
    const at = this.deps.clock.now();
    if (added.length > 0) {
      this.deps.log.warn({ faults: added, detail: status.detail }, "controller fault");
      this.emit({ type: "controller.fault", at, faults: [...now].sort(), newFaults: added, detail: status.detail });
    }
    if (cleared.length > 0) {
      this.deps.log.info({ cleared }, "controller recovered");
      this.emit({ type: "controller.recovered", at, cleared, faults: [...now].sort() });
    }
  }

  private emit(event: ControllerEvent): void {
    try {
      this.deps.onEvent(event);
    } catch (err) {
      this.deps.log.error({ err }, "controller event listener threw");
    }
  }
}
