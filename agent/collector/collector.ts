// The reference collector: subscribes to every screen's proof batches (a shared subscription when
// in a group), verifies each against the screen's registered key and what is stored, stores it
// idempotently, and acks on led/v1/<screen>/proofs/ack once the batch is committed. A batch's
// bad entry is never acked: the agent sends it again, and its problem is named each time.
import { hostname } from "node:os";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { Logger } from "pino";
import { sendWithoutDelay } from "../link/types.js";
import type { ScreenKeySource } from "./keys.js";
import type { CollectorStore } from "./store.js";
import { checkBatch, type Problem } from "./verify-batch.js";
import { VerifyPool, type SignatureVerifier } from "./verify-pool.js";

/** One batch's outcome, as a CLI prints it. */
export interface BatchReport {
  screen: string;
  /** The batch id, when the envelope had one. */
  batch: string | null;
  /** The seq range the batch carried, as far as it could be read. */
  fromSeq: number | null;
  throughSeq: number | null;
  stored: number;
  duplicates: number;
  /** The `through` acked, or null when no ack was sent. */
  acked: number | null;
  problems: Problem[];
}

export interface AckMessage {
  topic: string;
  payload: string;
}

/** Verify, store, and say what to ack: the collector's work on one batch, without MQTT. */
export class BatchProcessor {
  constructor(private readonly deps: { store: CollectorStore; keys: ScreenKeySource; verifier?: SignatureVerifier }) {}

  async process(topic: string, payload: Buffer): Promise<{ report: BatchReport; ack: AckMessage | null }> {
    const checked = await checkBatch(topic, payload, this.deps.keys, this.deps.verifier);
    const report: BatchReport = {
      screen: checked.screen,
      batch: checked.batch,
      ...checked.claimed,
      stored: 0,
      duplicates: 0,
      acked: null,
      problems: checked.problem ? [checked.problem] : [],
    };
    if (!checked.keyChecked) {
      // Nothing of the batch could be checked against the screen's key: only the problem is kept.
      if (checked.problem) this.deps.store.recordProblem(checked.problem);
      return { report, ack: null };
    }
    const outcome = this.deps.store.storeBatch(checked.screen, checked.entries, checked.problem);
    Object.assign(report, { stored: outcome.stored, duplicates: outcome.duplicates, problems: outcome.problems, acked: outcome.through });
    const ack =
      outcome.through === null || checked.batch === null
        ? null
        : { topic: `led/v1/${checked.screen}/proofs/ack`, payload: JSON.stringify({ batch: checked.batch, through: outcome.through }) };
    return { report, ack };
  }
}

export interface CollectorOptions {
  url: string;
  /** Stable across runs, so the broker keeps the session (and queued batches) while it is down. */
  clientId?: string;
  username?: string;
  password?: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** A shared-subscription group: collectors in one group share the screens' batches. */
  group?: string;
  /** Wait between connection attempts (default 2 s). */
  reconnectPeriodMs?: number;
}

export interface CollectorDeps {
  options: CollectorOptions;
  store: CollectorStore;
  keys: ScreenKeySource;
  log: Logger;
  /** Checks signatures; default: a pool of worker threads the collector owns. */
  verifier?: SignatureVerifier;
  onBatch?: (report: BatchReport) => void;
  /** mqtt.connect, or a stand-in. */
  connect?: typeof mqtt.connect;
}

/** How long the broker keeps a collector's session (and its queued batches) while it is away. */
export const COLLECTOR_SESSION_EXPIRY_S = 7 * 24 * 3600;
/** A 5 broker that closes without a CONNACK this many times in a row is taken not to speak 5. */
const SILENT_CLOSES_BEFORE_FALLBACK = 2;

export function proofsSubscription(group?: string): string {
  if (group === undefined) return "led/v1/+/proofs";
  if (!/^[^/+#]{1,64}$/.test(group)) throw new Error(`group ${JSON.stringify(group)} must be 1–64 characters without '/', '+' or '#'`);
  return `$share/${group}/led/v1/+/proofs`;
}

export function defaultCollectorClientId(group?: string): string {
  return `ledagent-collector-${hostname()}${group ? `-${group}` : ""}`.slice(0, 128);
}

export class Collector {
  private readonly processor: BatchProcessor;
  /** The pool this collector made (and closes), when none was given. */
  private readonly ownPool: VerifyPool | null;
  private readonly subscription: string;
  private readonly clientId: string;
  private client: MqttClient | null = null;
  private version: 4 | 5 = 5;
  private silentCloses = 0;
  /** The broker took MQTT 5 once: silent closes since (a restart, a man in the middle) never talk the collector down. */
  private spokeFive = false;
  private stopped = false;
  private subscribed: { resolve: (v: { protocolVersion: 4 | 5 }) => void; reject: (e: Error) => void } | null = null;

  constructor(private readonly deps: CollectorDeps) {
    this.ownPool = deps.verifier ? null : new VerifyPool();
    this.processor = new BatchProcessor({ store: deps.store, keys: deps.keys, verifier: deps.verifier ?? this.ownPool ?? undefined });
    this.subscription = proofsSubscription(deps.options.group);
    this.clientId = deps.options.clientId ?? defaultCollectorClientId(deps.options.group);
  }

  /** Connects and subscribes; resolves on the first subscription (reconnects go on by themselves). */
  start(): Promise<{ protocolVersion: 4 | 5 }> {
    return new Promise((resolve, reject) => {
      this.subscribed = { resolve, reject };
      this.connect();
    });
  }

  /** Disconnects; never throws. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.subscribed?.reject(new Error("the collector was stopped before it subscribed"));
    this.subscribed = null;
    const client = this.client;
    this.client = null;
    if (client) await new Promise<void>((resolve) => client.end(false, {}, () => resolve())).catch(() => undefined);
    await this.ownPool?.close().catch(() => undefined);
  }

  private clientOptions(): IClientOptions {
    const o = this.deps.options;
    return {
      protocolVersion: this.version,
      clientId: this.clientId,
      // A group member keeps no session: the broker would go on handing a dead member its share
      // of every screen's batches, each then waiting out the agent's ack timeout. The agent
      // re-sends whatever a member took down with it. Alone, the collector keeps its session so
      // batches wait for it while it restarts.
      clean: this.deps.options.group !== undefined,
      reconnectPeriod: o.reconnectPeriodMs ?? 2000,
      resubscribe: false,
      ...(o.username === undefined ? {} : { username: o.username }),
      ...(o.password === undefined ? {} : { password: o.password }),
      ...(o.ca === undefined ? {} : { ca: o.ca }),
      ...(o.cert === undefined ? {} : { cert: o.cert }),
      ...(o.key === undefined ? {} : { key: o.key }),
      rejectUnauthorized: true,
      ...(this.version === 5 ? { properties: { sessionExpiryInterval: this.deps.options.group === undefined ? COLLECTOR_SESSION_EXPIRY_S : 0 } } : {}),
    };
  }

  private connect(): void {
    const client = (this.deps.connect ?? mqtt.connect)(this.deps.options.url, this.clientOptions());
    this.client = client;
    // Per attempt: a close after an error (refused, unreachable) says nothing of MQTT 5; only a
    // broker that took the connection and closed it without a word counts as not speaking it.
    let connacked = false;
    let errored = false;
    client.on("reconnect", () => {
      connacked = false;
      errored = false;
    });
    client.on("connect", (connack) => {
      connacked = true;
      // An ack is a few dozen bytes: with Nagle's algorithm it would wait on the agent's delayed ACK.
      sendWithoutDelay(client);
      this.silentCloses = 0;
      if (this.version === 5) this.spokeFive = true;
      this.deps.log.info({ protocolVersion: this.version, sessionPresent: connack.sessionPresent }, "collector connected");
      this.subscribe(client);
    });
    // mqtt.js handles the next packet only once this calls back, and acknowledges a QoS 1
    // delivery to the broker then: batches are taken one at a time in arrival order, and a batch
    // is PUBACKed only after it was committed (a collector killed before that gets it again).
    client.handleMessage = (packet, done) => {
      void this.onMessage(client, packet.topic, Buffer.from(packet.payload)).finally(() => done());
    };
    client.on("error", (err) => {
      errored = true;
      const code = (err as { code?: unknown }).code;
      if (!connacked && this.version === 5 && (code === 1 || code === 132)) this.fallBack(client, `the broker refused MQTT 5 (${err.message})`);
      else this.deps.log.warn({ err: err.message }, "collector connection error");
    });
    client.on("close", () => {
      if (this.stopped || this.client !== client || connacked || this.version !== 5 || this.spokeFive) return;
      if (errored) this.silentCloses = 0;
      else if (++this.silentCloses >= SILENT_CLOSES_BEFORE_FALLBACK) this.fallBack(client, "the broker closed MQTT 5 connections before any CONNACK");
    });
  }

  /** The broker does not speak MQTT 5: 3.1.1 (still a persistent session) from now on. */
  private fallBack(client: MqttClient, why: string): void {
    if (this.stopped || this.client !== client) return;
    this.deps.log.warn(`${why}: connecting with MQTT 3.1.1`);
    this.version = 4;
    client.end(true);
    this.connect();
  }

  private subscribe(client: MqttClient): void {
    client.subscribe(this.subscription, { qos: 1 }, (err, granted) => {
      const refused = err ?? ((granted ?? []).some((g) => g.qos >= 0x80) ? new Error(`the broker refused the subscription to ${this.subscription}`) : null);
      if (refused) {
        this.deps.log.error({ err: refused.message }, "collector not subscribed");
        this.subscribed?.reject(refused);
      } else {
        this.deps.log.info({ subscription: this.subscription }, "collector subscribed");
        this.subscribed?.resolve({ protocolVersion: this.version });
      }
      this.subscribed = null;
    });
  }

  private async onMessage(client: MqttClient, topic: string, payload: Buffer): Promise<void> {
    let result: Awaited<ReturnType<BatchProcessor["process"]>>;
    try {
      result = await this.processor.process(topic, payload);
    } catch (err) {
      // Nothing acked: the agent sends the batch again after its timeout.
      this.deps.log.error({ err, topic }, "a proof batch could not be stored");
      return;
    }
    const { report, ack } = result;
    if (ack) {
      client.publish(ack.topic, ack.payload, { qos: 1 }, (err) => {
        if (err) this.deps.log.warn({ err: err.message, topic: ack.topic }, "proofs/ack not published; the agent sends the batch again");
      });
    }
    try {
      this.deps.onBatch?.(report);
    } catch (err) {
      this.deps.log.warn({ err }, "onBatch threw");
    }
  }
}
