// Desired state: the retained `schedule` topic holds the envelope the ops backend wants on this
// screen. Each delivery goes through the same apply as `ledagent schedule load` (origin
// "network": no file: creatives), and `schedule/status` (retained) says how it went:
// `pending-creatives` while the new schedule's creatives are fetched and fitted (the old one plays
// on), then `applied`, or `rejected` with every reason. A broker redelivers the retained envelope
// on every reconnect; an envelope already in force is answered, never applied twice.
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import type { ApplyResult } from "../playback/schedule/index.js";
import { screenTopic, type LinkMessage, type Publish } from "./types.js";

export type ScheduleState = "applied" | "rejected" | "pending-creatives";

/** The retained `schedule/status` payload (spec/mqtt-api.md). */
export interface ScheduleStatus {
  version: number | null;
  state: ScheduleState;
  reasons: string[];
  at: string;
}

/** How an applied schedule came on air (the playout's report); `rejected`: creatives refused meanwhile. */
export interface ScheduleTakeover {
  onAir: boolean;
  rejected: Array<{ creative: string; reason: string; message: string }>;
}

/** An apply's result and, when it put a new schedule in force, when that one is on air. */
export interface LoadOutcome {
  result: ApplyResult;
  takeover: Promise<ScheduleTakeover> | null;
}

export interface ScheduleApplier {
  apply(text: Buffer, source: string, origin: "network"): Promise<LoadOutcome>;
}

export interface ScheduleStateDeps {
  screenId: string;
  schedules: ScheduleApplier;
  publish: Publish;
  log: Logger;
  now?: () => number;
  /** After an apply the agent itself failed at (ledger or store), when to try the same envelope again. */
  retryMs?: number;
}

const RETRY_MS = 60_000;
/** The same rejected bytes delivered again are judged again (and recorded again) after this long. */
const REJUDGE_AFTER_MS = 3_600_000;

/** A creative refused while the schedule was prepared, as a reason line. */
function refusalLine(r: ScheduleTakeover["rejected"][number]): string {
  return `creative ${r.creative} refused (${r.reason}): ${r.message}`;
}

export class ScheduleDesiredState {
  /** The status to publish (again after a reconnect, if it could not be published). */
  private status: ScheduleStatus | null = null;
  private published = false;
  /** The version whose takeover is awaited; a later delivery supersedes it. */
  private awaited: number | null = null;
  private retry: NodeJS.Timeout | null = null;
  private stopped = false;
  /** The newest delivery: only it is retried, and only its failure is reported. */
  private latest: LinkMessage | null = null;
  /** The bytes last rejected: the broker redelivers them at every reconnect, and the ledger needs them once. */
  private rejected: { digest: string; atMs: number } | null = null;

  constructor(private readonly deps: ScheduleStateDeps) {}

  /** A delivery on the `schedule` topic. Never throws. */
  async onMessage(message: LinkMessage): Promise<void> {
    if (message.payload.length === 0) {
      // Clearing the retained message stops future deliveries; it is not an order to go dark, nor
      // to give up a retry of the last envelope delivered.
      this.deps.log.warn("the retained schedule was cleared on the broker: the schedule in force stays");
      return;
    }
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    this.latest = message;
    const digest = createHash("sha256").update(message.payload).digest("hex");
    const now = (this.deps.now ?? Date.now)();
    if (this.rejected?.digest === digest && now - this.rejected.atMs < REJUDGE_AFTER_MS) {
      // Judged an hour ago at most (issuedAt ahead of the clock may pass by now; retried after).
      await this.onConnected();
      return;
    }
    let outcome: LoadOutcome;
    try {
      outcome = await this.deps.schedules.apply(message.payload, `mqtt ${message.topic}`, "network");
    } catch (err) {
      this.failedToApply(message, err);
      return;
    }
    this.rejected = outcome.result.state === "rejected" ? { digest, atMs: now } : null;
    await this.report(outcome);
  }

  /** The link (re)connected: a status that could not be published goes out now. */
  async onConnected(): Promise<void> {
    if (this.status && !this.published) await this.publish(this.status);
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
  }

  private async report({ result, takeover }: LoadOutcome): Promise<void> {
    if (result.state === "rejected") {
      this.awaited = null;
      await this.set(result.version, "rejected", rejectedReasons(result));
      return;
    }
    if (result.state === "unchanged") {
      // A redelivery of what is in force, or of what is still being prepared: say which.
      if (this.awaited === result.version) return;
      const known = this.status?.version === result.version && this.status.state === "applied" ? this.status.reasons : [];
      await this.set(result.version, "applied", known);
      return;
    }
    if (!takeover) {
      await this.set(result.version, "applied", []);
      return;
    }
    this.awaited = result.version;
    await this.set(result.version, "pending-creatives", []);
    const done = await takeover;
    if (this.awaited !== result.version || this.stopped) return;
    this.awaited = null;
    // Not on air while no newer delivery came here: a schedule loaded on site replaced it, or the
    // playout is not running. It is applied all the same; the status must not hang on pending.
    const notOnAir = done.onAir ? [] : ["applied, but not put on air: a newer schedule (loaded on site?) replaced it first, or the playout is not running (see the agent's log)"];
    await this.set(result.version, "applied", [...notOnAir, ...done.rejected.map(refusalLine)]);
  }

  private failedToApply(message: LinkMessage, err: unknown): void {
    if (message !== this.latest) return; // a newer delivery came meanwhile, and speaks for itself
    const why = err instanceof Error ? err.message : String(err);
    this.deps.log.error({ err }, "a delivered schedule could not be applied: the agent failed, not the schedule; trying again");
    void this.set(null, "rejected", [`not applied: the agent could not record or store it (${why}); it tries again in ${Math.round((this.deps.retryMs ?? RETRY_MS) / 1000)} s`]);
    if (this.stopped) return;
    this.retry = setTimeout(() => void this.onMessage(message), this.deps.retryMs ?? RETRY_MS);
    this.retry.unref();
  }

  private async set(version: number | null, state: ScheduleState, reasons: string[]): Promise<void> {
    const status: ScheduleStatus = { version, state, reasons, at: new Date((this.deps.now ?? Date.now)()).toISOString() };
    this.status = status;
    this.published = false;
    await this.publish(status);
  }

  private async publish(status: ScheduleStatus): Promise<void> {
    try {
      await this.deps.publish(screenTopic(this.deps.screenId, "schedule/status"), JSON.stringify(status), { qos: 1, retain: true });
      if (this.status === status) this.published = true;
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message, state: status.state }, "schedule/status not published now; it goes out when the link is back");
    }
  }
}

function rejectedReasons(result: Extract<ApplyResult, { state: "rejected" }>): string[] {
  return result.moreReasons > 0 ? [...result.reasons, `… and ${result.moreReasons} more`] : result.reasons;
}
