// The MQTT connection against real brokers: mosquitto (MQTT 5, persistence, password file) and
// aedes (3.1.1 only), plus a proxy that plays an old broker closing MQTT 5 connections unanswered.
import { once } from "node:events";
import { chmodSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { Writable } from "node:stream";
import { Aedes } from "aedes";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, type Config } from "../../agent/config.js";
import { LinkDownError, MqttConnection, type ConnectedInfo } from "../../agent/link/connection.js";
import { connectionOptionsFromConfig, passwordFromFile, type ConnectionOptions } from "../../agent/link/connection-options.js";

const NOT_AUTHORISED = "not authorised (the user name, password or client certificate was not accepted)";
import type { LinkMessage } from "../../agent/link/types.js";
import { freePort, startMosquitto, type Mosquitto } from "../helpers/mosquitto.js";
import { startRefusingProxy } from "../helpers/refusing-proxy.js";
import { tempDir } from "../helpers/tmp.js";

type LogLine = { level: number; msg: string; reason?: string; retryInMs?: number };

function captureLog(): { log: pino.Logger; lines: LogLine[]; text: () => string } {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split("\n")) if (line) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { log: pino({ level: "debug" }, stream), lines, text: () => lines.map((l) => l.msg).join("\n") };
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Agent {
  conn: MqttConnection;
  /** Every mqtt.js client the connection made, and the protocol version each asked for. */
  clients: MqttClient[];
  versions: number[];
  logs: ReturnType<typeof captureLog>;
  messages: LinkMessage[];
}

const running: MqttConnection[] = [];
const observers: MqttClient[] = [];

interface AgentSetup {
  options?: Partial<ConnectionOptions>;
  config?: Partial<NonNullable<Config["mqtt"]>>;
  random?: () => number;
  /** Done to each mqtt.js client as it is made. */
  onClient?: (client: MqttClient) => void;
}

function agent(url: string, screenId: string, setup: AgentSetup = {}): Agent {
  const logs = captureLog();
  const clients: MqttClient[] = [];
  const versions: number[] = [];
  const options = { ...connectionOptionsFromConfig({ url, ...setup.config }, screenId, "9.9.9"), backoff: { minMs: 50, maxMs: 500 }, ...setup.options };
  const connect = (u: string, o: IClientOptions): MqttClient => {
    versions.push(o.protocolVersion ?? 4);
    const client = mqtt.connect(u, o);
    setup.onClient?.(client);
    clients.push(client);
    return client;
  };
  const conn = new MqttConnection({ options, log: logs.log, random: setup.random, connect: connect as typeof mqtt.connect });
  const messages: LinkMessage[] = [];
  conn.on("message", (m) => messages.push(m));
  running.push(conn);
  return { conn, clients, versions, logs, messages };
}

async function connected(a: Agent): Promise<ConnectedInfo> {
  const [info] = (await once(a.conn, "connected")) as [ConnectedInfo];
  return info;
}

/** The ops side: an ordinary client that sees retained state and sends commands. */
async function observer(url: string, protocolVersion: 4 | 5 = 5): Promise<{ client: MqttClient; received: mqtt.IPublishPacket[] }> {
  const client = await mqtt.connectAsync(url, { protocolVersion, clientId: `ops-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 });
  observers.push(client);
  const received: mqtt.IPublishPacket[] = [];
  client.on("message", (_t, _p, packet) => received.push(packet));
  return { client, received };
}

function stateOf(packet: mqtt.IPublishPacket | undefined): { online: boolean; version: string; at: string } | undefined {
  return packet && (JSON.parse(packet.payload.toString()) as { online: boolean; version: string; at: string });
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop()));
  await Promise.all(observers.splice(0).map((c) => c.endAsync(true)));
});

describe("connectionOptionsFromConfig", () => {
  const { dir, cleanup } = tempDir("ledagent-mqtt-options-");
  afterAll(cleanup);
  const file = (name: string, content: string, mode = 0o600): string => {
    const path = join(dir, name);
    writeFileSync(path, content, { mode });
    chmodSync(path, mode);
    return path;
  };
  /** A throwaway self-signed certificate, as a CA file holds. */
  const pem = (): string => {
    const r = spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "self.key"), "-subj", "/CN=test", "-days", "1"], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
    return r.stdout;
  };

  it("builds the state topic, will, subscriptions and client id from the screen", () => {
    const o = connectionOptionsFromConfig({ url: "mqtt://broker:1883" }, "s-1", "1.2.3", () => Date.UTC(2030, 0, 2));
    expect(o.clientId).toBe("ledagent-s-1");
    expect(o.will).toEqual({ topic: "led/v1/s-1/state", payload: '{"online":false,"version":"1.2.3","at":"2030-01-02T00:00:00.000Z"}', qos: 1, retain: true });
    expect(JSON.parse(o.online.payload())).toEqual({ online: true, version: "1.2.3", at: "2030-01-02T00:00:00.000Z" });
    expect(JSON.parse(o.offline.payload())).toMatchObject({ online: false });
    expect(o.subscriptions).toEqual([
      { topic: "led/v1/s-1/schedule", qos: 1 },
      { topic: "led/v1/s-1/cmd", qos: 1 },
      { topic: "led/v1/s-1/proofs/ack", qos: 1 },
    ]);
  });

  const certificate = pem();

  it("refuses secrets every user may read, files others may write, a CA that is no certificate, a password of two lines", () => {
    const base = { url: "mqtts://broker:8883", username: "u" };
    const readable = file("readable.key", "K", 0o644);
    expect(() => connectionOptionsFromConfig({ ...base, cert: file("c2.pem", certificate, 0o644), key: readable }, "s", "1")).toThrow(`mqtt.key: ${readable}: is readable by every user (mode 644)`);
    const pw = file("pw-readable", "x\n", 0o644);
    expect(() => connectionOptionsFromConfig({ ...base, passwordFile: pw }, "s", "1")).toThrow(`mqtt.passwordFile: ${pw}: is readable by every user`);
    const writable = file("writable-ca.pem", certificate, 0o666);
    expect(() => connectionOptionsFromConfig({ ...base, ca: writable }, "s", "1")).toThrow(`mqtt.ca: ${writable}: is writable by group or others`);
    const notPem = file("not-a-ca.pem", "hello", 0o644);
    expect(() => connectionOptionsFromConfig({ ...base, ca: notPem }, "s", "1")).toThrow(`mqtt.ca: ${notPem}: not a PEM certificate`);
    const twoLines = file("pw-two", "first\nsecond\n");
    expect(() => connectionOptionsFromConfig({ ...base, passwordFile: twoLines }, "s", "1")).toThrow(`mqtt.passwordFile: ${twoLines}: holds more than one line`);
  });

  it("reads the password without its trailing newline, and the TLS files as bytes", () => {
    const o = connectionOptionsFromConfig(
      { url: "mqtts://broker:8883", username: "u", passwordFile: file("pw", "s3cret\n"), ca: file("ca.pem", certificate, 0o644), cert: file("c.pem", certificate, 0o644), key: file("k.pem", "K") },
      "s-1",
      "1",
    );
    expect(o.password?.toString()).toBe("s3cret");
    expect([o.ca, o.cert, o.key].map((b) => b?.toString())).toEqual([certificate, certificate, "K"]);
    expect(passwordFromFile(Buffer.from("a b\r\n")).toString()).toBe("a b");
    expect(passwordFromFile(Buffer.from("ab\n\n")).toString()).toBe("ab\n");
    expect(passwordFromFile(Buffer.from("ab\r")).toString()).toBe("ab\r");
  });

  it("names the key, the file and why a file cannot be used", () => {
    const missing = join(dir, "nope");
    expect(() => connectionOptionsFromConfig({ url: "mqtt://b", username: "u", passwordFile: missing }, "s", "1")).toThrow(
      new ConfigError(`mqtt.passwordFile: ${missing}: no such file or directory (ENOENT)`),
    );
    const empty = file("empty", "\n");
    expect(() => connectionOptionsFromConfig({ url: "mqtt://b", username: "u", passwordFile: empty }, "s", "1")).toThrow(`mqtt.passwordFile: ${empty}: the password file is empty`);
    expect(() => connectionOptionsFromConfig({ url: "mqtts://b", ca: dir }, "s", "1")).toThrow(`mqtt.ca: ${dir}: is a directory, not a regular file`);
    const unreadable = file("unreadable", "x");
    chmodSync(unreadable, 0o000);
    if (process.getuid?.() !== 0) {
      expect(() => connectionOptionsFromConfig({ url: "mqtts://b", cert: unreadable, key: unreadable }, "s", "1")).toThrow(/^mqtt\.cert: .*permission denied/);
    }
  });

  it("refuses combinations that cannot work", () => {
    const pem = file("x.pem", "X");
    expect(() => connectionOptionsFromConfig({ url: "mqtt://b", ca: pem }, "s", "1")).toThrow("mqtt.ca is set but mqtt.url mqtt://b is not TLS");
    expect(() => connectionOptionsFromConfig({ url: "mqtts://b", cert: pem }, "s", "1")).toThrow("mqtt.key is set alone".replace("key", "cert"));
    expect(() => connectionOptionsFromConfig({ url: "mqtt://b", passwordFile: pem }, "s", "1")).toThrow("mqtt.passwordFile is set but mqtt.username is not");
  });
});

describe("MqttConnection against mosquitto", () => {
  let broker: Mosquitto;
  beforeAll(async () => {
    broker = await startMosquitto({ globalLines: ["allow_anonymous true"] });
  });
  afterAll(() => broker.close());

  it("rejects a publish while not connected, instead of queueing it", async () => {
    const a = agent(broker.url, "idle");
    await expect(a.conn.publish("led/v1/idle/events", "{}", { qos: 1 })).rejects.toThrow(LinkDownError);
    expect(a.conn.connected).toBe(false);
    expect(a.conn.protocolVersion).toBeNull();
  });

  it("connects on MQTT 5, sets the retained online state, hands up messages and publishes QoS 1", async () => {
    const ops = await observer(broker.url);
    await ops.client.publishAsync("led/v1/s1/schedule", "the schedule", { qos: 1, retain: true });
    const a = agent(broker.url, "s1");
    a.conn.start();
    expect(await connected(a)).toEqual({ sessionPresent: false, protocolVersion: 5 });
    expect(a.conn.connected).toBe(true);
    expect(a.conn.protocolVersion).toBe(5);

    await ops.client.subscribeAsync(["led/v1/s1/state", "led/v1/s1/cmd/result"], { qos: 1 });
    await waitFor("the online state", () => ops.received.some((p) => p.topic === "led/v1/s1/state"));
    const state = ops.received.find((p) => p.topic === "led/v1/s1/state");
    expect(state?.retain).toBe(true);
    expect(stateOf(state)).toMatchObject({ online: true, version: "9.9.9" });

    await waitFor("the retained schedule", () => a.messages.length > 0);
    expect(a.messages[0]).toMatchObject({ topic: "led/v1/s1/schedule", retain: true });
    expect(a.messages[0].payload.toString()).toBe("the schedule");

    const correlationData = Buffer.from("corr-1");
    await ops.client.publishAsync("led/v1/s1/cmd", '{"command":1}', { qos: 1, properties: { responseTopic: "ops/replies", correlationData } });
    await waitFor("the command", () => a.messages.some((m) => m.topic === "led/v1/s1/cmd"));
    const cmd = a.messages.find((m) => m.topic === "led/v1/s1/cmd");
    expect(cmd).toMatchObject({ retain: false, responseTopic: "ops/replies", correlationData });

    await a.conn.publish("led/v1/s1/cmd/result", '{"ok":true}', { qos: 1, correlationData });
    await waitFor("the result", () => ops.received.some((p) => p.topic === "led/v1/s1/cmd/result"));
    expect(ops.received.find((p) => p.topic === "led/v1/s1/cmd/result")?.properties?.correlationData).toEqual(correlationData);
  });

  it("catches and logs a listener that throws; the other listeners still get the message", async () => {
    const a = agent(broker.url, "s2");
    a.conn.on("message", () => {
      throw new Error("listener broke");
    });
    const after: string[] = [];
    a.conn.on("message", (m) => after.push(m.topic));
    a.conn.start();
    await connected(a);
    const ops = await observer(broker.url);
    await ops.client.publishAsync("led/v1/s2/cmd", "x", { qos: 1 });
    await waitFor("the second listener", () => after.length === 1);
    expect(a.logs.lines.find((l) => l.msg.includes("listener broke"))?.level).toBe(50);
  });

  it("the Last Will sets online:false when the agent's socket dies, and it comes back online", async () => {
    const a = agent(broker.url, "s3");
    a.conn.start();
    await connected(a);
    const ops = await observer(broker.url);
    await ops.client.subscribeAsync("led/v1/s3/state", { qos: 1 });
    await waitFor("online", () => stateOf(ops.received.at(-1))?.online === true);

    const disconnected = once(a.conn, "disconnected");
    a.clients[0].stream.destroy();
    await waitFor("the will", () => stateOf(ops.received.at(-1))?.online === false);
    expect(ops.received.at(-1)?.topic).toBe("led/v1/s3/state");
    const [reason] = (await disconnected) as [string];
    expect(reason).toMatch(/closed/);
    await waitFor("online again", () => stateOf(ops.received.at(-1))?.online === true && a.conn.connected);
    expect(a.clients).toHaveLength(2);
  });

  it("a clean stop publishes online:false retained and disconnects", async () => {
    const a = agent(broker.url, "s4");
    a.conn.start();
    await connected(a);
    const reasons: string[] = [];
    a.conn.on("disconnected", (r) => reasons.push(r));
    await a.conn.stop();
    await a.conn.stop();
    expect(a.conn.connected).toBe(false);
    expect(reasons).toEqual(["stopped"]);
    const ops = await observer(broker.url);
    await ops.client.subscribeAsync("led/v1/s4/state", { qos: 1 });
    await waitFor("the retained state", () => ops.received.length > 0);
    expect(ops.received[0].retain).toBe(true);
    expect(stateOf(ops.received[0])?.online).toBe(false);
    await expect(a.conn.publish("led/v1/s4/events", "{}", { qos: 0 })).rejects.toThrow(/not connected/);
  });

  it("a QoS 1 command sent while the agent was away arrives when it comes back (persistent session), after 'connected'", async () => {
    const first = agent(broker.url, "s5");
    first.conn.start();
    await connected(first);
    await first.conn.stop();
    const ops = await observer(broker.url);
    await ops.client.publishAsync("led/v1/s5/cmd", "while away", { qos: 1 });

    const again = agent(broker.url, "s5");
    const order: string[] = [];
    again.conn.on("connected", (info) => order.push(`connected ${info.sessionPresent}`));
    again.conn.on("message", (m) => order.push(m.payload.toString()));
    again.conn.start();
    await waitFor("the queued command", () => order.includes("while away"));
    expect(order).toEqual(["connected true", "while away"]);
  });

  it("stop() while the broker is unreachable returns at once and never throws", async () => {
    const a = agent(`mqtt://127.0.0.1:${await freePort()}`, "s6");
    a.conn.start();
    await waitFor("a refusal", () => a.logs.lines.length > 0);
    const started = Date.now();
    await a.conn.stop();
    expect(Date.now() - started).toBeLessThan(500);
    expect(a.logs.lines[0].msg).toMatch(/^could not connect to the MQTT broker: connection refused: .*\[ECONNREFUSED\]; retrying in \d+ ms$/);
  });

  it("gives up on a broker that accepts TCP but never answers, after connectTimeoutMs", async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as { port: number }).port;
    const a = agent(`mqtt://127.0.0.1:${port}`, "s7", { options: { connectTimeoutMs: 200 } });
    a.conn.start();
    await waitFor("two timeouts", () => a.logs.lines.length >= 2);
    expect(a.logs.lines[0].reason).toBe("no CONNACK from the broker within 200 ms");
    // A timeout is not a refusal of MQTT 5.
    expect(a.versions.every((v) => v === 5)).toBe(true);
    // Stopping mid-attempt cuts the socket rather than waiting for a DISCONNECT to go out.
    await waitFor("a third attempt", () => a.clients.length >= 3);
    const stopping = Date.now();
    await a.conn.stop();
    expect(Date.now() - stopping).toBeLessThan(500);
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
  });
});

describe("MqttConnection when the broker goes away", () => {
  let broker: Mosquitto;
  beforeAll(async () => {
    broker = await startMosquitto({ globalLines: ["allow_anonymous true"] });
  });
  afterAll(() => broker.close());
  // A failed test may leave the broker dead; the next one starts with it running.
  afterEach(() => broker.restart());

  const retries = (a: Agent): number[] => a.logs.lines.filter((l) => l.retryInMs !== undefined).map((l) => l.retryInMs as number);
  // The top of every draw: delays of 150, 450, 500, 500 … ms from the 50 ms floor.
  const topDraw = (): number => 0.999_999;

  it("reconnects with backoff after a kill; a connection that drops at once does not reset it", async () => {
    const a = agent(broker.url, "k1", { options: { stableAfterMs: 400 }, random: topDraw });
    a.conn.start();
    await connected(a);

    const reason = once(a.conn, "disconnected");
    await broker.kill();
    expect((await reason)[0]).toMatch(/^(the broker closed the connection|the connection was reset \[ECONNRESET\])$/);
    await waitFor("four retries", () => retries(a).length >= 4);
    expect(retries(a).slice(0, 4)).toEqual([150, 450, 500, 500]);
    const lines = a.logs.lines.filter((l) => l.retryInMs !== undefined);
    expect(lines[0].msg).toMatch(/^disconnected from the MQTT broker: /);
    expect(lines.slice(1, 4).map((l) => l.reason)).toEqual(Array(3).fill("connection refused: is the broker running, is the port in mqtt.url right? [ECONNREFUSED]"));

    const back = connected(a);
    await broker.restart();
    await back;
    const before = retries(a).length;
    await broker.kill();
    await waitFor("the next retry", () => retries(a).length > before);
    expect(retries(a)[before]).toBe(500);
    const again = connected(a);
    await broker.restart();
    await again;
  });

  it("starts the backoff afresh after a connection that stayed up longer than stableAfterMs", async () => {
    const a = agent(broker.url, "k2", { options: { stableAfterMs: 300 }, random: topDraw });
    a.conn.start();
    await connected(a);
    await broker.kill();
    await waitFor("three retries", () => retries(a).length >= 3);
    const up = connected(a);
    await broker.restart();
    await up;
    await new Promise((r) => setTimeout(r, 400));
    const before = retries(a).length;
    await broker.kill();
    await waitFor("the next retry", () => retries(a).length > before);
    expect(retries(a)[before]).toBe(150);
    const again = connected(a);
    await broker.restart();
    await again;
  });

  it("keeps the session across a broker restart: a command queued for the stopped agent still arrives", async () => {
    const first = agent(broker.url, "k3");
    first.conn.start();
    await connected(first);
    await first.conn.stop();
    const ops = await observer(broker.url);
    await ops.client.publishAsync("led/v1/k3/cmd", "queued before the restart", { qos: 1 });
    await ops.client.endAsync();
    await broker.restart();

    const after = agent(broker.url, "k3");
    after.conn.start();
    expect((await connected(after)).sessionPresent).toBe(true);
    await waitFor("the queued command", () => after.messages.some((m) => m.payload.toString() === "queued before the restart"));
  });
});

/** Makes the first client's SUBSCRIBE go out only once `count` messages have arrived (or 5 s passed). */
function holdSubscribeUntil(count: number): (client: MqttClient) => void {
  let first = true;
  return (client) => {
    if (!first) return;
    first = false;
    let received = 0;
    client.on("packetreceive", (packet) => void (packet.cmd === "publish" && received++));
    const subscribe = client.subscribe.bind(client) as (...args: unknown[]) => MqttClient;
    const deadline = Date.now() + 5000;
    client.subscribe = ((...args: unknown[]) => {
      const go = (): unknown => (received >= count || Date.now() > deadline ? subscribe(...args) : setTimeout(go, 5));
      go();
      return client;
    }) as typeof client.subscribe;
  };
}

describe("MqttConnection with a long queue waiting in its session", () => {
  it("holds at most 1000 messages before 'connected'; the rest stay unacknowledged and arrive on the next connect", async () => {
    const broker = await startMosquitto({ globalLines: ["allow_anonymous true", "max_queued_messages 5000"] });
    try {
      const first = agent(broker.url, "q1");
      first.conn.start();
      await connected(first);
      await first.conn.stop();
      const ops = await observer(broker.url);
      const sent = Array.from({ length: 1500 }, (_, i) => `m${i}`);
      await Promise.all(sent.map((m) => ops.client.publishAsync("led/v1/q1/cmd", m, { qos: 1 })));

      // The SUBSCRIBE waits until more than 1000 messages came in, however fast mosquitto is.
      const again = agent(broker.url, "q1", { onClient: holdSubscribeUntil(1001) });
      again.conn.start();
      await waitFor("every queued message", () => new Set(again.messages.map((m) => m.payload.toString())).size === sent.length);
      expect(again.logs.lines[0].reason).toBe("more than 1000 messages arrived before the subscriptions were confirmed");
      expect(again.conn.connected).toBe(true);
    } finally {
      await broker.close();
    }
  });
});

describe("MqttConnection with a user name and password", () => {
  let broker: Mosquitto;
  const { dir, cleanup } = tempDir("ledagent-mqtt-auth-");
  beforeAll(async () => {
    const passwords = join(dir, "passwords");
    const r = spawnSync("mosquitto_passwd", ["-b", "-c", passwords, "screen-a", "right horse battery"], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`mosquitto_passwd failed: ${r.stderr}`);
    chmodSync(dir, 0o755);
    chmodSync(passwords, 0o644);
    broker = await startMosquitto({ globalLines: ["allow_anonymous false", `password_file ${passwords}`] });
  });
  afterAll(async () => {
    await broker.close();
    cleanup();
  });

  it("connects with the right password read from the password file", async () => {
    const passwordFile = join(dir, "good");
    writeFileSync(passwordFile, "right horse battery\n", { mode: 0o600 });
    const a = agent(broker.url, "auth1", { config: { username: "screen-a", passwordFile } });
    a.conn.start();
    expect((await connected(a)).protocolVersion).toBe(5);
  });

  it("logs 'not authorised' with the broker's code for a wrong password, and keeps trying on MQTT 5", async () => {
    const passwordFile = join(dir, "bad");
    writeFileSync(passwordFile, "wrong\n", { mode: 0o600 });
    const a = agent(broker.url, "auth2", { config: { username: "screen-a", passwordFile } });
    a.conn.start();
    await waitFor("two refusals", () => a.logs.lines.length >= 2);
    // mosquitto answers a wrong password with 135 (not authorised) rather than 134.
    expect(a.logs.lines[0].reason).toBe(`refused by the broker: ${NOT_AUTHORISED} [code 135]`);
    expect(a.versions).toEqual(a.versions.map(() => 5));
    expect(a.conn.connected).toBe(false);
  });
});

describe("MqttConnection falling back to MQTT 3.1.1", () => {
  it("against aedes (3.1.1 only): refused with 'unacceptable protocol version', stays on 4, messages and the session work", async () => {
    const aedes = await Aedes.createBroker();
    const server = createServer(aedes.handle);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const a = agent(url, "f1");
      a.conn.start();
      expect(await connected(a)).toEqual({ sessionPresent: false, protocolVersion: 4 });
      expect(a.conn.protocolVersion).toBe(4);
      const fallbackLines = a.logs.lines.filter((l) => /did not take MQTT 5/.test(l.msg));
      expect(fallbackLines).toHaveLength(1);
      expect(fallbackLines[0].msg).toContain("[code 1]");

      const ops = await observer(url, 4);
      await ops.client.subscribeAsync("led/v1/f1/cmd/result", { qos: 1 });
      await ops.client.publishAsync("led/v1/f1/cmd", "on 3.1.1", { qos: 1 });
      await waitFor("the command", () => a.messages.some((m) => m.payload.toString() === "on 3.1.1"));
      expect(a.messages.find((m) => m.topic === "led/v1/f1/cmd")).not.toHaveProperty("correlationData");
      await a.conn.publish("led/v1/f1/cmd/result", "done", { qos: 1, correlationData: Buffer.from("ignored") });
      await waitFor("the result", () => ops.received.length === 1);

      // A dropped connection comes back on 4 straight away: 5 is not tried again in this process.
      a.clients.at(-1)?.stream.destroy();
      await waitFor("reconnected", () => a.clients.length === 3 && a.conn.connected);
      expect(a.versions).toEqual([5, 4, 4]);

      // Persistent session on 3.1.1: a command sent while the agent is stopped arrives later.
      await a.conn.stop();
      await ops.client.publishAsync("led/v1/f1/cmd", "while away", { qos: 1 });
      const again = agent(url, "f1");
      again.conn.start();
      await waitFor("the queued command", () => again.messages.some((m) => m.payload.toString() === "while away"));
      expect(again.conn.protocolVersion).toBe(4);
    } finally {
      await Promise.all(running.splice(0).map((c) => c.stop()));
      await Promise.all(observers.splice(0).map((c) => c.endAsync(true)));
      await new Promise((r) => aedes.close(() => r(undefined)));
      await new Promise((r) => server.close(r));
    }
  });

  it("after two MQTT 5 connections closed before any CONNACK (an old broker), reconnects on 4", async () => {
    const broker = await startMosquitto({ globalLines: ["allow_anonymous true"] });
    const proxy = await startRefusingProxy(broker.port);
    try {
      const a = agent(proxy.url, "f2");
      a.conn.start();
      expect((await connected(a)).protocolVersion).toBe(4);
      expect(proxy.levels).toEqual([5, 5, 4]);
      expect(a.logs.lines.filter((l) => /did not take MQTT 5/.test(l.msg))).toHaveLength(1);
      expect(a.logs.text()).toContain("closed the connection before any CONNACK on 2 MQTT 5 attempts in a row");
    } finally {
      await Promise.all(running.splice(0).map((c) => c.stop()));
      await proxy.close();
      await broker.close();
    }
  });
});
