// The agent's one MQTT connection (mqtt.js): MQTT 5 with a persistent session, falling back to
// 3.1.1 (still persistent) for this process when the broker refuses 5; TLS, user name and password;
// the Last Will and the retained online state; reconnects driven here, with our own backoff, so
// that their pace, their log lines and the fallback are decided in one place. Each attempt is a
// fresh mqtt.js client with reconnectPeriod 0: nothing of a dead connection is carried into the
// next (its in-flight publishes are rejected to their callers, who decide whether to retry).
import { EventEmitter } from "node:events";
import { performance } from "node:perf_hooks";
import mqtt, { type IClientOptions, type IConnackPacket, type IDisconnectPacket, type IPublishPacket, type MqttClient, type Packet } from "mqtt";
import type { Logger } from "../log.js";
import { Backoff, DEFAULT_BACKOFF } from "./backoff.js";
import { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_KEEPALIVE_S, DEFAULT_SESSION_EXPIRY_S, DEFAULT_STABLE_AFTER_MS, type ConnectionOptions } from "./connection-options.js";
import { describeConnectionError, describeReasonCode } from "./connection-options.js";
import { ProtocolChoice } from "./protocol-choice.js";
import { sendWithoutDelay, type LinkMessage, type Publish, type PublishOptions } from "./types.js";

export interface ConnectedInfo {
  sessionPresent: boolean;
  protocolVersion: 4 | 5;
}

interface ConnectionEvents {
  connected: [ConnectedInfo];
  disconnected: [string];
  message: [LinkMessage];
}

export interface MqttConnectionDeps {
  options: ConnectionOptions;
  log: Logger;
  random?: () => number;
  /** mqtt.connect, or a stand-in in tests. */
  connect?: typeof mqtt.connect;
}

/** publish() while the link is down, or a connection lost before the broker acknowledged. */
/** The largest packet the agent accepts on MQTT 5: a 4 MiB schedule envelope and its headers. */
export const MAX_INCOMING_PACKET_BYTES = 4 * 1024 * 1024 + 64 * 1024;

export class LinkDownError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LinkDownError";
  }
}

/** The offline state and the DISCONNECT together get this long on a clean stop. */
const STOP_PUBLISH_MS = 2000;
const STOP_END_MS = 1000;
/** A 5 broker that closes without a CONNACK this many times in a row is taken not to speak 5. */
/**
 * Messages that arrive between CONNACK and 'connected' (a persistent session's queue) are held
 * and handed up once the subscriptions and the online state are confirmed, so a part can answer
 * them. Past this many, the rest are left unacknowledged and the connection is dropped: the broker
 * keeps them in the session and delivers them on the next connect.
 */
const MAX_HELD_MESSAGES = 1000;

/** One connection attempt: one mqtt.js client, from creation to its close. */
interface Attempt {
  client: MqttClient;
  protocolVersion: 4 | 5;
  /** TCP (or TLS, for mqtts) was established: a close after this, with no error, is the broker's doing. */
  transportUp: boolean;
  connack: boolean;
  /** The CONNACK's refusal code, when it refused. */
  refusal: number | null;
  /** The first reason this attempt failed or ended; later ones are consequences. */
  failure: string | null;
  /** Rejecters of publishes awaiting their PUBACK. */
  pending: Set<(err: Error) => void>;
  /** Messages held until 'connected'; null once they have been handed up. */
  held: LinkMessage[] | null;
  overflowed: boolean;
  setupTimer: NodeJS.Timeout | null;
  /** performance.now() when it became ready. */
  readyAt: number | null;
  closed: boolean;
}

export class MqttConnection extends EventEmitter<ConnectionEvents> {
  private readonly options: ConnectionOptions;
  private readonly log: Logger;
  private readonly connectFn: typeof mqtt.connect;
  private readonly backoff: Backoff;
  private attempt: Attempt | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  /** What the next attempt asks for: 5 until a broker refused it. */
  private readonly protocol = new ProtocolChoice();
  private ready = false;
  private lastVersion: 4 | 5 | null = null;
  private started = false;
  private stopped = false;
  private stopping: Promise<void> | null = null;

  constructor(deps: MqttConnectionDeps) {
    super();
    this.options = deps.options;
    this.log = deps.log;
    this.connectFn = deps.connect ?? mqtt.connect;
    this.backoff = new Backoff({ policy: deps.options.backoff ?? DEFAULT_BACKOFF, random: deps.random });
  }

  get connected(): boolean {
    return this.ready;
  }

  get protocolVersion(): 4 | 5 | null {
    return this.lastVersion;
  }

  /** Connects, and reconnects forever until stop(). A stopped connection stays stopped. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.connectNow();
  }

  /** Publishes the offline state (best effort, ≤ 2 s), ends the client; never throws. */
  stop(): Promise<void> {
    if (this.stopping === null) {
      this.stopped = true;
      this.stopping = this.stopNow().catch((err: unknown) => this.log.error({ err }, "stopping the MQTT connection failed"));
    }
    return this.stopping;
  }

  // Rejects at once when not connected. mqtt.js would otherwise keep a publish made while offline
  // in memory, without limit, and send it whenever the link came back: possibly long after its
  // caller gave up, and after a newer state. The parts know whether a message is worth a retry.
  publish: Publish = (topic, payload, options) => {
    const attempt = this.attempt;
    if (!this.ready || attempt === null || attempt.closed) {
      return Promise.reject(new LinkDownError(`not connected to the MQTT broker: not published to ${topic}`));
    }
    return this.publishOn(attempt, topic, payload, options);
  };

  private publishOn(attempt: Attempt, topic: string, payload: string | Buffer, options: PublishOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      const properties = attempt.protocolVersion === 5 && options.correlationData ? { properties: { correlationData: options.correlationData } } : {};
      attempt.pending.add(reject);
      attempt.client.publish(topic, payload, { qos: options.qos, retain: options.retain ?? false, ...properties }, (err) => {
        attempt.pending.delete(reject);
        if (err) reject(new Error(`publish to ${topic} failed: ${describeConnectionError(err)}`));
        else resolve();
      });
    });
  }

  private clientOptions(protocolVersion: 4 | 5): IClientOptions {
    const o = this.options;
    const connectTimeoutMs = o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    return {
      protocolVersion,
      clientId: o.clientId,
      // A persistent session on both versions: QoS 1 commands sent while the screen is offline wait for it.
      clean: false,
      keepalive: o.keepaliveS ?? DEFAULT_KEEPALIVE_S,
      reconnectPeriod: 0,
      // Our own timer covers the whole setup (CONNACK, SUBACK, online PUBACK) and fires first.
      connectTimeout: connectTimeoutMs * 2,
      resubscribe: false,
      queueQoSZero: false,
      username: o.username,
      password: o.password,
      // TLS: mqtt.js hands these to node:tls, which also checks the certificate names the URL's host.
      ca: o.ca,
      cert: o.cert,
      key: o.key,
      // Never configurable: a screen that accepts any certificate can be steered by anyone on its path.
      rejectUnauthorized: true,
      will: { topic: o.will.topic, payload: Buffer.from(o.willPayload?.() ?? o.will.payload), qos: o.will.qos, retain: o.will.retain },
      // maximumPacketSize: the broker drops anything bigger for us (MQTT 5) rather than making this
      // process buffer it; the largest thing the agent takes is a 4 MiB schedule envelope.
      ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: o.sessionExpiryS ?? DEFAULT_SESSION_EXPIRY_S, maximumPacketSize: MAX_INCOMING_PACKET_BYTES } } : {}),
    };
  }

  private connectNow(): void {
    const protocolVersion = this.protocol.next;
    let client: MqttClient;
    try {
      client = this.connectFn(this.options.url, this.clientOptions(protocolVersion));
    } catch (err) {
      this.log.warn({ err, url: this.options.url }, `could not start an MQTT connection: ${(err as Error).message}`);
      this.scheduleReconnect(this.backoff.next());
      return;
    }
    const attempt: Attempt = {
      client, protocolVersion, transportUp: false, connack: false, refusal: null, failure: null,
      pending: new Set(), held: [], overflowed: false, setupTimer: null, readyAt: null, closed: false,
    };
    this.attempt = attempt;
    this.watch(attempt);
    const timeoutMs = this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    attempt.setupTimer = setTimeout(() => {
      const stage = attempt.connack ? "the subscriptions and the online state were not acknowledged" : "no CONNACK from the broker";
      this.fail(attempt, `${stage} within ${timeoutMs} ms`);
    }, timeoutMs);
  }

  private watch(attempt: Attempt): void {
    const { client } = attempt;
    const secure = /^mqtts:/.test(this.options.url);
    client.stream.once(secure ? "secureConnect" : "connect", () => {
      attempt.transportUp = true;
      sendWithoutDelay(client);
    });
    // The first reason wins: a refused CONNACK is followed by errors and a close that it caused.
    client.on("error", (err) => this.noteFailure(attempt, describeConnectionError(err)));
    client.on("packetreceive", (packet: Packet) => this.onPacket(attempt, packet));
    client.on("connect", (connack: IConnackPacket) => void this.onConnack(attempt, connack));
    client.on("message", (_topic, _payload, packet) => this.onMessage(attempt, packet));
    client.on("close", () => this.onClose(attempt));
    // The default acknowledges every message; past the holding limit, none is acknowledged.
    client.handleMessage = (_packet, callback) => callback(attempt.overflowed ? new Error("too many messages before the subscriptions were confirmed") : undefined);
  }

  private onPacket(attempt: Attempt, packet: Packet): void {
    if (packet.cmd === "connack") {
      const code = packet.reasonCode ?? packet.returnCode ?? 0;
      if (code !== 0) {
        attempt.refusal = code;
        this.noteFailure(attempt, `refused by the broker: ${describeReasonCode(code, packet.properties?.reasonString)}`);
      }
    } else if (packet.cmd === "disconnect") {
      const p = packet as IDisconnectPacket;
      this.noteFailure(attempt, `the broker disconnected us: ${describeReasonCode(p.reasonCode ?? 0, p.properties?.reasonString)}`);
    }
  }

  private noteFailure(attempt: Attempt, reason: string): void {
    attempt.failure ??= reason;
  }

  /** Ends a failed attempt: its close logs the reason and schedules the next one. */
  private fail(attempt: Attempt, reason: string): void {
    this.noteFailure(attempt, reason);
    attempt.client.end(true);
  }

  private async onConnack(attempt: Attempt, connack: IConnackPacket): Promise<void> {
    attempt.connack = true;
    if (attempt.refusal === null) this.protocol.accepted(attempt.protocolVersion);
    if (attempt.closed || this.stopped) return;
    try {
      await this.subscribe(attempt);
      await this.publishOn(attempt, this.options.online.topic, this.options.online.payload(), { qos: 1, retain: true });
    } catch (err) {
      this.fail(attempt, (err as Error).message);
      return;
    }
    if (attempt.closed || this.stopped) return;
    this.becomeReady(attempt, connack.sessionPresent);
  }

  // Subscribed on every connect, session present or not: a broker that lost the session (restart
  // without persistence) says so, but subscribing again costs one round trip and covers it.
  private subscribe(attempt: Attempt): Promise<void> {
    const topics = Object.fromEntries(this.options.subscriptions.map((s) => [s.topic, { qos: s.qos }]));
    return new Promise((resolve, reject) => {
      attempt.pending.add(reject);
      attempt.client.subscribe(topics, (err, granted) => {
        attempt.pending.delete(reject);
        const refused = (granted ?? []).filter((g) => g.qos >= 0x80).map((g) => g.topic);
        if (err || refused.length > 0) {
          const why = err ? describeConnectionError(err) : "refused";
          reject(new Error(`subscribing was refused${refused.length ? ` for ${refused.join(", ")}` : ""}: ${why}`));
        } else resolve();
      });
    });
  }

  private becomeReady(attempt: Attempt, sessionPresent: boolean): void {
    if (attempt.setupTimer) clearTimeout(attempt.setupTimer);
    attempt.readyAt = performance.now();
    this.ready = true;
    this.lastVersion = attempt.protocolVersion;
    this.log.info({ url: this.options.url, protocolVersion: attempt.protocolVersion, sessionPresent }, `connected to the MQTT broker (MQTT ${attempt.protocolVersion === 5 ? "5" : "3.1.1"})`);
    this.emitSafely("connected", { sessionPresent, protocolVersion: attempt.protocolVersion });
    this.handUpHeld(attempt);
  }

  private handUpHeld(attempt: Attempt): void {
    const held = attempt.held ?? [];
    attempt.held = null;
    for (const message of held) this.emitSafely("message", message);
  }

  private onMessage(attempt: Attempt, packet: IPublishPacket): void {
    const message = toLinkMessage(packet, attempt.protocolVersion);
    if (attempt.held === null) {
      this.emitSafely("message", message);
    } else if (attempt.held.length < MAX_HELD_MESSAGES && !attempt.overflowed) {
      attempt.held.push(message);
    } else if (!attempt.overflowed) {
      attempt.overflowed = true;
      // After this message's handling (which now leaves it unacknowledged).
      setImmediate(() => this.fail(attempt, `more than ${MAX_HELD_MESSAGES} messages arrived before the subscriptions were confirmed`));
    }
  }

  private onClose(attempt: Attempt): void {
    if (attempt.closed) return;
    attempt.closed = true;
    if (attempt.setupTimer) clearTimeout(attempt.setupTimer);
    const wasReady = this.ready && this.attempt === attempt;
    if (this.attempt === attempt) this.ready = false;
    const reason = attempt.failure ?? (attempt.transportUp ? "the broker closed the connection" : "the connection closed");
    for (const reject of attempt.pending) reject(new LinkDownError(`the connection was lost before the broker acknowledged: ${reason}`));
    attempt.pending.clear();
    // Held messages were acknowledged by mqtt.js: handed up rather than lost (a part's answer may
    // fail, as for any message that arrives just before a drop).
    this.handUpHeld(attempt);
    if (this.stopped) return;
    const fellBack = this.fallBack(attempt, reason);
    if (attempt.readyAt !== null && performance.now() - attempt.readyAt >= (this.options.stableAfterMs ?? DEFAULT_STABLE_AFTER_MS)) this.backoff.reset();
    const delayMs = fellBack ? 0 : this.backoff.next();
    if (!fellBack) {
      const what = wasReady ? "disconnected from the MQTT broker" : "could not connect to the MQTT broker";
      this.log.warn({ url: this.options.url, reason, protocolVersion: attempt.protocolVersion, retryInMs: delayMs }, `${what}: ${reason}; retrying in ${delayMs} ms`);
    }
    if (wasReady) this.emitSafely("disconnected", reason);
    this.scheduleReconnect(delayMs);
  }

  /** Tells the protocol choice how the attempt ended; true when the next attempt falls back to 3.1.1 (at once). */
  private fallBack(attempt: Attempt, reason: string): boolean {
    const fell = this.protocol.ended(attempt, reason);
    if (!fell) return false;
    const what = fell.forGood ? "using MQTT 3.1.1 from now on, until the agent restarts" : "trying MQTT 3.1.1 for the next connection (5 again after it)";
    this.log.warn({ url: this.options.url, reason: fell.why }, `the MQTT broker did not take MQTT 5 (${fell.why}): ${what}`);
    return true;
  }

  private scheduleReconnect(delayMs: number): void {
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.stopped) this.connectNow();
    }, delayMs);
  }

  private async stopNow(): Promise<void> {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const attempt = this.attempt;
    const wasReady = this.ready;
    if (attempt === null || attempt.closed) return;
    if (wasReady) await this.publishOffline(attempt);
    this.ready = false;
    await this.end(attempt, wasReady);
    this.log.info({ url: this.options.url }, "disconnected from the MQTT broker (stopped)");
    if (wasReady) this.emitSafely("disconnected", "stopped");
  }

  private async publishOffline(attempt: Attempt): Promise<void> {
    const { topic, payload } = this.options.offline;
    try {
      await withTimeout(this.publishOn(attempt, topic, payload(), { qos: 1, retain: true }), STOP_PUBLISH_MS, "no PUBACK");
    } catch (err) {
      this.log.warn({ err }, `the offline state was not published on stop: ${(err as Error).message}`);
    }
  }

  /** A clean DISCONNECT (so the broker does not send the will), or a cut socket when it hangs or was not up. */
  private async end(attempt: Attempt, clean: boolean): Promise<void> {
    const ended = new Promise<void>((resolve) => attempt.client.end(!clean, {}, () => resolve()));
    try {
      await withTimeout(ended, STOP_END_MS, "no clean disconnect");
    } catch {
      attempt.client.stream.destroy();
    }
  }

  /** Calls each listener apart: one that throws (or rejects) is logged and does not stop the others. */
  private emitSafely<E extends keyof ConnectionEvents>(event: E, ...args: ConnectionEvents[E]): void {
    for (const listener of this.rawListeners(event)) {
      try {
        const result: unknown = (listener as (...a: ConnectionEvents[E]) => unknown).apply(this, args);
        if (result instanceof Promise) result.catch((err: unknown) => this.listenerFailed(event, err));
      } catch (err) {
        this.listenerFailed(event, err);
      }
    }
  }

  private listenerFailed(event: string, err: unknown): void {
    this.log.error({ err, event }, `a listener of the MQTT connection's '${event}' event failed: ${(err as Error)?.message ?? String(err)}`);
  }
}

function toLinkMessage(packet: IPublishPacket, protocolVersion: 4 | 5): LinkMessage {
  const props = protocolVersion === 5 ? packet.properties : undefined;
  return {
    topic: packet.topic,
    payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
    retain: packet.retain,
    ...(props?.responseTopic === undefined ? {} : { responseTopic: props.responseTopic }),
    ...(props?.correlationData === undefined ? {} : { correlationData: Buffer.from(props.correlationData) }),
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
