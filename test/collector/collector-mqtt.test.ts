// The collector against a real mosquitto, with the agent's proof sync on the other side: batches
// are stored and acked and the agent's outbox advances; batches published while the collector is
// away reach it when it is back (persistent session); two collectors in a shared-subscription
// group on one database file store every entry exactly once between them.
import { createServer } from "node:net";
import { join } from "node:path";
import { Aedes } from "aedes";
import mqtt from "mqtt";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Collector, CollectorStore, ScreenKeys, type BatchReport } from "../../agent/collector/index.js";
import { makeLedger } from "../proofs/fixtures.js";
import { silentLogger } from "../../agent/log.js";
import { startMosquitto, type Mosquitto } from "../helpers/mosquitto.js";
import { tempDir } from "../helpers/tmp.js";
import { appendPlays, batchOf, registerKey, storedBodies } from "./helpers.js";
import { startAgent, waitFor, type TestAgent } from "./mqtt-agent.js";

describe("collector over mosquitto", () => {
  let broker: Mosquitto;
  let tmp: ReturnType<typeof tempDir>;
  let keysDir: string;
  const closers: (() => Promise<void> | void)[] = [];

  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker.close();
  });
  beforeEach(() => {
    tmp = tempDir();
    keysDir = join(tmp.dir, "keys");
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    tmp.cleanup();
  });

  async function agent(screen: string, ackTimeoutMs?: number): Promise<TestAgent> {
    const a = await startAgent(broker.url, tmp.dir, screen, { ackTimeoutMs });
    closers.push(() => a.close());
    registerKey(keysDir, screen, a.device.publicKey);
    return a;
  }

  function collector(dbFile: string, clientId: string, group?: string, reports: BatchReport[] = []): { collector: Collector; store: CollectorStore; reports: BatchReport[] } {
    const store = CollectorStore.open(join(tmp.dir, dbFile));
    const c = new Collector({ options: { url: broker.url, clientId, group }, store, keys: new ScreenKeys(keysDir), log: silentLogger(), onBatch: (r) => reports.push(r) });
    closers.push(async () => {
      await c.stop();
      store.close();
    });
    return { collector: c, store, reports };
  }

  it("stores what the agent's proof sync sends, acks it, and the agent's outbox advances to the head", async () => {
    const a = await agent("sz-nanshan-001");
    const { collector: c, store, reports } = collector("collector.db", "collector-e2e");
    expect(await c.start()).toEqual({ protocolVersion: 5 });
    appendPlays(a.device, 1200);
    const synced = a.sync.syncNow();
    await expect(synced).resolves.toEqual({ through: 1200 });
    expect(a.outbox.unsynced()).toBe(0);
    expect([...store.bodies(a.screen)].map((r) => r.body)).toEqual(storedBodies(a.device.db, 1, 1200));
    expect(store.report(a.screen)).toMatchObject({ entries: 1200, headSeq: 1200, headHash: a.device.ledger.head()?.hash, gaps: [], problems: [] });
    expect(reports.length).toBeGreaterThanOrEqual(3); // 1200 entries do not fit 256 KiB
    expect(reports.every((r) => r.problems.length === 0 && r.acked === r.throughSeq)).toBe(true);
  });

  it("gets the batches published while it was away once it is back (persistent session)", async () => {
    // The agent would send again only after a minute: whatever arrives sooner came from the session.
    const a = await agent("sz-futian-002", 60_000);
    const first = collector("collector.db", "collector-persistent");
    await first.collector.start();
    await first.collector.stop(); // the session stays with the broker
    appendPlays(a.device, 20);
    a.sync.kick();
    await waitFor(() => a.sync.status().inFlight !== null, "the batch to be sent");
    const sentBatch = a.sync.status().inFlight?.batch;
    await new Promise((r) => setTimeout(r, 200));
    const reports: BatchReport[] = [];
    const back = collector("collector.db", "collector-persistent", undefined, reports);
    await back.collector.start();
    await waitFor(() => a.outbox.ackedThrough() === 20, "the ack of the batch sent while the collector was away", 5000);
    expect(reports.map((r) => r.batch)).toEqual([sentBatch]);
    expect(back.store.report(a.screen)?.entries).toBe(20);
  });

  it("waits for a broker that is down, and connects on MQTT 5 once it is up (refused connections are no reason to fall back)", async () => {
    await broker.stop();
    const store = CollectorStore.open(join(tmp.dir, "collector.db"));
    const c = new Collector({ options: { url: broker.url, clientId: "collector-waiting", reconnectPeriodMs: 50 }, store, keys: new ScreenKeys(keysDir), log: silentLogger() });
    closers.push(async () => {
      await c.stop();
      store.close();
    });
    const started = c.start();
    await new Promise((r) => setTimeout(r, 600)); // some ten refused attempts
    await broker.restart();
    await expect(started).resolves.toEqual({ protocolVersion: 5 });
  });

  it("two collectors in a group on one database file store every entry exactly once between them", async () => {
    const agents = await Promise.all(["sz-a-001", "sz-b-002", "sz-c-003"].map((s) => agent(s)));
    const one = collector("shared.db", "collector-g1", "proofs-group");
    const two = collector("shared.db", "collector-g2", "proofs-group");
    await Promise.all([one.collector.start(), two.collector.start()]);
    for (const a of agents) appendPlays(a.device, 900);
    await Promise.all(agents.map((a) => a.sync.syncNow()));
    const reports = [...one.reports, ...two.reports];
    expect(one.reports.length).toBeGreaterThan(0);
    expect(two.reports.length).toBeGreaterThan(0);
    for (const a of agents) {
      const own = reports.filter((r) => r.screen === a.screen);
      expect(own.reduce((n, r) => n + r.stored, 0)).toBe(900);
      expect(one.store.report(a.screen)).toMatchObject({ entries: 900, headSeq: 900, gaps: [] });
      const count = one.store.db.prepare("SELECT COUNT(*) AS n FROM entries WHERE screen = ?").get(a.screen) as { n: number };
      expect(count.n).toBe(900);
    }
  });
});

describe("collector against a 3.1.1-only broker", () => {
  it("falls back to MQTT 3.1.1 when MQTT 5 is refused, and still stores and acks", async () => {
    const aedes = await Aedes.createBroker();
    const server = createServer(aedes.handle);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;
    const tmp = tempDir();
    const device = makeLedger(tmp.dir, "sz-old-001");
    const store = CollectorStore.open(join(tmp.dir, "collector.db"));
    registerKey(join(tmp.dir, "keys"), "sz-old-001", device.publicKey);
    const c = new Collector({ options: { url, clientId: "collector-311" }, store, keys: new ScreenKeys(join(tmp.dir, "keys")), log: silentLogger() });
    const sender = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: "agent-311" });
    try {
      expect(await c.start()).toEqual({ protocolVersion: 4 });
      const acks: string[] = [];
      sender.on("message", (_t, p) => acks.push(p.toString()));
      await sender.subscribeAsync("led/v1/sz-old-001/proofs/ack", { qos: 1 });
      appendPlays(device, 3);
      const b = batchOf(device.db, 1, 3);
      await sender.publishAsync("led/v1/sz-old-001/proofs", b.payload, { qos: 1 });
      await waitFor(() => acks.length === 1, "the ack");
      expect(JSON.parse(acks[0])).toEqual({ batch: b.id, through: 3 });
      expect(store.report("sz-old-001")?.entries).toBe(3);
    } finally {
      await sender.endAsync(true);
      await c.stop();
      store.close();
      device.db.close();
      await new Promise((r) => aedes.close(() => r(undefined)));
      await new Promise((r) => server.close(r));
      tmp.cleanup();
    }
  });
});
