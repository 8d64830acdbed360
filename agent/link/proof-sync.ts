// Proof sync (spec/mqtt-api.md "Proof sync"): the outbox's batches go to led/v1/<screen>/proofs
// one at a time, and an entry leaves the outbox only on the collector's proofs/ack (a broker PUBACK
// is not enough). A batch with no ack is sent again, same id, after a timeout that backs off; a
// reconnect sends it again at once. A backlog drains at full speed, one batch per turn of the event
// loop, so playout never waits for it.
import type { Logger } from "pino";
import { z } from "zod";
import { CommandFailure, type ProofSync as ProofSyncCommand, type ProofSyncStatus } from "../commands/types.js";
import type { AckOutcome, InFlightBatch, OutboxBatch, OutboxLimits } from "../proofs/outbox.js";
import { screenTopic, type Publish } from "./types.js";

/** What proof sync needs of the outbox (agent/proofs/outbox.ts). */
export interface SyncOutbox {
  ackedThrough(): number;
  headSeq(): number;
  unsynced(): number;
  inFlight(): InFlightBatch | null;
  nextBatch(limits?: OutboxLimits): OutboxBatch | null;
  ack(batch: string, through: number): AckOutcome;
}

/** A timer: returns its cancel. */
export type SetTimer = (fn: () => void, ms: number) => () => void;

export interface ProofSyncDeps {
  outbox: SyncOutbox;
  publish: Publish;
  screenId: string;
  connected: () => boolean;
  log: Logger;
  /** Batch limits (default: the outbox's, 500 entries and 256 KiB). */
  limits?: OutboxLimits;
  /** Wait this long for an ack before sending the batch again (default 30 s); doubles up to 5 min. */
  ackTimeoutMs?: number;
  setTimer?: SetTimer;
  /** Wall clock (ms), for sentAt. */
  now?: () => number;
}

export const MAX_ACK_TIMEOUT_MS = 5 * 60_000;
/** An ack is a few dozen bytes; anything much larger is not one. */
const MAX_ACK_BYTES = 4096;

const ackSchema = z.object({ batch: z.string().min(1).max(200), through: z.number() });

const realTimer: SetTimer = (fn, ms) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return () => clearTimeout(t);
};

interface Waiter {
  target: number;
  resolve: (r: { through: number }) => void;
  reject: (err: Error) => void;
}

/** Why an ack payload is not one, or the ack. */
function parseAck(payload: Buffer): { batch: string; through: number } | string {
  if (payload.length > MAX_ACK_BYTES) return `it is ${payload.length} bytes, more than an ack's ${MAX_ACK_BYTES}`;
  let json: unknown;
  try {
    json = JSON.parse(payload.toString("utf8"));
  } catch {
    return "it is not JSON";
  }
  const r = ackSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    return `${issue.path.join(".") || "ack"}: ${issue.message}`;
  }
  return r.data;
}

/** proofs.sync re-sends the batch in flight at once when it was sent at least this long ago. */
const RESEND_ON_ASK_AFTER_MS = 1000;

export class ProofSync implements ProofSyncCommand {
  private readonly topic: string;
  private readonly baseTimeoutMs: number;
  private readonly setTimer: SetTimer;
  private readonly now: () => number;
  private timeoutMs: number;
  private cancelTimer: (() => void) | null = null;
  /** A send is scheduled for the next turn of the loop. */
  private scheduled = false;
  /** The batch this process sent and awaits an ack for. */
  private sent: { id: string; sentAt: number } | null = null;
  /** The batch this process last published, and when: what status() reports as in flight. */
  private lastSent: { id: string; sentAt: number } | null = null;
  private waiters: Waiter[] = [];
  private stopped = false;
  private lastBuildError = -Infinity;

  constructor(private readonly deps: ProofSyncDeps) {
    this.topic = screenTopic(deps.screenId, "proofs");
    this.baseTimeoutMs = deps.ackTimeoutMs ?? 30_000;
    this.timeoutMs = this.baseTimeoutMs;
    this.setTimer = deps.setTimer ?? realTimer;
    this.now = deps.now ?? Date.now;
  }

  /** New entries were appended, or the link came up: send the next batch unless one awaits its ack. */
  kick(): void {
    if (this.sent === null) this.schedule();
  }

  onConnected(): void {
    // Whatever was in flight may never have reached the broker: send it again now, same id.
    this.clearTimer();
    this.sent = null;
    this.timeoutMs = this.baseTimeoutMs;
    this.schedule();
  }

  onDisconnected(): void {
    this.clearTimer();
    this.sent = null;
    this.rejectWaiters("the MQTT link went down before the collector acknowledged the entries");
  }

  onAck(payload: Buffer): void {
    const ack = parseAck(payload);
    if (typeof ack === "string") {
      this.deps.log.warn({ reason: ack }, `proofs/ack ignored: ${ack}`);
      return;
    }
    let outcome: AckOutcome;
    try {
      outcome = this.deps.outbox.ack(ack.batch, ack.through);
    } catch (err) {
      this.deps.log.error({ err, batch: ack.batch }, "proofs/ack could not be recorded");
      return;
    }
    if (!outcome.accepted) {
      const level = outcome.reason === "stale" ? "debug" : "warn";
      this.deps.log[level]({ batch: ack.batch, through: ack.through, reason: outcome.reason }, `proofs/ack refused: ${outcome.message}`);
      return;
    }
    this.deps.log.debug({ batch: ack.batch, through: outcome.ackedThrough }, "proofs acked");
    this.settleWaiters(outcome.ackedThrough);
    if (!outcome.cleared) return;
    this.clearTimer();
    this.sent = null;
    this.timeoutMs = this.baseTimeoutMs;
    if (this.deps.outbox.unsynced() > 0) this.schedule();
  }

  /** Resolves once the collector acked every entry that was in the ledger when called. */
  syncNow(): Promise<{ through: number }> {
    if (this.stopped || !this.deps.connected()) {
      return Promise.reject(new CommandFailure("unavailable", "the MQTT link is not connected: proofs cannot be synced now"));
    }
    const target = this.deps.outbox.headSeq();
    const acked = this.deps.outbox.ackedThrough();
    if (acked >= target) return Promise.resolve({ through: acked });
    // Asked for explicitly (a collector may be back after an outage): a batch waiting on a long
    // re-send timeout goes again now, with its id, and the timeout starts afresh.
    if (this.sent !== null && this.now() - this.sent.sentAt >= RESEND_ON_ASK_AFTER_MS) {
      this.clearTimer();
      this.sent = null;
      this.timeoutMs = this.baseTimeoutMs;
    }
    return new Promise((resolve, reject) => {
      this.waiters.push({ target, resolve, reject });
      this.kick();
    });
  }

  /** Where sync stands; a batch recorded in flight by an earlier run shows once this run has sent it again. */
  status(): ProofSyncStatus {
    const o = this.deps.outbox;
    const f = o.inFlight();
    const sent = f && this.lastSent?.id === f.id ? this.lastSent : null;
    return {
      ackedThrough: o.ackedThrough(),
      unsynced: o.unsynced(),
      inFlight: f && sent && { batch: f.id, fromSeq: f.fromSeq, throughSeq: f.throughSeq, sentAt: new Date(sent.sentAt).toISOString() },
    };
  }

  stop(): void {
    this.stopped = true;
    this.clearTimer();
    this.rejectWaiters("proof sync stopped before the collector acknowledged the entries");
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    // The next turn of the loop: a drain never holds the loop for longer than one batch.
    setImmediate(() => {
      this.scheduled = false;
      this.sendNext();
    });
  }

  private sendNext(): void {
    if (this.stopped || this.sent !== null || !this.deps.connected()) return;
    let batch: OutboxBatch | null;
    try {
      batch = this.deps.outbox.nextBatch(this.deps.limits);
    } catch (err) {
      // A ledger that lost or damaged a row cannot be synced past it: said once a minute (not at
      // every new entry), and to whoever waits on proofs.sync at once rather than at its timeout.
      const now = this.now();
      if (now - this.lastBuildError >= 60_000) {
        this.lastBuildError = now;
        this.deps.log.error({ err }, "the next proof batch could not be built: proof sync is stuck until the ledger is repaired");
      }
      const waiting = this.waiters;
      this.waiters = [];
      for (const w of waiting) w.reject(new CommandFailure("failed", `the next proof batch cannot be built: ${(err as Error).message}`));
      this.armTimer();
      return;
    }
    if (batch === null) return;
    this.publish(batch);
  }

  private publish(batch: OutboxBatch): void {
    this.sent = { id: batch.id, sentAt: this.now() };
    this.lastSent = this.sent;
    this.armTimer();
    this.deps.publish(this.topic, batch.payload, { qos: 1 }).catch((err: unknown) => {
      // The timer or the next reconnect sends it again.
      this.deps.log.debug({ err, batch: batch.id }, "proof batch not published");
    });
  }

  /** No ack within the timeout: send the same batch again, and wait longer next time. */
  private armTimer(): void {
    this.clearTimer();
    const waited = this.timeoutMs;
    this.cancelTimer = this.setTimer(() => {
      this.cancelTimer = null;
      this.timeoutMs = Math.min(waited * 2, MAX_ACK_TIMEOUT_MS);
      const id = this.sent?.id;
      this.sent = null;
      if (this.stopped || !this.deps.connected()) return;
      this.deps.log.warn({ batch: id, waitedMs: waited, nextWaitMs: this.timeoutMs }, `no proofs/ack within ${waited} ms: sending the batch again`);
      this.sendNext();
    }, waited);
  }

  private clearTimer(): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
  }

  private settleWaiters(acked: number): void {
    const done = this.waiters.filter((w) => w.target <= acked);
    if (done.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.target > acked);
    for (const w of done) w.resolve({ through: acked });
  }

  private rejectWaiters(why: string): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w.reject(new CommandFailure("unavailable", why));
  }
}
