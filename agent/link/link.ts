// The MQTT link: one connection, and what travels over it (spec/mqtt-api.md). Deliveries are
// routed by topic: `schedule` to the desired state, `cmd` to the command gate (then the command
// registry), `proofs/ack` to the proof sync. The ledger is watched once a second: new entries
// start a proof batch and raise alerts. Telemetry goes out every telemetryIntervalS, the signed
// head after a sync drained (at most once a minute) and at least hourly. Nothing here is on the
// playout's path: a dead broker costs the screen nothing.
import type { Logger } from "pino";
import type { AgentStatus, ProofSyncStatus } from "../commands/index.js";
import type { Checkpoint } from "../proofs/types.js";
import { AlertPublisher, alertOf, DiskWatch, type Alert } from "./alerts.js";
import { ScheduleDesiredState, type ScheduleApplier } from "./schedule-state.js";
import { screenTopic, type LinkMessage, type Publish } from "./types.js";

export interface LinkConnection {
  start(): void;
  stop(): Promise<void>;
  readonly connected: boolean;
  publish: Publish;
  on(event: "connected", listener: (info: { sessionPresent: boolean; protocolVersion: 4 | 5 }) => void): unknown;
  on(event: "disconnected", listener: (reason: string) => void): unknown;
  on(event: "message", listener: (message: LinkMessage) => void): unknown;
}

export interface LinkProofSync {
  kick(): void;
  onAck(payload: Buffer): void;
  onConnected(): void;
  onDisconnected(): void;
  status(): ProofSyncStatus;
  stop(): void;
}

/** The cmd/result payload: the registry's outcome with the command's id (and, for a replay, the first outcome). */
export type CommandReply = ({ ok: true; result: unknown } | { ok: false; error: { code: string; message: string }; original?: unknown }) & { id: string | null };

export interface LinkCommandGate {
  handle(payload: Buffer): Promise<CommandReply>;
  /** Removes command ids past their keeping time (hourly). */
  prune(): void;
  /** Waits for running commands and records what it still owes the ledger. */
  stop(): Promise<void>;
}

export interface LinkLedger {
  head(): { seq: number } | null;
  rows(fromSeq: number, toSeq: number): Iterable<{ seq: number; body: string }>;
  latestCheckpoint(): Checkpoint | null;
  checkpoint(): Checkpoint;
}

export interface LinkDeps {
  screenId: string;
  connection: LinkConnection;
  schedules: ScheduleApplier;
  gate: LinkCommandGate;
  proofSync: LinkProofSync;
  ledger: LinkLedger;
  /** The status command's object, which is also the telemetry. */
  status: () => Promise<AgentStatus>;
  telemetryIntervalS: number;
  /** Where the alerts stand across restarts (absent: from the head at start). */
  alertCursor?: { through(): number | null; set(through: number): void };
  log: Logger;
  now?: () => number;
  /** disk.low under this many free bytes (default DEFAULT_DISK_LOW_BYTES, 1 GiB). */
  diskLowBytes?: number;
  /** How often the ledger is watched for new entries (default 1 s). */
  tailIntervalMs?: number;
}

/** Free space on the data directory's file system under which the agent raises disk.low. */
export const DEFAULT_DISK_LOW_BYTES = 1024 ** 3;

const HOUR_MS = 3_600_000;
const MAX_CORRELATION_BYTES = 1024;
const ALERT_CURSOR_EVERY_MS = 10_000;
const HEAD_AFTER_SYNC_MIN_MS = 60_000;
/** Entries read from the ledger per watch tick: a huge jump is worked off over several ticks. */
const TAIL_ROWS_PER_TICK = 2000;

export class Link {
  private readonly schedule: ScheduleDesiredState;
  private readonly alerts: AlertPublisher;
  private readonly disk: DiskWatch;
  private readonly timers: NodeJS.Timeout[] = [];
  private tailSeq = 0;
  private cursorSaved = { through: 0, atMs: 0 };
  private headPublished = { seq: 0, atMs: -Infinity };
  private stopped = false;
  /** Commands being handled: their results go out before the connection closes (agent.restart's too). */
  private readonly answering = new Set<Promise<void>>();

  constructor(private readonly deps: LinkDeps) {
    const publish: Publish = (topic, payload, options) => deps.connection.publish(topic, payload, options);
    this.schedule = new ScheduleDesiredState({ screenId: deps.screenId, schedules: deps.schedules, publish, log: deps.log, now: deps.now });
    this.alerts = new AlertPublisher({ screenId: deps.screenId, publish, connected: () => deps.connection.connected, log: deps.log });
    this.disk = new DiskWatch(deps.diskLowBytes ?? DEFAULT_DISK_LOW_BYTES);
  }

  get connected(): boolean {
    return this.deps.connection.connected;
  }

  start(): void {
    const c = this.deps.connection;
    const head = this.deps.ledger.head()?.seq ?? 0;
    // From where the last run left the alerts; the first run ever starts at the head (no history raised).
    this.tailSeq = Math.min(head, this.deps.alertCursor?.through() ?? head);
    this.cursorSaved = { through: this.tailSeq, atMs: (this.deps.now ?? Date.now)() };
    c.on("connected", () => void this.onConnected());
    c.on("disconnected", () => this.deps.proofSync.onDisconnected());
    c.on("message", (m) => void this.onMessage(m));
    this.every(this.deps.tailIntervalMs ?? 1000, () => this.watchLedger());
    this.every(this.deps.telemetryIntervalS * 1000, () => void this.publishTelemetry());
    this.every(HOUR_MS, () => {
      this.publishHead(this.signHead());
      this.deps.gate.prune();
    });
    c.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.saveAlertCursor(true);
    this.schedule.stop();
    this.deps.proofSync.stop();
    await this.deps.gate.stop();
    await Promise.allSettled([...this.answering]);
    await this.deps.connection.stop();
  }

  private every(ms: number, tick: () => void): void {
    const timer = setInterval(() => {
      try {
        tick();
      } catch (err) {
        this.deps.log.error({ err }, "a link task failed; it runs again at its next turn");
      }
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private async onConnected(): Promise<void> {
    try {
      this.deps.proofSync.onConnected();
      await this.schedule.onConnected();
      await this.alerts.flush();
      this.publishHead(this.deps.ledger.latestCheckpoint());
      await this.publishTelemetry();
    } catch (err) {
      this.deps.log.error({ err }, "the link's work on connecting failed; it is done again at the next turn");
    }
  }

  private async onMessage(message: LinkMessage): Promise<void> {
    const own = `led/v1/${this.deps.screenId}/`;
    if (!message.topic.startsWith(own)) {
      this.deps.log.warn({ topic: message.topic }, "a message for another screen's topic; ignored");
      return;
    }
    const leaf = message.topic.slice(own.length);
    if (this.stopped) {
      // Not claimed, not run: the registry and the ledger are going away. Ops may send it again.
      if (leaf === "cmd") await this.refuseWhileStopping(message);
      return;
    }
    try {
      if (leaf === "schedule") await this.schedule.onMessage(message);
      else if (leaf === "cmd") await this.answer(message);
      else if (leaf === "proofs/ack") this.deps.proofSync.onAck(message.payload);
      else this.deps.log.debug({ topic: message.topic }, "a message on a topic the agent does not take; ignored");
    } catch (err) {
      this.deps.log.error({ err, topic: message.topic }, "a delivery could not be handled");
    }
  }

  private async answer(message: LinkMessage): Promise<void> {
    const answering = this.onCommand(message);
    this.answering.add(answering);
    try {
      await answering;
    } finally {
      this.answering.delete(answering);
    }
  }

  private async onCommand(message: LinkMessage): Promise<void> {
    await this.answerWith(message, await this.deps.gate.handle(message.payload));
  }

  private async refuseWhileStopping(message: LinkMessage): Promise<void> {
    let id: string | null = null;
    try {
      const raw = JSON.parse(message.payload.toString("utf8")) as { command?: { id?: unknown } };
      if (typeof raw.command?.id === "string" && raw.command.id.length <= 128) id = raw.command.id;
    } catch {
      id = null;
    }
    await this.answerWith(message, { id, ok: false, error: { code: "unavailable", message: "the agent is stopping: the command was not run; send it again once the agent is back" } });
  }

  private async answerWith(message: LinkMessage, reply: CommandReply): Promise<void> {
    // The response topic is not covered by the signature (and refusals of unsigned requests are
    // answered too): only this screen's own cmd/result, or a topic under it, is honoured.
    const results = screenTopic(this.deps.screenId, "cmd/result");
    const asked = message.responseTopic;
    // Correlation data is the sender's to choose and is not counted in the command's size limit:
    // beyond 1 KiB it is not echoed (nor the response topic used) rather than multiplied into answers.
    const correlationFits = message.correlationData === undefined || message.correlationData.length <= MAX_CORRELATION_BYTES;
    const toResponseTopic = asked !== undefined && correlationFits && (asked === results || asked.startsWith(`${results}/`)) && !/[+#\0]/.test(asked);
    const topic = toResponseTopic ? (message.responseTopic as string) : screenTopic(this.deps.screenId, "cmd/result");
    try {
      await this.deps.connection.publish(topic, JSON.stringify(reply), { qos: 1, ...(toResponseTopic && message.correlationData ? { correlationData: message.correlationData } : {}) });
    } catch (err) {
      // The command ran (or was refused) all the same; a sender that re-sends it is told `replayed` with this outcome.
      this.deps.log.warn({ err: (err as Error).message, id: reply.id }, "a command's result could not be sent: the link is down");
    }
  }

  /** New ledger entries: a proof batch is due, and some of them are alerts. */
  private watchLedger(): void {
    const head = this.deps.ledger.head()?.seq ?? 0;
    if (head > this.tailSeq) {
      const through = Math.min(head, this.tailSeq + TAIL_ROWS_PER_TICK);
      for (const row of this.deps.ledger.rows(this.tailSeq + 1, through)) {
        let alert: Alert | null = null;
        try {
          alert = alertOf(JSON.parse(row.body) as Parameters<typeof alertOf>[0]);
        } catch (err) {
          // One unreadable row must not stop every later alert and proof kick; the sync and the collector name it.
          this.deps.log.error({ seq: row.seq, err: (err as Error).message }, "a ledger row could not be read for alerts");
        }
        if (alert) this.alerts.add(alert);
      }
      this.tailSeq = through;
      this.deps.proofSync.kick();
    }
    this.saveAlertCursor(false);
    this.headAfterSync();
  }

  /** Every alert read and sent, or the one before the oldest still waiting; written every 10 s at most, and at stop. */
  private saveAlertCursor(force: boolean): void {
    const cursor = this.deps.alertCursor;
    if (!cursor) return;
    const waiting = this.alerts.firstPendingSeq();
    const through = waiting === null ? this.tailSeq : waiting - 1;
    const now = (this.deps.now ?? Date.now)();
    if (through === this.cursorSaved.through || (!force && now - this.cursorSaved.atMs < ALERT_CURSOR_EVERY_MS)) return;
    try {
      cursor.set(through);
      this.cursorSaved = { through, atMs: now };
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, "the alerts' cursor was not saved; alerts since may be raised again");
    }
  }

  /** "After each sync": once the outbox is empty and the collector acked past the last head sent. */
  private headAfterSync(): void {
    if (!this.deps.connection.connected) return;
    const sync = this.deps.proofSync.status();
    const now = (this.deps.now ?? Date.now)();
    if (sync.unsynced > 0 || sync.ackedThrough <= this.headPublished.seq || now - this.headPublished.atMs < HEAD_AFTER_SYNC_MIN_MS) return;
    this.publishHead(this.signHead());
  }

  private signHead(): Checkpoint | null {
    try {
      return this.deps.ledger.checkpoint();
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, "no signed head to publish");
      return null;
    }
  }

  private publishHead(head: Checkpoint | null): void {
    if (!head || !this.deps.connection.connected) return;
    this.headPublished = { seq: head.seq, atMs: (this.deps.now ?? Date.now)() };
    this.deps.connection.publish(screenTopic(this.deps.screenId, "proofs/head"), JSON.stringify(head), { qos: 1, retain: true }).catch((err: unknown) => {
      this.headPublished = { seq: 0, atMs: -Infinity };
      this.deps.log.warn({ err: (err as Error).message }, "the signed head was not published; it goes out at the next turn");
    });
  }

  private async publishTelemetry(): Promise<void> {
    if (this.stopped) return;
    let status: AgentStatus;
    try {
      status = await this.deps.status();
    } catch (err) {
      this.deps.log.error({ err }, "telemetry could not be gathered");
      return;
    }
    const low: Alert | null = this.disk.check(status.host?.diskFreeBytes ?? null, status.at);
    if (low) this.alerts.add(low);
    if (!this.deps.connection.connected) return;
    this.deps.connection.publish(screenTopic(this.deps.screenId, "telemetry"), JSON.stringify(status), { qos: 0 }).catch((err: unknown) => {
      this.deps.log.debug({ err: (err as Error).message }, "telemetry not sent");
    });
  }
}
