// The MQTT connection over TLS against a real mosquitto that requires a client certificate: the
// right certificate gets in; every wrong one is refused with a log line that names the problem.
import { once } from "node:events";
import { Writable } from "node:stream";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MqttConnection, type ConnectedInfo } from "../../agent/link/connection.js";
import { connectionOptionsFromConfig } from "../../agent/link/connection-options.js";
import { freePort, startMosquitto, type Mosquitto } from "../helpers/mosquitto.js";
import { makeTestPki, type KeyPair, type TestPki } from "../helpers/test-ca.js";

type LogLine = { msg: string; reason?: string };

let pki: TestPki;
let broker: Mosquitto;
/** A second listener on the same broker whose certificate names only other.invalid. */
let wrongNamePort: number;
const running: MqttConnection[] = [];

beforeAll(async () => {
  pki = makeTestPki();
  wrongNamePort = await freePort();
  const tls = (server: KeyPair): string[] => [`cafile ${pki.ca}`, `certfile ${server.cert}`, `keyfile ${server.key}`, "require_certificate true", "use_identity_as_username true"];
  broker = await startMosquitto({
    globalLines: ["allow_anonymous false"],
    listenerLines: [...tls(pki.server), `listener ${wrongNamePort} 127.0.0.1`, ...tls(pki.wrongNameServer)],
  });
});

afterAll(async () => {
  await broker?.close();
  pki?.cleanup();
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop()));
});

interface TlsAgent {
  conn: MqttConnection;
  lines: LogLine[];
  versions: number[];
}

function agent(url: string, files: { ca: string; cert?: string; key?: string }): TlsAgent {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split("\n")) if (line) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const versions: number[] = [];
  const connect = (u: string, o: IClientOptions): MqttClient => {
    versions.push(o.protocolVersion ?? 4);
    return mqtt.connect(u, o);
  };
  const options = { ...connectionOptionsFromConfig({ url, ...files }, "tls-1", "9.9.9"), backoff: { minMs: 50, maxMs: 500 } };
  const conn = new MqttConnection({ options, log: pino({ level: "info" }, sink), connect: connect as typeof mqtt.connect });
  running.push(conn);
  return { conn, lines, versions };
}

async function refusal(a: TlsAgent): Promise<string> {
  a.conn.start();
  const deadline = Date.now() + 5000;
  // Two attempts: the refusal repeats, and is never mistaken for a broker that does not speak MQTT 5.
  while (a.lines.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  expect(a.lines.length).toBeGreaterThanOrEqual(2);
  expect(a.conn.connected).toBe(false);
  expect(a.versions.every((v) => v === 5)).toBe(true);
  expect(a.lines[1].reason).toBe(a.lines[0].reason);
  return a.lines[0].reason ?? "";
}

describe("MqttConnection over TLS", () => {
  it("connects with a client certificate signed by the broker's CA, to 127.0.0.1 and to localhost", async () => {
    for (const host of ["127.0.0.1", "localhost"]) {
      const a = agent(`mqtts://${host}:${broker.port}`, { ca: pki.ca, cert: pki.client.cert, key: pki.client.key });
      a.conn.start();
      const [info] = (await once(a.conn, "connected")) as [ConnectedInfo];
      expect(info.protocolVersion).toBe(5);
      await a.conn.stop();
    }
  });

  it("is refused without a client certificate", async () => {
    const reason = await refusal(agent(`mqtts://127.0.0.1:${broker.port}`, { ca: pki.ca }));
    expect(reason).toBe("TLS: the broker requires a client certificate (mqtt.cert, mqtt.key) [ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED]");
  });

  it("is refused with a client certificate from another CA", async () => {
    const reason = await refusal(agent(`mqtts://127.0.0.1:${broker.port}`, { ca: pki.ca, cert: pki.otherClient.cert, key: pki.otherClient.key }));
    expect(reason).toBe("TLS: the broker does not trust the agent's client certificate (signed by a CA it does not know) [ERR_SSL_TLSV1_ALERT_UNKNOWN_CA]");
  });

  it("refuses a broker whose certificate its ca does not trust", async () => {
    const reason = await refusal(agent(`mqtts://127.0.0.1:${broker.port}`, { ca: pki.otherCa, cert: pki.client.cert, key: pki.client.key }));
    expect(reason).toMatch(/^TLS: the broker's certificate is not signed by a CA the agent trusts \(mqtt\.ca\) \[(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)\]$/);
  });

  it("refuses a broker whose certificate, though signed by the trusted CA, names another host", async () => {
    const reason = await refusal(agent(`mqtts://127.0.0.1:${wrongNamePort}`, { ca: pki.ca, cert: pki.client.cert, key: pki.client.key }));
    expect(reason).toBe("TLS: the broker's certificate does not name the host in mqtt.url [ERR_TLS_CERT_ALTNAME_INVALID]");
  });
});
