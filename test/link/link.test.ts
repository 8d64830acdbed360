// The Link's composition over fakes: deliveries routed by topic, command answers (response topic,
// correlation data, failures, stop), the once-a-second ledger watch (alerts, proof sync kicks,
// bounded reads), the signed head, telemetry and disk.low. Vitest's fake timers drive the clock.
import { EventEmitter } from "node:events";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { AgentStatus, ProofSyncStatus } from "../../agent/commands/index.js";
import { Link, type CommandReply, type LinkCommandGate, type LinkLedger, type LinkProofSync } from "../../agent/link/link.js";
import type { LoadOutcome } from "../../agent/link/schedule-state.js";
import type { LinkMessage, PublishOptions } from "../../agent/link/types.js";
import type { Checkpoint } from "../../agent/proofs/types.js";

const SCREEN = "sz-nanshan-001";
const OWN = `led/v1/${SCREEN}/`;
const T0 = Date.parse("2026-12-01T08:00:00.000Z");
const HOUR = 3_600_000;

type LogLine = { level: number; msg: string; topic?: string; id?: string | null };

async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await Promise.resolve();
}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  return { promise: new Promise<T>((r) => (resolve = r)), resolve };
}

interface Attempt {
  topic: string;
  payload: string;
  options: PublishOptions;
}

/** Records every publish attempt; a publish while down rejects, as the real connection's does. */
class FakeConnection extends EventEmitter {
  connected = false;
  readonly attempts: Attempt[] = [];
  /** How a publish on a connected link ends (default: the broker takes it). */
  outcome: (topic: string) => Promise<void> = () => Promise.resolve();
  constructor(private readonly order: string[]) {
    super();
  }

  start = (): void => void this.order.push("connection.start");
  stop = async (): Promise<void> => void this.order.push("connection.stop");
  publish = (topic: string, payload: string | Buffer, options: PublishOptions): Promise<void> => {
    this.attempts.push({ topic, payload: payload.toString(), options });
    if (!this.connected) return Promise.reject(new Error("not connected"));
    this.order.push(`publish ${topic.slice(OWN.length)}`);
    return this.outcome(topic);
  };
  async up(): Promise<void> {
    this.connected = true;
    this.emit("connected", { sessionPresent: true, protocolVersion: 5 });
    await settle();
  }
  down(): void {
    this.connected = false;
    this.emit("disconnected", "keepalive timeout");
  }
  async deliver(topic: string, payload: string, extra: Partial<LinkMessage> = {}): Promise<void> {
    this.emit("message", { topic, payload: Buffer.from(payload), retain: false, ...extra } satisfies LinkMessage);
    await settle();
  }
  on_(leaf: string): Attempt[] {
    return this.attempts.filter((a) => a.topic === OWN + leaf);
  }
}

class FakeGate implements LinkCommandGate {
  readonly handled: string[] = [];
  readonly prune = vi.fn();
  reply: (payload: string) => Promise<CommandReply> = async () => ({ id: "cmd-1", ok: true, result: { percent: 60 } });
  constructor(private readonly order: string[]) {}
  handle = (payload: Buffer): Promise<CommandReply> => {
    this.handled.push(payload.toString());
    return this.reply(payload.toString());
  };
  stop = async (): Promise<void> => void this.order.push("gate.stop");
}

class FakeProofSync implements LinkProofSync {
  readonly kick = vi.fn();
  readonly acks: string[] = [];
  readonly events: string[] = [];
  sync: ProofSyncStatus = { ackedThrough: 0, unsynced: 1, inFlight: null };
  onAck = (payload: Buffer): void => void this.acks.push(payload.toString());
  onConnected = (): void => void this.events.push("connected");
  onDisconnected = (): void => void this.events.push("disconnected");
  stop = (): void => void this.events.push("stop");
  status = (): ProofSyncStatus => this.sync;
}

const checkpointAt = (seq: number): Checkpoint => ({ screen: SCREEN, seq, hash: `h${seq}`, at: new Date().toISOString(), sig: `sig${seq}` });

/** A ledger of plays, with chosen events at chosen seqs; rows are made as they are read. */
class FakeLedger implements LinkLedger {
  headSeq = 0;
  readonly special = new Map<number, string>();
  readonly reads: Array<[number, number]> = [];
  rowsYielded = 0;
  latest: Checkpoint | null = null;
  signed = 0;
  signFails = false;
  grow = (plays: number): void => void (this.headSeq += plays);
  record(event: Record<string, unknown> & { type: string }): number {
    this.special.set(++this.headSeq, JSON.stringify({ kind: "event", event, at: "2026-12-01T07:59:00.000Z", seq: this.headSeq }));
    return this.headSeq;
  }
  head = (): { seq: number } | null => (this.headSeq > 0 ? { seq: this.headSeq } : null);
  *rows(fromSeq: number, toSeq: number): Generator<{ seq: number; body: string }> {
    this.reads.push([fromSeq, toSeq]);
    for (let seq = fromSeq; seq <= Math.min(toSeq, this.headSeq); seq++) {
      this.rowsYielded++;
      yield { seq, body: this.special.get(seq) ?? JSON.stringify({ kind: "play", seq, at: "2026-12-01T07:59:00.000Z" }) };
    }
  }
  latestCheckpoint = (): Checkpoint | null => this.latest;
  checkpoint(): Checkpoint {
    this.signed++;
    if (this.signFails || this.headSeq === 0) throw new Error("the ledger is empty: nothing to checkpoint");
    return checkpointAt(this.headSeq);
  }
}

describe("Link", () => {
  let order: string[];
  let conn: FakeConnection;
  let gate: FakeGate;
  let sync: FakeProofSync;
  let ledger: FakeLedger;
  let applies: Array<{ text: string; source: string }>;
  let applyOutcome: () => Promise<LoadOutcome>;
  let diskFree: number | null;
  let statusFails: boolean;
  let lines: string[];
  let link: Link;

  const logs = (): LogLine[] => lines.map((l) => JSON.parse(l) as LogLine);
  const status = async (): Promise<AgentStatus> => {
    if (statusFails) throw new Error("controller read timed out");
    const host = { diskFreeBytes: diskFree, clockSynced: true, linkConnected: conn.connected };
    return { at: new Date().toISOString(), playout: null, controller: null, ledger: { headSeq: ledger.headSeq }, sync: null, host, process: { uptimeS: 5, rssBytes: 1 } };
  };
  const events = (): Array<Record<string, unknown>> => conn.on_("events").map((a) => JSON.parse(a.payload) as Record<string, unknown>);
  const heads = (): number[] => conn.on_("proofs/head").map((a) => (JSON.parse(a.payload) as Checkpoint).seq);

  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
    order = [];
    conn = new FakeConnection(order);
    gate = new FakeGate(order);
    sync = new FakeProofSync();
    ledger = new FakeLedger();
    applies = [];
    applyOutcome = async () => ({ result: { state: "applied", version: 5, previousVersion: 4 }, takeover: null });
    diskFree = 5000;
    statusFails = false;
    lines = [];
    const log = pino({ level: "debug" }, { write: (line: string) => void lines.push(line) });
    const schedules = { apply: (text: Buffer, source: string) => (applies.push({ text: text.toString(), source }), applyOutcome()) };
    link = new Link({ screenId: SCREEN, connection: conn, schedules, gate, proofSync: sync, ledger, status, telemetryIntervalS: 30, log, diskLowBytes: 1000 });
  });
  const startConnected = async (): Promise<void> => {
    link.start();
    await conn.up();
  };
  afterEach(async () => {
    await link.stop();
    vi.useRealTimers();
  });

  describe("routing", () => {
    it("hands schedule to the desired state, cmd to the gate, proofs/ack to the proof sync, each to its own", async () => {
      await startConnected();
      await conn.deliver(`${OWN}schedule`, '{"schedule":{}}');
      await conn.deliver(`${OWN}cmd`, '{"command":{}}');
      await conn.deliver(`${OWN}proofs/ack`, '{"batch":"b1","through":3}');
      expect(applies).toEqual([{ text: '{"schedule":{}}', source: `mqtt ${OWN}schedule` }]);
      expect(JSON.parse(conn.on_("schedule/status")[0].payload)).toMatchObject({ version: 5, state: "applied" });
      expect(gate.handled).toEqual(['{"command":{}}']);
      expect(conn.on_("cmd/result")).toHaveLength(1);
      expect(sync.acks).toEqual(['{"batch":"b1","through":3}']);
    });

    it("ignores other screens' topics and leaves it does not take, without throwing", async () => {
      await startConnected();
      const before = conn.attempts.length;
      for (const topic of ["led/v1/other/cmd", `led/v1/${SCREEN}x/cmd`, `${OWN}telemetry`, `${OWN}schedule/status`, `${OWN}cmd/result`, `${OWN}proofs`, "elsewhere"]) {
        await conn.deliver(topic, "{}");
      }
      expect(applies).toEqual([]);
      expect(gate.handled).toEqual([]);
      expect(sync.acks).toEqual([]);
      expect(conn.attempts.length).toBe(before);
      expect(logs().filter((l) => l.msg.startsWith("a message for another screen's topic"))).toHaveLength(3);
      expect(logs().filter((l) => l.msg.startsWith("a message on a topic the agent does not take"))).toHaveLength(4);
    });

    // Defect: the leaf is the topic with the own prefix's *length* cut off, never checked to
    // start with that prefix, so another screen's topic whose id has the same length is routed as
    // this screen's. Fix: `if (!message.topic.startsWith(own)) ignore` before slicing.
    it("ignores a topic of another screen whose id has the same length", async () => {
      await startConnected();
      await conn.deliver("led/v1/sz-nanshan-002/cmd", '{"command":{}}');
      expect(gate.handled).toEqual([]);
    });

    it("publishes on connect a schedule status that could not go out when the schedule came", async () => {
      link.start();
      await conn.deliver(`${OWN}schedule`, "{}");
      expect(conn.on_("schedule/status")).toHaveLength(1);
      await conn.up();
      const statuses = conn.on_("schedule/status");
      expect(statuses).toHaveLength(2);
      expect(statuses[1].payload).toBe(statuses[0].payload);
      expect(statuses[1].options).toEqual({ qos: 1, retain: true });
    });

    it("logs a delivery that failed and takes the next one", async () => {
      gate.reply = () => Promise.reject(new Error("database is locked"));
      await startConnected();
      await conn.deliver(`${OWN}cmd`, "1");
      expect(logs().find((l) => l.msg === "a delivery could not be handled")).toMatchObject({ level: 50, topic: `${OWN}cmd` });
      gate.reply = async () => ({ id: "c2", ok: true, result: null });
      await conn.deliver(`${OWN}cmd`, "2");
      expect(gate.handled).toEqual(["1", "2"]);
      expect(conn.on_("cmd/result").map((a) => JSON.parse(a.payload) as CommandReply)).toEqual([{ id: "c2", ok: true, result: null }]);
    });
  });

  describe("command answers", () => {
    const corr = Buffer.from([0, 1, 2, 250]);
    const answerTopicFor = async (responseTopic: string | undefined, correlationData?: Buffer): Promise<Attempt> => {
      conn.attempts.length = 0;
      await conn.deliver(`${OWN}cmd`, "{}", { responseTopic, correlationData });
      expect(conn.attempts).toHaveLength(1);
      return conn.attempts[0];
    };

    beforeEach(async () => {
      await startConnected();
    });

    it("answers on the response topic inside the screen's subtree, with the correlation data", async () => {
      gate.reply = async () => ({ id: "cmd-9", ok: false, error: { code: "expired", message: "expiresAt passed" } });
      const a = await answerTopicFor(`${OWN}cmd/result/ops-7`, corr);
      expect(a.topic).toBe(`${OWN}cmd/result/ops-7`);
      expect(a.options).toEqual({ qos: 1, correlationData: corr });
      expect(JSON.parse(a.payload)).toEqual({ id: "cmd-9", ok: false, error: { code: "expired", message: "expiresAt passed" } });
      expect((await answerTopicFor(`${OWN}cmd/result/ops-7`)).options).toEqual({ qos: 1 });
    });

    it("answers on cmd/result, without correlation data, for a response topic elsewhere or with wildcards", async () => {
      const refused = [undefined, "", "led/v1/other/cmd/result", `led/v1/${SCREEN}-evil/cmd/result`, `led/v1/${SCREEN}`, "ops/inbox", `${OWN}cmd/result/+`, `${OWN}#`, `${OWN}cmd/result/a\0b`];
      for (const responseTopic of refused) {
        const a = await answerTopicFor(responseTopic, corr);
        expect(a.topic, String(responseTopic)).toBe(`${OWN}cmd/result`);
        expect(a.options).toEqual({ qos: 1 });
      }
    });

    // Defect (hardening): any topic under the screen's subtree is honoured, including the ones the
    // agent or a collector reads as something else. A request that need not even be signed (the
    // refusal is answered too) makes the screen publish `{id, ok, error}` on its own `proofs`
    // (a malformed batch at every collector), `events` or `telemetry`; the ACL of operations.md lets
    // the device write all three. Fix: honour only `cmd/result` and `cmd/result/…`, which is
    // what `ledagent ops cmd` uses and what the ACL grants.
    it("does not answer on topics of the subtree that carry something else", async () => {
      for (const leaf of ["proofs", "events", "telemetry", "schedule", "proofs/head"]) {
        expect((await answerTopicFor(OWN + leaf, corr)).topic).toBe(`${OWN}cmd/result`);
      }
    });

    it("logs an answer that could not be sent, throws nothing, and answers the next one", async () => {
      gate.reply = async (p) => ({ id: p, ok: true, result: {} });
      conn.outcome = () => Promise.reject(new Error("client disconnecting"));
      await conn.deliver(`${OWN}cmd`, "c-1");
      expect(logs().find((l) => l.msg.startsWith("a command's result could not be sent"))).toMatchObject({ level: 40, id: "c-1" });
      conn.outcome = () => Promise.resolve();
      await conn.deliver(`${OWN}cmd`, "c-2");
      expect(conn.on_("cmd/result").map((a) => (JSON.parse(a.payload) as CommandReply).id)).toEqual(["c-1", "c-2"]);
    });

    it("does not echo correlation data over 1 KiB: the answer goes to cmd/result", async () => {
      const a = await answerTopicFor(`${OWN}cmd/result/ops-7`, Buffer.alloc(1025, 1));
      expect(a.topic).toBe(`${OWN}cmd/result`);
      expect(a.options).toEqual({ qos: 1 });
      expect((await answerTopicFor(`${OWN}cmd/result/ops-7`, Buffer.alloc(1024, 1))).topic).toBe(`${OWN}cmd/result/ops-7`);
    });

    it("a command arriving once stop() began is neither claimed nor run, and is answered unavailable with its id", async () => {
      const reply = deferred<CommandReply>();
      gate.reply = () => reply.promise;
      await conn.deliver(`${OWN}cmd`, "first");
      const stopped = link.stop();
      await conn.deliver(`${OWN}cmd`, JSON.stringify({ command: { id: "late-1" }, sig: "x" }));
      reply.resolve({ id: "r-1", ok: true, result: {} });
      await stopped;
      expect(gate.handled).toEqual(["first"]);
      const late = conn.on_("cmd/result").map((p) => JSON.parse(p.payload) as CommandReply).find((r) => r.id === "late-1");
      expect(late).toMatchObject({ ok: false, error: { code: "unavailable" } });
    });

    it("stop() lets the gate finish, then waits for answers being handled and sent before the connection stops", async () => {
      const reply = deferred<CommandReply>();
      const taken = deferred<void>();
      gate.reply = () => reply.promise;
      conn.outcome = () => taken.promise;
      await conn.deliver(`${OWN}cmd`, "restart");
      const stopped = link.stop();
      await settle();
      expect(order.slice(-1)).toEqual(["gate.stop"]);
      reply.resolve({ id: "r-1", ok: true, result: { restarting: true } });
      await settle();
      expect(order.slice(-2)).toEqual(["gate.stop", "publish cmd/result"]);
      taken.resolve();
      await stopped;
      expect(order.slice(-3)).toEqual(["gate.stop", "publish cmd/result", "connection.stop"]);
      expect(sync.events).toContain("stop");
    });
  });

  describe("the alerts' cursor across restarts", () => {
    const cursorAt = (through: number | null) => {
      const saved: number[] = [];
      return { saved, cursor: { through: () => through, set: (n: number) => void saved.push(n) } };
    };
    const relink = (cursor: { through(): number | null; set(n: number): void }): void => {
      const log = pino({ level: "silent" });
      link = new Link({ screenId: SCREEN, connection: conn, schedules: { apply: async () => applyOutcome() }, gate, proofSync: sync, ledger, status, telemetryIntervalS: 30, log, diskLowBytes: 1000, alertCursor: cursor });
    };

    it("raises the alerts recorded after the cursor, before the link started (at boot, or queued at the last stop)", async () => {
      ledger.record({ type: "controller.fault", fault: "seen last run" });
      const missed = ledger.record({ type: "controller.fault", fault: "at boot" });
      relink(cursorAt(1).cursor);
      await startConnected();
      await vi.advanceTimersByTimeAsync(1000);
      expect(events().map((e) => [e.seq, e.fault])).toEqual([[missed, "at boot"]]);
    });

    it("the first run ever starts at the head: no history is raised", async () => {
      ledger.record({ type: "controller.fault", fault: "old" });
      relink(cursorAt(null).cursor);
      await startConnected();
      await vi.advanceTimersByTimeAsync(1000);
      expect(events()).toEqual([]);
    });

    it("at stop, alerts still waiting are kept for the next run: the cursor stops before the oldest", async () => {
      const { saved, cursor } = cursorAt(0);
      relink(cursor);
      await startConnected();
      conn.down();
      ledger.grow(3);
      const waiting = ledger.record({ type: "suspended", reason: "typhoon" });
      await vi.advanceTimersByTimeAsync(1000);
      await link.stop();
      expect(saved.at(-1)).toBe(waiting - 1);
    });
  });

  describe("ledger watch", () => {
    it("raises alerts for new entries of the alert types only and kicks the proof sync once", async () => {
      ledger.record({ type: "controller.fault", fault: "before the link started" });
      ledger.grow(2);
      await startConnected();
      const fault = ledger.record({ type: "controller.fault", fault: "fan" });
      ledger.grow(1);
      ledger.record({ type: "schedule.applied", version: 5 });
      ledger.record({ type: "campaign.completed", campaign: "c-1", shortfall: 0 });
      const short = ledger.record({ type: "campaign.completed", campaign: "c-2", shortfall: 4 });
      await vi.advanceTimersByTimeAsync(1000);
      expect(ledger.reads).toEqual([[4, 8]]);
      expect(events()).toEqual([
        { type: "controller.fault", fault: "fan", seq: fault, at: "2026-12-01T07:59:00.000Z" },
        { type: "under-delivery", campaign: "c-2", shortfall: 4, seq: short, at: "2026-12-01T07:59:00.000Z" },
      ]);
      expect(conn.on_("events").map((a) => a.options)).toEqual([{ qos: 1 }, { qos: 1 }]);
      expect(sync.kick).toHaveBeenCalledTimes(1);
    });

    it("reads nothing and kicks nothing while the head stands still", async () => {
      ledger.grow(3);
      link.start();
      await vi.advanceTimersByTimeAsync(5000);
      expect(ledger.reads).toEqual([]);
      expect(sync.kick).toHaveBeenCalledTimes(0);
      ledger.grow(2);
      await vi.advanceTimersByTimeAsync(3000);
      expect(ledger.reads).toEqual([[4, 5]]);
      expect(sync.kick).toHaveBeenCalledTimes(1);
    });

    it("reads at most 2000 entries a tick and works a jump off over several ticks", async () => {
      link.start();
      ledger.grow(4500);
      await vi.advanceTimersByTimeAsync(1000);
      expect(ledger.reads).toEqual([[1, 2000]]);
      expect(ledger.rowsYielded).toBe(2000);
      await vi.advanceTimersByTimeAsync(3000);
      expect(ledger.reads).toEqual([[1, 2000], [2001, 4000], [4001, 4500]]);
      expect(ledger.rowsYielded).toBe(4500);
      expect(sync.kick).toHaveBeenCalledTimes(3);
    });

    it("keeps alerts raised while down and sends them in order on connect", async () => {
      link.start();
      for (const fault of ["a", "b", "c"]) ledger.record({ type: "controller.fault", fault });
      await vi.advanceTimersByTimeAsync(1000);
      expect(conn.attempts).toEqual([]);
      await conn.up();
      expect(events().map((e) => e.fault)).toEqual(["a", "b", "c"]);
    });

    // Defect: one entry whose body does not parse throws out of the whole tick before the
    // watch moves on and before the proof sync is kicked; every later tick throws at the same
    // entry, so no alert is raised and no batch is started from the watch again, and alerts before
    // it are raised again each second. Fix: parse each row in its own try/catch and log it.
    it("gets past an entry it cannot read: later alerts still go out and the proof sync is kicked", async () => {
      await startConnected();
      ledger.special.set(++ledger.headSeq, "{not json");
      ledger.record({ type: "suspended", reason: "typhoon" });
      await vi.advanceTimersByTimeAsync(2000);
      expect(events().map((e) => e.type)).toEqual(["suspended"]);
      expect(sync.kick).toHaveBeenCalledTimes(1);
    });
  });

  describe("signed head", () => {
    it("publishes the latest kept checkpoint, retained, on connect; tells the proof sync of connects and drops", async () => {
      ledger.grow(9);
      ledger.latest = checkpointAt(7);
      await startConnected();
      expect(conn.on_("proofs/head")).toEqual([{ topic: `${OWN}proofs/head`, payload: JSON.stringify(checkpointAt(7)), options: { qos: 1, retain: true } }]);
      expect(ledger.signed).toBe(0);
      conn.down();
      expect(sync.events).toEqual(["connected", "disconnected"]);
      ledger.latest = null;
      await conn.up();
      expect(heads()).toEqual([7]);
    });

    it("publishes a fresh head after a drained sync that acked past the last one, at most once a minute", async () => {
      ledger.grow(5);
      ledger.latest = checkpointAt(5);
      sync.sync = { ackedThrough: 5, unsynced: 0, inFlight: null };
      await startConnected();
      ledger.grow(3);
      sync.sync = { ackedThrough: 8, unsynced: 0, inFlight: null };
      await vi.advanceTimersByTimeAsync(59_000);
      expect(heads()).toEqual([5]);
      await vi.advanceTimersByTimeAsync(1000);
      expect(heads()).toEqual([5, 8]);
      ledger.grow(2);
      sync.sync = { ackedThrough: 10, unsynced: 2, inFlight: null };
      await vi.advanceTimersByTimeAsync(120_000);
      expect(heads()).toEqual([5, 8]);
      sync.sync = { ackedThrough: 10, unsynced: 0, inFlight: null };
      await vi.advanceTimersByTimeAsync(1000);
      expect(heads()).toEqual([5, 8, 10]);
      await vi.advanceTimersByTimeAsync(120_000);
      expect(heads()).toEqual([5, 8, 10]);
    });

    it("publishes a signed head hourly whatever the sync, and prunes command ids", async () => {
      ledger.grow(40);
      sync.sync = { ackedThrough: 0, unsynced: 40, inFlight: null };
      await startConnected();
      await vi.advanceTimersByTimeAsync(HOUR);
      expect(heads()).toEqual([40]);
      expect(gate.prune).toHaveBeenCalledTimes(1);
      ledger.grow(2);
      await vi.advanceTimersByTimeAsync(HOUR);
      expect(heads()).toEqual([40, 42]);
      expect(gate.prune).toHaveBeenCalledTimes(2);
    });

    it("publishes no head while disconnected", async () => {
      ledger.grow(40);
      sync.sync = { ackedThrough: 40, unsynced: 0, inFlight: null };
      link.start();
      await vi.advanceTimersByTimeAsync(HOUR);
      expect(conn.on_("proofs/head")).toEqual([]);
      expect(gate.prune).toHaveBeenCalledTimes(1);
    });

    // Defect: the after-sync rule is checked every second, and only publishHead() looks at the
    // connection, after signHead() has already signed and kept a checkpoint. While the link is
    // down with everything acked (a quiet screen, or a restart with a broker that is away), the
    // ledger signs, writes and reads back a checkpoint every second. Fix: return from
    // headAfterSync() when not connected (and sign the hourly head only when connected).
    it("signs no checkpoint every second while the link is down", async () => {
      ledger.grow(40);
      sync.sync = { ackedThrough: 40, unsynced: 0, inFlight: null };
      link.start();
      await vi.advanceTimersByTimeAsync(10_000);
      expect(ledger.signed).toBe(0);
    });

    it("tries again at the next tick when a head could not be published", async () => {
      ledger.grow(8);
      sync.sync = { ackedThrough: 8, unsynced: 0, inFlight: null };
      await startConnected();
      conn.outcome = (topic) => (topic.endsWith("proofs/head") && conn.on_("proofs/head").length === 1 ? Promise.reject(new Error("no PUBACK")) : Promise.resolve());
      await vi.advanceTimersByTimeAsync(1000);
      expect(logs().some((l) => l.msg.startsWith("the signed head was not published"))).toBe(true);
      await vi.advanceTimersByTimeAsync(1000);
      expect(heads()).toEqual([8, 8]);
      await vi.advanceTimersByTimeAsync(30_000);
      expect(heads()).toEqual([8, 8]);
    });

    it("logs a head it could not sign and keeps watching", async () => {
      ledger.grow(8);
      ledger.signFails = true;
      sync.sync = { ackedThrough: 8, unsynced: 0, inFlight: null };
      await startConnected();
      ledger.record({ type: "resumed" });
      await vi.advanceTimersByTimeAsync(1000);
      expect(logs().some((l) => l.level === 40 && l.msg === "no signed head to publish")).toBe(true);
      expect(heads()).toEqual([]);
      expect(events().map((e) => e.type)).toEqual(["resumed"]);
    });
  });

  describe("telemetry", () => {
    it("publishes the status on connect and every telemetryIntervalS, QoS 0, not retained", async () => {
      await startConnected();
      expect(conn.on_("telemetry")).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(90_000);
      const sent = conn.on_("telemetry");
      expect(sent).toHaveLength(4);
      expect(sent.every((a) => a.options.qos === 0 && a.options.retain === undefined)).toBe(true);
      expect(JSON.parse(sent[3].payload)).toEqual(await status());
    });

    it("publishes nothing while down, yet raises disk.low, which goes out on connect", async () => {
      diskFree = 999;
      link.start();
      await vi.advanceTimersByTimeAsync(30_000);
      expect(conn.attempts).toEqual([]);
      await conn.up();
      expect(events()).toEqual([{ type: "disk.low", at: "2026-12-01T08:00:30.000Z", freeBytes: 999, limitBytes: 1000 }]);
    });

    it("raises disk.low once under the limit, and again only after the disk rose 20 % above it", async () => {
      await startConnected();
      for (const free of [900, 800, 1100, 900, 1200, 900, 1300, 700]) {
        diskFree = free;
        await vi.advanceTimersByTimeAsync(30_000);
      }
      expect(events().map((e) => e.freeBytes)).toEqual([900, 700]);
    });

    it("logs a status it could not gather and publishes no telemetry", async () => {
      statusFails = true;
      await startConnected();
      await vi.advanceTimersByTimeAsync(30_000);
      expect(conn.on_("telemetry")).toEqual([]);
      expect(logs().filter((l) => l.level === 50 && l.msg === "telemetry could not be gathered")).toHaveLength(2);
    });
  });

  it("stop() ends every timer and a pending schedule retry, and stops the parts", async () => {
    applyOutcome = () => Promise.reject(new Error("SQLITE_FULL"));
    await startConnected();
    await conn.deliver(`${OWN}schedule`, "{}");
    await link.stop();
    const sent = conn.attempts.length;
    ledger.grow(10);
    await vi.advanceTimersByTimeAsync(2 * HOUR);
    expect(applies).toHaveLength(1);
    expect(ledger.reads).toEqual([]);
    expect(conn.attempts).toHaveLength(sent);
    expect(order.filter((o) => !o.startsWith("publish"))).toEqual(["connection.start", "gate.stop", "connection.stop"]);
    expect(sync.events).toEqual(["connected", "stop"]);
    conn.down();
    await conn.up();
    expect(conn.on_("telemetry")).toHaveLength(1);
  });
});
