// The fleet's broker: the options are built exactly as the agent builds them (the same files, read
// with the same checks: agent/link/connection-options.ts), then one TCP/TLS connect and one MQTT
// CONNECT with the agent's credentials. Under a client id of its own and a clean session that
// expires at once: the agent's persistent session (and its queued commands) is never touched, and
// nothing is subscribed or published, so no will, no state, no ACL question beyond the login.
import mqtt, { type IClientOptions, type MqttClient, type Packet } from "mqtt";
import { ConfigError, type Config } from "../config.js";
import { connectionOptionsFromConfig, describeConnectionError, describeReasonCode, type ConnectionOptions } from "../link/connection-options.js";
import { VERSION } from "../version.js";
import { fail, firstLine, ok, splitFix, type CheckResult } from "./types.js";

export interface BrokerCheckDeps {
  config: Pick<Config, "mqtt" | "screenId">;
  /** In the client id, so two doctors at once do not kick each other either. */
  pid?: number;
  timeoutMs?: number;
  connect?: typeof mqtt.connect;
}

export const BROKER_TIMEOUT_MS = 4000;

type Attempt =
  | { ok: true; version: 4 | 5; ms: number }
  | { ok: false; reason: string; code: string | number | null; refusal: number | null; transportUp: boolean; timedOut: boolean };

function clientOptions(o: ConnectionOptions, clientId: string, version: 4 | 5, timeoutMs: number): IClientOptions {
  return {
    protocolVersion: version,
    clientId,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: timeoutMs,
    keepalive: 30,
    username: o.username,
    password: o.password,
    ca: o.ca,
    cert: o.cert,
    key: o.key,
    // As the agent: the broker's certificate must be trusted and name the URL's host.
    rejectUnauthorized: true,
    // Nothing of this session outlives the check.
    ...(version === 5 ? { properties: { sessionExpiryInterval: 0 } } : {}),
  };
}

function attempt(connect: typeof mqtt.connect, o: ConnectionOptions, clientId: string, version: 4 | 5, timeoutMs: number): Promise<Attempt> {
  return new Promise((resolve) => {
    const began = Date.now();
    let client: MqttClient;
    let transportUp = false;
    let refusal: number | null = null;
    let failure: { reason: string; code: string | number | null } | null = null;
    let settled = false;
    const finish = (result: Attempt): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.end(true);
      resolve(result);
    };
    const failed = (timedOut = false): void =>
      finish({ ok: false, reason: failure?.reason ?? "the broker closed the connection without answering the CONNECT", code: failure?.code ?? null, refusal, transportUp, timedOut });
    const timer = setTimeout(() => {
      failure ??= { reason: `no answer within ${timeoutMs / 1000} s`, code: "ETIMEDOUT" };
      failed(true);
    }, timeoutMs);
    try {
      client = connect(o.url, clientOptions(o, clientId, version, timeoutMs));
    } catch (err) {
      clearTimeout(timer);
      resolve({ ok: false, reason: firstLine(err), code: null, refusal: null, transportUp: false, timedOut: false });
      return;
    }
    client.stream?.once(/^(mqtts|wss):/.test(o.url) ? "secureConnect" : "connect", () => (transportUp = true));
    client.on("packetreceive", (packet: Packet) => {
      if (packet.cmd !== "connack") return;
      const code = packet.reasonCode ?? packet.returnCode ?? 0;
      if (code !== 0) {
        refusal = code;
        failure ??= { reason: `refused: ${describeReasonCode(code, packet.properties?.reasonString)}`, code };
      }
    });
    client.on("error", (err: Error & { code?: string | number }) => {
      failure ??= { reason: describeConnectionError(err), code: err.code ?? null };
    });
    let accepted: Attempt | null = null;
    client.on("connect", () => {
      accepted = { ok: true, version, ms: Date.now() - began };
      const done = accepted;
      // A polite DISCONNECT, then the result: the broker logs a clean goodbye, not a lost client.
      client.end(false, {}, () => finish(done));
      setTimeout(() => finish(done), 1000).unref();
    });
    client.on("close", () => (accepted ? finish(accepted) : failed()));
  });
}

/** What to try, from how the attempt failed. */
export function brokerFix(a: Extract<Attempt, { ok: false }>, url: string): string {
  const code = a.code;
  const host = (() => {
    try {
      return new URL(url).host;
    } catch {
      return url;
    }
  })();
  if (a.refusal === 4 || a.refusal === 5 || a.refusal === 134 || a.refusal === 135) {
    return "check mqtt.username and the password in mqtt.passwordFile (or the client certificate mqtt.cert) against the broker's password file and ACL";
  }
  if (a.refusal === 2 || a.refusal === 133) return "the broker refuses the client id: it may allow this user one id only; ask whoever runs the broker";
  if (a.refusal !== null) return "see the broker's log for this client id";
  if (code === "ECONNREFUSED") return `nothing listens on ${host}: start the broker (or ask whoever runs it), or correct the port in mqtt.url; a firewall may refuse it too`;
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return `the name in mqtt.url does not resolve: check it and this box's DNS (\`getent hosts ${host.replace(/:\d+$/, "")}\`)`;
  if (typeof code === "string" && /CERT|SSL|TLS|SELF_SIGNED|ISSUER|LEAF/.test(code)) {
    if (/ALTNAME/.test(code)) return "mqtt.url must name the host the broker's certificate names";
    if (/NOT_YET_VALID|EXPIRED/.test(code) && !/ALERT/.test(code)) return "renew the certificate, or correct this box's clock (see the clock line)";
    if (/WRONG_VERSION/.test(code)) return "that port does not speak TLS: use the broker's TLS port, or mqtt:// for a plain one";
    if (/ALERT/.test(code)) return "the broker does not accept the agent's client certificate: mqtt.cert and mqtt.key must be a pair signed by the CA the broker trusts";
    return "mqtt.ca must be the CA that signed the broker's certificate";
  }
  if (!a.transportUp && (a.timedOut || code === "ETIMEDOUT" || code === "EHOSTUNREACH" || code === "ENETUNREACH")) {
    return `check the network route to ${host} (\`nc -vz ${host.replace(/:(\d+)$/, " $1")}\`): a firewall may drop it`;
  }
  return /^mqtts?:/.test(url) ? "is that port an MQTT listener? (a TLS listener needs mqtts://, a plain one mqtt://)" : "see the broker's log for this client id";
}

export async function checkBroker(deps: BrokerCheckDeps): Promise<CheckResult> {
  const mqttConfig = deps.config.mqtt;
  if (!mqttConfig) return ok("broker", "none configured (no mqtt section): the screen plays its stored schedule, and no proofs leave it");
  let options: ConnectionOptions;
  try {
    options = connectionOptionsFromConfig(mqttConfig, deps.config.screenId, VERSION);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const { detail, fix } = splitFix(firstLine(err));
    return fail("broker", detail, fix ?? "correct the mqtt keys named above in the config");
  }
  const connect = deps.connect ?? mqtt.connect;
  const clientId = `${deps.config.screenId}-doctor-${deps.pid ?? process.pid}`;
  const timeoutMs = deps.timeoutMs ?? BROKER_TIMEOUT_MS;
  let result = await attempt(connect, options, clientId, 5, timeoutMs);
  // As the agent does: a broker that refuses MQTT 5 (or closes on it without a word) is asked in 3.1.1.
  if (!result.ok && (result.refusal === 1 || result.refusal === 132 || (result.transportUp && result.refusal === null && result.code === null))) {
    result = await attempt(connect, options, clientId, 4, timeoutMs);
  }
  const login = [options.username ? `user ${options.username}` : null, options.cert ? "client certificate" : null].filter(Boolean).join(", ");
  if (!result.ok) return fail("broker", `${mqttConfig.url}: ${result.reason}`, brokerFix(result, mqttConfig.url));
  return ok("broker", `${mqttConfig.url}: CONNECT accepted (MQTT ${result.version === 5 ? "5" : "3.1.1"}${login ? `, ${login}` : ""}) in ${result.ms} ms, as ${clientId}`);
}
