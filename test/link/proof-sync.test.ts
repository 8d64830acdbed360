// Proof sync over a fake publisher, on a real outbox and a real ledger: batches in order within
// their limits, one in flight, the same id again after a timeout (backing off), an ack-driven
// drain, refused acks, no sends while the link is down and the batch in flight again on reconnect.
import { Writable } from "node:stream";
import { pino, type Logger } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAX_ACK_TIMEOUT_MS, ProofSync, type ProofSyncDeps } from "../../agent/link/proof-sync.js";
import type { PublishOptions } from "../../agent/link/types.js";
import { ProofOutbox } from "../../agent/proofs/index.js";
import { makeLedger, play, type TestLedger } from "../proofs/fixtures.js";
import { tempDir } from "../helpers/tmp.js";

const SCREEN = "sz-nanshan-001";
const TOPIC = `led/v1/${SCREEN}/proofs`;

interface Sent {
  topic: string;
  batch: string;
  seqs: number[];
  bytes: number;
  options: PublishOptions;
}

/** Timers run by hand: the test decides when an ack timeout has passed. */
class ManualTimers {
  pending: { fn: () => void; ms: number; live: boolean }[] = [];
  set = (fn: () => void, ms: number): (() => void) => {
    const t = { fn, ms, live: true };
    this.pending.push(t);
    return () => (t.live = false);
  };
  live(): { ms: number }[] {
    return this.pending.filter((t) => t.live);
  }
  /** Fires the one live timer (there is never more than one). */
  fire(): number {
    const live = this.live() as { fn: () => void; ms: number; live: boolean }[];
    expect(live).toHaveLength(1);
    live[0].live = false;
    live[0].fn();
    return live[0].ms;
  }
}

function logCapture(): { log: Logger; lines: () => { level: number; msg: string; reason?: string }[] } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      out.push(...chunk.toString().split("\n").filter(Boolean));
      done();
    },
  });
  return { log: pino({ level: "debug" }, stream), lines: () => out.map((l) => JSON.parse(l) as { level: number; msg: string; reason?: string }) };
}

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));
/** Lets every scheduled send run (each waits one turn of the loop). */
async function settle(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await nextTurn();
}

describe("ProofSync", () => {
  let tmp: ReturnType<typeof tempDir>;
  let t: TestLedger;
  let outbox: ProofOutbox;
  let sent: Sent[];
  let connected: boolean;
  let publishFails: boolean;
  let timers: ManualTimers;
  let logs: ReturnType<typeof logCapture>;
  let sync: ProofSync;

  function build(over: Partial<ProofSyncDeps> = {}): ProofSync {
    return new ProofSync({
      outbox,
      screenId: SCREEN,
      connected: () => connected,
      log: logs.log,
      setTimer: timers.set,
      now: () => Date.parse("2026-12-01T08:00:00.000Z"),
      publish: async (topic, payload, options) => {
        const text = payload.toString();
        const parsed = JSON.parse(text) as { batch: string; entries: { seq: number }[] };
        sent.push({ topic, batch: parsed.batch, seqs: parsed.entries.map((e) => e.seq), bytes: Buffer.byteLength(text), options });
        if (publishFails) throw new Error("not connected");
      },
      ...over,
    });
  }

  function append(n: number): void {
    t.db.transaction(() => {
      for (let i = 0; i < n; i++) t.ledger.append({ kind: "play", play: play() });
    })();
  }

  const ackOf = (batch: string, through: number): Buffer => Buffer.from(JSON.stringify({ batch, through }));

  beforeEach(() => {
    tmp = tempDir();
    t = makeLedger(tmp.dir, SCREEN);
    outbox = new ProofOutbox(t.db);
    sent = [];
    connected = true;
    publishFails = false;
    timers = new ManualTimers();
    logs = logCapture();
    sync = build();
  });
  afterEach(() => {
    sync.stop();
    t.db.close();
    tmp.cleanup();
  });

  it("sends the next batch on a kick, QoS 1 to the screen's proofs topic, and nothing more while it awaits its ack", async () => {
    append(3);
    sync.kick();
    sync.kick();
    await settle();
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ topic: TOPIC, seqs: [1, 2, 3], options: { qos: 1 } });
    append(2);
    sync.kick();
    await settle();
    expect(sent).toHaveLength(1);
    expect(sync.status()).toEqual({
      ackedThrough: 0,
      unsynced: 5,
      inFlight: { batch: sent[0].batch, fromSeq: 1, throughSeq: 3, sentAt: "2026-12-01T08:00:00.000Z" },
    });
  });

  it("drains a backlog batch after batch on acks, in order, within 500 entries and 256 KiB each", async () => {
    append(1300);
    sync.kick();
    for (let i = 0; i < 20; i++) {
      await settle(2);
      const last = sent.at(-1);
      if (!last || outbox.ackedThrough() === 1300) break;
      sync.onAck(ackOf(last.batch, last.seqs.at(-1) ?? 0));
    }
    expect(outbox.ackedThrough()).toBe(1300);
    const seqs = sent.flatMap((s) => s.seqs);
    expect(seqs).toEqual(Array.from({ length: 1300 }, (_, i) => i + 1));
    for (const s of sent) {
      expect(s.seqs.length).toBeLessThanOrEqual(500);
      expect(s.bytes).toBeLessThanOrEqual(256 * 1024);
    }
    expect(new Set(sent.map((s) => s.batch)).size).toBe(sent.length);
    expect(sync.status()).toMatchObject({ ackedThrough: 1300, unsynced: 0, inFlight: null });
  });

  it("keeps to the limits it is given", async () => {
    sync.stop();
    sync = build({ limits: { maxEntries: 4, maxBytes: 1 << 20 } });
    append(10);
    sync.kick();
    await settle();
    sync.onAck(ackOf(sent[0].batch, 4));
    await settle();
    expect(sent.map((s) => s.seqs)).toEqual([
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ]);
  });

  it("sends the same batch again, same id, when no ack comes in time, waiting twice as long each time up to 5 min, one log line per re-send", async () => {
    sync.stop();
    sync = build({ ackTimeoutMs: 60_000 });
    append(2);
    sync.kick();
    await settle();
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) waits.push(timers.fire());
    expect(waits).toEqual([60_000, 120_000, 240_000, MAX_ACK_TIMEOUT_MS, MAX_ACK_TIMEOUT_MS]);
    expect(sent).toHaveLength(6);
    expect(new Set(sent.map((s) => s.batch)).size).toBe(1);
    expect(sent.every((s) => s.seqs.join() === "1,2")).toBe(true);
    expect(logs.lines().filter((l) => l.msg.includes("sending the batch again"))).toHaveLength(5);
    // An ack settles it; the next batch waits the first timeout again.
    sync.onAck(ackOf(sent[0].batch, 2));
    append(1);
    sync.kick();
    await settle();
    expect(sent.at(-1)?.seqs).toEqual([3]);
    expect(timers.live().map((x) => x.ms)).toEqual([60_000]);
  });

  it("a batch whose publish failed goes again when its timer fires", async () => {
    publishFails = true;
    append(1);
    sync.kick();
    await settle();
    publishFails = false;
    timers.fire();
    expect(sent.map((s) => s.batch)).toEqual([sent[0].batch, sent[0].batch]);
  });

  it("ignores garbage on proofs/ack, saying why in the log", async () => {
    append(2);
    sync.kick();
    await settle();
    for (const bad of ["not json", "[1,2]", '{"batch":"x"}', '{"batch":7,"through":2}', '{"batch":"x","through":"2"}', "x".repeat(5000)]) {
      sync.onAck(Buffer.from(bad));
    }
    const ignored = logs.lines().filter((l) => l.msg.startsWith("proofs/ack ignored"));
    expect(ignored).toHaveLength(6);
    expect(ignored[0].msg).toContain("not JSON");
    expect(ignored[2].msg).toContain("through");
    expect(ignored[5].msg).toContain("more than an ack's");
    expect(outbox.ackedThrough()).toBe(0);
  });

  it("a refused ack (beyond what was sent) moves nothing and sends nothing", async () => {
    append(5);
    sync.stop();
    sync = build({ limits: { maxEntries: 2, maxBytes: 1 << 20 } });
    sync.kick();
    await settle();
    sync.onAck(ackOf(sent[0].batch, 5));
    await settle();
    expect(outbox.ackedThrough()).toBe(0);
    expect(sent).toHaveLength(1);
    expect(logs.lines().some((l) => l.reason === "beyond-sent" && l.msg.startsWith("proofs/ack refused"))).toBe(true);
    // A partial ack of the batch in flight moves the cursor and the next batch starts after it.
    sync.onAck(ackOf(sent[0].batch, 1));
    await settle();
    expect(sent.at(-1)?.seqs).toEqual([2, 3]);
  });

  it("sends nothing while disconnected, and the batch in flight again (same id) at once on reconnect", async () => {
    append(3);
    sync.kick();
    await settle();
    const first = sent[0].batch;
    connected = false;
    sync.onDisconnected();
    expect(timers.live()).toHaveLength(0);
    append(1);
    sync.kick();
    await settle();
    expect(sent).toHaveLength(1);
    connected = true;
    sync.onConnected();
    await settle();
    expect(sent.map((s) => s.batch)).toEqual([first, first]);
    expect(sent[1].seqs).toEqual([1, 2, 3]);
  });

  it("a batch in flight recorded by an earlier run goes again with its id on the first connect", async () => {
    append(4);
    const recorded = outbox.nextBatch();
    sync.onConnected();
    await settle();
    expect(sent.map((s) => [s.batch, s.seqs.length])).toEqual([[recorded?.id, 4]]);
  });

  it("syncNow resolves once every entry present when it was called is acked", async () => {
    append(6);
    sync.stop();
    sync = build({ limits: { maxEntries: 4, maxBytes: 1 << 20 } });
    const done = sync.syncNow();
    let result: { through: number } | null = null;
    void done.then((r) => (result = r));
    await settle();
    append(3); // after the call: not waited for
    sync.onAck(ackOf(sent[0].batch, 4));
    await settle();
    expect(result).toBeNull();
    sync.onAck(ackOf(sent[1].batch, 8));
    await expect(done).resolves.toEqual({ through: 8 });
  });

  it("syncNow sends a batch waiting on its re-send timeout again at once, same id, and starts the timeout afresh", async () => {
    let clock = Date.parse("2026-12-01T08:00:00.000Z");
    sync.stop();
    sync = build({ now: () => clock });
    append(2);
    sync.kick();
    await settle();
    timers.fire();
    await settle();
    expect(sent).toHaveLength(2);
    expect(timers.live()[0].ms).toBeGreaterThan(timers.pending[0].ms);
    clock += 500;
    void sync.syncNow().catch(() => undefined);
    await settle();
    expect(sent).toHaveLength(2); // sent half a second ago: not again
    clock += 1000;
    const done = sync.syncNow();
    await settle();
    expect(sent.map((s) => s.batch)).toEqual([sent[0].batch, sent[0].batch, sent[0].batch]);
    expect(timers.live()[0].ms).toBe(timers.pending[0].ms);
    sync.onAck(ackOf(sent[0].batch, 2));
    await expect(done).resolves.toEqual({ through: 2 });
  });

  it("a batch that cannot be built (a ledger row lost) fails proofs.sync at once and is logged once a minute, not at every entry", async () => {
    append(3);
    outbox.nextBatch = () => {
      throw new Error("the ledger no longer holds seq 2");
    };
    await expect(sync.syncNow()).rejects.toMatchObject({ code: "failed", message: expect.stringContaining("seq 2") });
    for (let i = 0; i < 5; i++) {
      sync.kick();
      await settle();
    }
    expect(logs.lines().filter((l) => l.msg.startsWith("the next proof batch could not be built"))).toHaveLength(1);
  });

  it("syncNow answers at once when nothing is unsynced, and refuses with unavailable while disconnected", async () => {
    await expect(sync.syncNow()).resolves.toEqual({ through: 0 });
    append(1);
    connected = false;
    await expect(sync.syncNow()).rejects.toMatchObject({ code: "unavailable" });
  });

  it("a syncNow waiting when the link drops or sync stops is refused as unavailable; stop never throws", async () => {
    append(2);
    const waiting = sync.syncNow();
    await settle();
    connected = false;
    sync.onDisconnected();
    await expect(waiting).rejects.toMatchObject({ code: "unavailable" });
    connected = true;
    sync.onConnected();
    const second = sync.syncNow();
    await settle();
    sync.stop();
    await expect(second).rejects.toMatchObject({ code: "unavailable" });
    expect(timers.live()).toHaveLength(0);
    expect(() => sync.stop()).not.toThrow();
    sync.kick();
    await settle();
    expect(sent).toHaveLength(2);
  });
});
