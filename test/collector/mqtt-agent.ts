// The agent's side of proof sync over a real broker, for the collector's integration tests: a
// device ledger, its outbox and a ProofSync publishing through a plain mqtt.js client that routes
// proofs/ack back to it (the link's own connection is not what these tests are about).
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { ProofSync } from "../../agent/link/proof-sync.js";
import { sendWithoutDelay } from "../../agent/link/types.js";
import { silentLogger } from "../../agent/log.js";
import { ProofOutbox } from "../../agent/proofs/index.js";
import { makeLedger, type TestLedger } from "../proofs/fixtures.js";

export interface TestAgent {
  screen: string;
  device: TestLedger;
  outbox: ProofOutbox;
  sync: ProofSync;
  client: MqttClient;
  close(): Promise<void>;
}

export async function startAgent(url: string, dir: string, screen: string, opts: { ackTimeoutMs?: number } = {}): Promise<TestAgent> {
  const device = makeLedger(join(dir, screen), screen);
  const outbox = new ProofOutbox(device.db);
  const client = await mqtt.connectAsync(url, { protocolVersion: 5, clientId: `agent-${screen}`, clean: true, reconnectPeriod: 200 });
  sendWithoutDelay(client); // as the agent's own connection does
  const sync = new ProofSync({
    outbox,
    screenId: screen,
    connected: () => client.connected,
    log: silentLogger(),
    ackTimeoutMs: opts.ackTimeoutMs ?? 2000,
    publish: async (topic, payload, o) => {
      await client.publishAsync(topic, payload, { qos: o.qos });
    },
  });
  client.on("message", (topic, payload) => {
    if (topic === `led/v1/${screen}/proofs/ack`) sync.onAck(payload);
  });
  await client.subscribeAsync(`led/v1/${screen}/proofs/ack`, { qos: 1 });
  return {
    screen,
    device,
    outbox,
    sync,
    client,
    async close() {
      sync.stop();
      await client.endAsync(true);
      device.db.close();
    },
  };
}

/** Resolves when `check` holds, polling; rejects with `what` after `timeoutMs`. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
