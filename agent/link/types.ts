// What the MQTT link's parts say to each other: topics under led/v1/<screen>/ (spec/mqtt-api.md),
// the messages the connection delivers, and how a part publishes. The connection knows MQTT; the
// parts above it (schedule, commands, telemetry, proof sync) know only these shapes, so each can
// be built in a test with a fake publisher.

/** The topic prefix every topic of one screen lives under. */
export function screenTopic(screenId: string, leaf: LinkTopic): string {
  return `led/v1/${screenId}/${leaf}`;
}

export const LINK_TOPICS = ["schedule", "schedule/status", "cmd", "cmd/result", "state", "telemetry", "events", "proofs", "proofs/ack", "proofs/head"] as const;
export type LinkTopic = (typeof LINK_TOPICS)[number];

/** One message as the connection hands it up. */
export interface LinkMessage {
  topic: string;
  payload: Buffer;
  retain: boolean;
  /** MQTT 5 request/response: where the answer goes, and what it must carry back. */
  responseTopic?: string;
  correlationData?: Buffer;
}

export interface PublishOptions {
  qos: 0 | 1;
  retain?: boolean;
  /** MQTT 5 only; ignored on a 3.1.1 connection. */
  correlationData?: Buffer;
}

/** How a part sends: resolves when the broker took it (PUBACK for QoS 1), rejects when the link is down. */
export type Publish = (topic: string, payload: string | Buffer, options: PublishOptions) => Promise<void>;

/** A link error code: a refusal at the link, before the command registry ever sees the command. */
export const LINK_REFUSAL_CODES = [
  /** Not JSON, not an envelope, a field missing or of the wrong type. */
  "malformed",
  /** Bigger than the link reads (64 KiB for a command). */
  "too-large",
  /** No sig, a sig that does not verify under the ops key, or no ops key configured. */
  "bad-signature",
  /** Signed for another screen. */
  "wrong-screen",
  /** expiresAt has passed. */
  "expired",
  /** issuedAt is more than 5 minutes ahead of the agent's clock. */
  "not-yet-valid",
  /** This id was executed (or began executing) before: never executed twice. */
  "replayed",
] as const;
export type LinkRefusalCode = (typeof LINK_REFUSAL_CODES)[number];

/**
 * Turns Nagle's algorithm off on a client's socket once it is connected. mqtt.js leaves it on, and
 * with the peer's delayed ACKs every request/answer pair (a command and its result, a proof batch
 * and its ack) then waits some 40 ms per direction: a 90 ms round trip on loopback instead of 1 ms.
 */
export function sendWithoutDelay(client: { stream?: unknown }): void {
  const stream = client.stream as { setNoDelay?: (on: boolean) => unknown } | undefined;
  stream?.setNoDelay?.(true);
}
