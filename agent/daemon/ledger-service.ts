// The daemon's ledger: checked, opened as the one long-lived writer, and bracketed by
// agent.started and agent.stopped, so that a run that ended without agent.stopped (a crash, a
// kill -9, a power cut) is told apart by the next one's agent.started.
import type { Config } from "../config.js";
import type { Logger } from "../log.js";
import { checkLedgerIntegrity, openLedger, type OpenedLedger } from "../proofs/open.js";
import type { Ledger } from "../proofs/index.js";
import type { DaemonParts } from "./parts.js";
import type { Service } from "./services.js";

/** Why the daemon stopped, as agent.stopped records it. */
export type StopReason = "SIGTERM" | "SIGINT" | "restart" | "start-failed";

/** How the previous run ended, as far as the ledger tells: unclean when its agent.started has no agent.stopped after it. */
export function previousRunUnclean(lastStarted: { seq: number } | null, lastStopped: { seq: number } | null): boolean {
  return lastStarted !== null && (lastStopped === null || lastStopped.seq < lastStarted.seq);
}

export interface LedgerServiceDeps {
  config: Config;
  /** Where the open ledger is put for the other parts. */
  parts: DaemonParts;
  log: Logger;
  version: string;
  pid: number;
}

export class LedgerService implements Service {
  readonly name = "ledger";
  private opened: OpenedLedger | null = null;
  private stopReason: { reason: StopReason; detail?: string } = { reason: "start-failed" };

  constructor(private readonly deps: LedgerServiceDeps) {}

  /** What agent.stopped will say; the daemon sets it before it stops the services. */
  stoppingBecause(reason: StopReason, detail?: string): void {
    this.stopReason = { reason, ...(detail === undefined ? {} : { detail }) };
  }

  async start(): Promise<void> {
    // SQLite's full check reads every page: once per start, before anything is appended.
    checkLedgerIntegrity(this.deps.config);
    // The long-lived writer holds the ledger's writer lock while it runs; the lock of an agent
    // that died (kill -9, a crash) is taken over at once, one a live process holds is refused.
    this.opened = openLedger(this.deps.config, { longLived: true, log: this.deps.log.child({ part: "proofs" }) });
    try {
      this.recordStarted(this.opened.ledger);
    } catch (err) {
      this.opened.close();
      this.opened = null;
      throw err;
    }
    this.deps.parts.ledger = this.opened.ledger;
  }

  async stop(): Promise<void> {
    this.close();
  }

  /**
   * Records agent.stopped and closes the ledger; once only. Also called directly when the stop
   * deadline passed with services still running (`abandoned`), so the ledger is closed whatever
   * they are doing.
   */
  close(abandoned: readonly string[] = []): void {
    const opened = this.opened;
    if (!opened) return;
    this.opened = null;
    this.deps.parts.ledger = null;
    try {
      opened.ledger.event("agent.stopped", { ...this.stopReason, ...(abandoned.length > 0 ? { abandoned: [...abandoned] } : {}) });
    } catch (err) {
      this.deps.log.error({ err }, "agent.stopped could not be recorded");
    }
    try {
      opened.close();
    } catch (err) {
      this.deps.log.error({ err }, "the ledger did not close cleanly");
    }
  }

  private recordStarted(ledger: Ledger): void {
    const unclean = previousRunUnclean(ledger.lastEvent("agent.started"), ledger.lastEvent("agent.stopped"));
    const lastSeq = ledger.head()?.seq ?? null;
    const entry = ledger.event("agent.started", { version: this.deps.version, pid: this.deps.pid, ...(unclean ? { unclean: true, lastSeq } : {}) });
    this.deps.log.info({ seq: entry.seq, unclean, lastSeq }, unclean ? "agent started; the previous run did not stop cleanly" : "agent started");
  }
}
