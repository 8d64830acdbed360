// The ops side of the MQTT API, for `ledagent ops push-schedule | cmd`, tests and benchmarks: it
// publishes a signed schedule (retained) and waits for the screen's schedule/status on it, and
// sends a signed command and waits for its result: on MQTT 5 at a response topic of its own inside
// the screen's subtree with correlation data, else on cmd/result matched by command id.
import { randomUUID } from "node:crypto";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { CommandEnvelope } from "./command-envelope.js";
import type { CommandReply } from "./link.js";
import type { ScheduleStatus } from "./schedule-state.js";
import { screenTopic, sendWithoutDelay } from "./types.js";

export interface OpsClientOptions {
  url: string;
  username?: string;
  password?: Buffer;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  connectTimeoutMs?: number;
}

export class OpsClientError extends Error {
  constructor(
    message: string,
    readonly code: "timeout" | "connect" | "rejected",
  ) {
    super(message);
    this.name = "OpsClientError";
  }
}

function refusesVersion5(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 1 || code === 132 || /unacceptable protocol version|unsupported protocol version/i.test((err as Error).message ?? "");
}

/** Connects with MQTT 5, and with 3.1.1 when the broker refuses 5. */
export async function connectOps(options: OpsClientOptions): Promise<OpsClient> {
  const base: IClientOptions = {
    clientId: `ledagent-ops-${randomUUID().slice(0, 8)}`,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: options.connectTimeoutMs ?? 10_000,
    ...(options.username === undefined ? {} : { username: options.username }),
    ...(options.password === undefined ? {} : { password: options.password }),
    ...(options.ca ? { ca: options.ca } : {}),
    ...(options.cert ? { cert: options.cert } : {}),
    ...(options.key ? { key: options.key } : {}),
    rejectUnauthorized: true,
  };
  try {
    return new OpsClient(await mqtt.connectAsync(options.url, { ...base, protocolVersion: 5 }), 5);
  } catch (err) {
    if (!refusesVersion5(err)) throw new OpsClientError(`cannot connect to ${options.url}: ${(err as Error).message}`, "connect");
    try {
      return new OpsClient(await mqtt.connectAsync(options.url, { ...base, protocolVersion: 4 }), 4);
    } catch (again) {
      throw new OpsClientError(`cannot connect to ${options.url}: ${(again as Error).message}`, "connect");
    }
  }
}

type Received = { topic: string; retain?: boolean; properties?: { correlationData?: Buffer } };

/** Resolves with the first message on one of `topics` that `accept` takes, or rejects after `timeoutMs`. */
function waitFor<T>(client: MqttClient, topics: string[], timeoutMs: number, accept: (payload: Buffer, packet: Received) => T | null, what: string): { result: Promise<T>; ready: Promise<void> } {
  let settle: (() => void) | null = null;
  const result = new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      settle?.();
      reject(new OpsClientError(`no ${what} within ${Math.round(timeoutMs / 1000)} s: the screen's agent may be offline (its retained state topic says), or still working on it`, "timeout"));
    }, timeoutMs);
    const onMessage = (t: string, payload: Buffer, packet: Received): void => {
      if (!topics.includes(t)) return;
      let value: T | null = null;
      try {
        value = accept(payload, packet);
      } catch {
        value = null; // someone else's garbage on the topic: keep waiting
      }
      if (value === null) return;
      settle?.();
      resolve(value);
    };
    // Ended by its owner (a Ctrl-C while it waits): nothing more can come, and no timer may hold the process.
    const onEnd = (): void => {
      settle?.();
      reject(new OpsClientError(`the connection was closed while waiting for ${what}`, "connect"));
    };
    settle = () => {
      clearTimeout(timer);
      client.off("message", onMessage);
      client.off("end", onEnd);
    };
    client.on("message", onMessage);
    client.once("end", onEnd);
  });
  const ready = client.subscribeAsync(topics, { qos: 1 }).then(() => undefined);
  // The caller awaits `ready` and a publish before `result`: a rejection meanwhile (the client
  // closed by a Ctrl-C) is handled here, and the caller still sees it when it awaits `result`.
  result.catch(() => undefined);
  return { result, ready };
}

export class OpsClient {
  constructor(
    readonly client: MqttClient,
    readonly protocolVersion: 4 | 5,
  ) {
    sendWithoutDelay(client);
  }

  /**
   * Publishes the envelope retained on the screen's `schedule` topic and waits for the
   * schedule/status of that version that is final (applied or rejected); `onPending` hears
   * pending-creatives on the way.
   */
  async pushSchedule(envelopeText: string, screen: string, version: number, opts: { timeoutMs: number; onPending?: (s: ScheduleStatus) => void }): Promise<ScheduleStatus> {
    const { result, ready } = waitFor(
      this.client,
      [screenTopic(screen, "schedule/status")],
      opts.timeoutMs,
      (payload, packet) => {
        // A retained status (delivered on subscribing) is from before this push: the screen's
        // clock need not agree with ours for this to hold.
        if (packet.retain) return null;
        const s = JSON.parse(payload.toString("utf8")) as ScheduleStatus;
        if (s.state === "pending-creatives") {
          if (s.version === version) opts.onPending?.(s);
          return null;
        }
        // A rejection names the version it could read; null when it could read none.
        return s.version === version || (s.state === "rejected" && s.version === null) ? s : null;
      },
      `schedule/status for version ${version}`,
    );
    await ready;
    await this.client.publishAsync(screenTopic(screen, "schedule"), envelopeText, { qos: 1, retain: true });
    return result;
  }

  /** Sends a signed command and waits for its result. */
  async command(envelope: CommandEnvelope, opts: { timeoutMs: number }): Promise<CommandReply> {
    const screen = envelope.command.screen;
    const id = envelope.command.id;
    if (this.protocolVersion === 5) {
      const responseTopic = `${screenTopic(screen, "cmd/result")}/${(this.client.options.clientId ?? "ops").replace(/[^A-Za-z0-9._-]/g, "_")}`;
      const correlation = Buffer.from(id, "utf8");
      // An agent on 3.1.1 (its broker, or its path, would not take 5) answers on cmd/result by id.
      const { result, ready } = waitFor(
        this.client,
        [responseTopic, screenTopic(screen, "cmd/result")],
        opts.timeoutMs,
        (payload, packet) => {
          const reply = JSON.parse(payload.toString("utf8")) as CommandReply;
          if (packet.topic === responseTopic) return packet.properties?.correlationData?.equals(correlation) ? reply : null;
          return reply.id === id ? reply : null;
        },
        `result for command ${id}`,
      );
      await ready;
      await this.client.publishAsync(screenTopic(screen, "cmd"), JSON.stringify(envelope), { qos: 1, properties: { responseTopic, correlationData: correlation } });
      return result;
    }
    const { result, ready } = waitFor(
      this.client,
      [screenTopic(screen, "cmd/result")],
      opts.timeoutMs,
      (payload) => {
        const reply = JSON.parse(payload.toString("utf8")) as CommandReply;
        return reply.id === id ? reply : null;
      },
      `result for command ${id}`,
    );
    await ready;
    await this.client.publishAsync(screenTopic(screen, "cmd"), JSON.stringify(envelope), { qos: 1 });
    return result;
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}
