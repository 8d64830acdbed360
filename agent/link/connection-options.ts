// What the MQTT connection needs to know, and how it is made from the config's `mqtt` section:
// the files it names (password, CA, client certificate and key) are read here, once, so that a
// missing or unreadable file stops the agent at start with the key and the file named, instead of
// surfacing later as a refused connection in a reconnect loop.
import { X509Certificate } from "node:crypto";
import { statSync } from "node:fs";
import { ConfigError, type Config } from "../config.js";
import { readTrustedFile, TrustedFileError } from "../store/trusted-file.js";
import type { BackoffPolicy } from "./backoff.js";
import { screenTopic } from "./types.js";

export interface ConnectionOptions {
  /** mqtt://, mqtts://, ws:// or wss:// */
  url: string;
  /** Stable across restarts: the broker keeps the session (subscriptions, queued QoS 1 messages) under it. */
  clientId: string;
  username?: string;
  password?: Buffer;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  will: { topic: string; payload: string; qos: 1; retain: true };
  /**
   * When given, the will's payload is made afresh for every connect, so its `at` is the time of
   * that connect rather than of the process start; `will.payload` is used otherwise.
   */
  willPayload?: () => string;
  /** Published (retained, QoS 1) on every connect, before 'connected' is emitted. */
  online: { topic: string; payload: () => string };
  /** Published on a clean stop, before disconnecting (the will is not sent on a clean disconnect). */
  offline: { topic: string; payload: () => string };
  subscriptions: Array<{ topic: string; qos: 0 | 1 }>;
  /** Default 30. */
  keepaliveS?: number;
  /** MQTT 5 Session Expiry Interval; default 7 days. */
  sessionExpiryS?: number;
  /** Default 1 s → 5 min. */
  backoff?: BackoffPolicy;
  /** From the start of an attempt to 'connected' (CONNACK, SUBACK, the online PUBACK); default 30 s. */
  connectTimeoutMs?: number;
  /** A connection that stayed up this long starts the backoff afresh when it drops; default 60 s. */
  stableAfterMs?: number;
}

export const DEFAULT_KEEPALIVE_S = 30;
export const DEFAULT_SESSION_EXPIRY_S = 7 * 24 * 3600;
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
export const DEFAULT_STABLE_AFTER_MS = 60_000;

/** Certificates, keys and password files are small; anything bigger is the wrong file. */
const MAX_SECRET_FILE_BYTES = 256 * 1024;

type MqttConfig = NonNullable<Config["mqtt"]>;
type FileKey = "passwordFile" | "ca" | "cert" | "key";

/** A file named by `mqtt.<key>`, read whole; the error names the key, the file and why. */
function readConfigFile(key: FileKey, path: string): Buffer {
  let bytes: Buffer;
  try {
    // Trusted as the ops key is: anyone who could rewrite the CA or the certificate could point
    // the screen at their own broker.
    bytes = readTrustedFile(path, { maxBytes: MAX_SECRET_FILE_BYTES, refuseWritableByOthers: true });
  } catch (err) {
    // TrustedFileError messages start with the path already.
    const why = err instanceof TrustedFileError ? err.message : `${path}: ${(err as Error).message}`;
    throw new ConfigError(`mqtt.${key}: ${why}`);
  }
  // Secrets: not for every local user to read.
  if ((key === "passwordFile" || key === "key") && (statSync(path).mode & 0o004) !== 0) {
    throw new ConfigError(`mqtt.${key}: ${path}: is readable by every user (mode ${(statSync(path).mode & 0o777).toString(8)}); fix with \`chmod o-r ${path}\``);
  }
  if (key === "ca" || key === "cert") checkCertificate(key, path, bytes);
  return bytes;
}

/** A CA or client certificate that is not one is said now, not as a puzzling TLS error later. */
function checkCertificate(key: FileKey, path: string, bytes: Buffer): void {
  try {
    new X509Certificate(bytes);
  } catch (err) {
    throw new ConfigError(`mqtt.${key}: ${path}: not a PEM certificate (${(err as Error).message})`);
  }
}

/** The password is the file's bytes without one trailing newline (how editors and `echo` save it). */
export function passwordFromFile(bytes: Buffer): Buffer {
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === 0x0a) end--;
  if (end > 0 && bytes[end - 1] === 0x0d && end < bytes.length) end--;
  return bytes.subarray(0, end);
}

function readPassword(path: string): Buffer {
  const password = passwordFromFile(readConfigFile("passwordFile", path));
  if (password.length === 0) throw new ConfigError(`mqtt.passwordFile: ${path}: the password file is empty`);
  if (password.includes(0x0a)) throw new ConfigError(`mqtt.passwordFile: ${path}: holds more than one line; the password is the first line alone`);
  return password;
}

function checkCombination(mqtt: MqttConfig): void {
  const tls = /^(mqtts|wss):/.test(mqtt.url);
  for (const key of ["ca", "cert", "key"] as const) {
    if (mqtt[key] !== undefined && !tls) {
      throw new ConfigError(`mqtt.${key} is set but mqtt.url ${mqtt.url} is not TLS: use mqtts:// or wss://`);
    }
  }
  if ((mqtt.cert === undefined) !== (mqtt.key === undefined)) {
    throw new ConfigError(`mqtt.cert and mqtt.key go together: ${mqtt.cert === undefined ? "mqtt.key" : "mqtt.cert"} is set alone`);
  }
  // MQTT 3.1.1 (the fallback) cannot carry a password without a user name.
  if (mqtt.passwordFile !== undefined && mqtt.username === undefined) {
    throw new ConfigError("mqtt.passwordFile is set but mqtt.username is not: a password needs a user name");
  }
}

/** The retained `state` payload (spec/mqtt-api.md). */
export function statePayload(online: boolean, version: string, atMs: number): string {
  return JSON.stringify({ online, version, at: new Date(atMs).toISOString() });
}

export function connectionOptionsFromConfig(mqtt: MqttConfig, screenId: string, version: string, now: () => number = Date.now): ConnectionOptions {
  checkCombination(mqtt);
  const state = screenTopic(screenId, "state");
  const offlinePayload = (): string => statePayload(false, version, now());
  return {
    url: mqtt.url,
    clientId: `ledagent-${screenId}`,
    ...(mqtt.username === undefined ? {} : { username: mqtt.username }),
    ...(mqtt.passwordFile === undefined ? {} : { password: readPassword(mqtt.passwordFile) }),
    ...(mqtt.ca === undefined ? {} : { ca: readConfigFile("ca", mqtt.ca) }),
    ...(mqtt.cert === undefined ? {} : { cert: readConfigFile("cert", mqtt.cert) }),
    ...(mqtt.key === undefined ? {} : { key: readConfigFile("key", mqtt.key) }),
    will: { topic: state, payload: offlinePayload(), qos: 1, retain: true },
    willPayload: offlinePayload,
    online: { topic: state, payload: () => statePayload(true, version, now()) },
    offline: { topic: state, payload: offlinePayload },
    subscriptions: [
      { topic: screenTopic(screenId, "schedule"), qos: 1 },
      { topic: screenTopic(screenId, "cmd"), qos: 1 },
      { topic: screenTopic(screenId, "proofs/ack"), qos: 1 },
    ],
  };
}

// Why a connection failed or ended, in the words a technician reads in the log; the code stays in
// brackets for searches. Kept beside the options because most of them point at one: mqtt.url,
// mqtt.username and mqtt.passwordFile, mqtt.ca, mqtt.cert and mqtt.key.

// What mosquitto, among others, answers for a wrong password as well as for a refused certificate.
const NOT_AUTHORISED = "not authorised (the user name, password or client certificate was not accepted)";

/** CONNACK refusals (3.1.1 return codes 1–5, MQTT 5 reason codes ≥ 128) and DISCONNECT reasons. */
const REASON_CODES: Record<number, string> = {
  1: "the broker does not accept this MQTT version",
  2: "the broker rejected the client id",
  3: "the broker is unavailable",
  4: "not authorised: bad user name or password (mqtt.username, mqtt.passwordFile)",
  5: NOT_AUTHORISED,
  128: "unspecified error",
  129: "malformed packet",
  130: "protocol error",
  131: "implementation-specific error",
  132: "the broker does not accept this MQTT version",
  133: "the broker rejected the client id",
  134: "not authorised: bad user name or password (mqtt.username, mqtt.passwordFile)",
  135: NOT_AUTHORISED,
  136: "the broker is unavailable",
  137: "the broker is busy",
  138: "banned by the broker",
  139: "the broker is shutting down",
  140: "bad authentication method",
  141: "keep-alive timeout",
  142: "session taken over: another client connected with the same client id",
  149: "packet too large",
  151: "quota exceeded",
  152: "administrative action",
  159: "connection rate exceeded",
};

export function describeReasonCode(code: number, reasonString?: string): string {
  const words = REASON_CODES[code] ?? "refused";
  return `${words}${reasonString ? ` (${reasonString})` : ""} [code ${code}]`;
}

const SOCKET_ERRORS: Record<string, string> = {
  ECONNREFUSED: "connection refused: is the broker running, is the port in mqtt.url right?",
  ECONNRESET: "the connection was reset",
  EPIPE: "the broker closed the connection",
  ETIMEDOUT: "timed out",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "the host name could not be looked up",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
};

const UNTRUSTED = "the broker's certificate is not signed by a CA the agent trusts (mqtt.ca)";
const TLS_ERRORS: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: UNTRUSTED,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: UNTRUSTED,
  UNABLE_TO_GET_ISSUER_CERT: UNTRUSTED,
  SELF_SIGNED_CERT_IN_CHAIN: UNTRUSTED,
  DEPTH_ZERO_SELF_SIGNED_CERT: "the broker's certificate is self-signed and not trusted (mqtt.ca)",
  CERT_HAS_EXPIRED: "the broker's certificate has expired",
  CERT_NOT_YET_VALID: "the broker's certificate is not valid yet (is the clock right?)",
  ERR_TLS_CERT_ALTNAME_INVALID: "the broker's certificate does not name the host in mqtt.url",
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: "the broker requires a client certificate (mqtt.cert, mqtt.key)",
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: "the broker does not trust the agent's client certificate (signed by a CA it does not know)",
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: "the broker refused the agent's client certificate",
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: "the broker says the agent's client certificate has expired",
  ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR: "the agent's client certificate does not match its key (mqtt.cert, mqtt.key)",
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: "the TLS handshake failed (a client certificate missing, or nothing in common)",
  ERR_SSL_WRONG_VERSION_NUMBER: "the port does not speak TLS (mqtts:// to a plain listener?)",
};

/** An error of mqtt.js, the socket or TLS, as one line. */
export function describeConnectionError(err: unknown): string {
  const e = err as Error & { code?: unknown };
  if (typeof e.code === "string" && TLS_ERRORS[e.code]) return `TLS: ${TLS_ERRORS[e.code]} [${e.code}]`;
  if (typeof e.code === "string" && SOCKET_ERRORS[e.code]) return `${SOCKET_ERRORS[e.code]} [${e.code}]`;
  if (typeof e.code === "number" && REASON_CODES[e.code]) return describeReasonCode(e.code);
  if (e.message === "Keepalive timeout") return "the broker stopped answering keep-alive pings";
  const message = (e.message ?? String(err)).split("\n")[0];
  return typeof e.code === "string" && !message.includes(e.code) ? `${message} [${e.code}]` : message;
}
