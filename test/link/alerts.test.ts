// Alerts on the `events` topic: which ledger entries are alerts (and what they carry), the
// publisher's order, its bounded offline queue and one-at-a-time flushing, and the disk watch's
// once-then-re-armed-20 %-above rule. A fake publisher stands for the connection.
import { join } from "node:path";
import { Writable } from "node:stream";
import { pino, type Logger } from "pino";
import { beforeEach, describe, expect, it } from "vitest";
import { ALERT_EVENT_TYPES, AlertPublisher, alertOf, DiskWatch, type Alert } from "../../agent/link/alerts.js";
import type { PublishOptions } from "../../agent/link/types.js";
import { AlertCursor } from "../../agent/link/alert-cursor.js";
import { openDatabase } from "../../agent/store/index.js";
import { tempDir } from "../helpers/tmp.js";

const SCREEN = "sz-nanshan-001";
const EVENTS = `led/v1/${SCREEN}/events`;
const AT = "2026-12-01T08:00:00.000Z";

interface LogLine {
  level: number;
  msg: string;
  dropped?: number;
  waiting?: number;
}

function logCapture(): { log: Logger; lines: () => LogLine[] } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      out.push(...chunk.toString().split("\n").filter(Boolean));
      done();
    },
  });
  return { log: pino({ level: "debug" }, stream), lines: () => out.map((l) => JSON.parse(l) as LogLine) };
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets pending promise chains run (no timers involved here). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

/** A publisher that records each attempt; `next` decides how an attempt ends (default: taken at once). */
class FakePublisher {
  readonly attempts: Array<{ topic: string; alert: Alert; options: PublishOptions }> = [];
  connected = true;
  next: (n: number) => Promise<void> = () => Promise.resolve();
  inFlight = 0;
  peakInFlight = 0;

  publish = async (topic: string, payload: string | Buffer, options: PublishOptions): Promise<void> => {
    this.attempts.push({ topic, alert: JSON.parse(payload.toString()) as Alert, options });
    this.inFlight++;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
    try {
      await this.next(this.attempts.length);
    } finally {
      this.inFlight--;
    }
  };

  names(): string[] {
    return this.attempts.map((a) => a.alert.type);
  }
}

const alert = (type: string): Alert => ({ type, at: AT });

describe("alertOf", () => {
  const event = (type: string, detail: Record<string, unknown> = {}, seq = 7) => ({ seq, at: AT, kind: "event", event: { type, ...detail } });

  it("makes every alert event type an alert with its detail, the entry's seq and time", () => {
    for (const type of ALERT_EVENT_TYPES) {
      if (type === "campaign.completed") continue;
      expect(alertOf(event(type, { controller: "mctrl-1", reason: "fan" }))).toEqual({ type, seq: 7, at: AT, controller: "mctrl-1", reason: "fan" });
    }
    expect([...ALERT_EVENT_TYPES].sort()).toEqual(
      ["campaign.completed", "clock.jump", "controller.fault", "controller.recovered", "creative.rejected", "resumed", "schedule.rejected", "suspended", "takedown"].sort(),
    );
  });

  it("keeps the entry's own seq and time over same-named fields of the detail", () => {
    expect(alertOf(event("suspended", { seq: 99, at: "1999-01-01T00:00:00.000Z", reason: "typhoon" }, 12))).toEqual({ type: "suspended", seq: 12, at: AT, reason: "typhoon" });
  });

  it("is null for entries that are not alerts: plays, and events of other types", () => {
    expect(alertOf({ seq: 3, at: AT, kind: "play" })).toBeNull();
    expect(alertOf({ seq: 3, at: AT, kind: "play", event: { type: "controller.fault" } })).toBeNull();
    for (const type of ["schedule.applied", "command.executed", "agent.started", "checkpoint"]) expect(alertOf(event(type))).toBeNull();
  });

  it("turns campaign.completed into under-delivery only when it fell short", () => {
    expect(alertOf(event("campaign.completed", { campaign: "c-1", contracted: 100, delivered: 97, shortfall: 3 }))).toEqual({
      type: "under-delivery",
      seq: 7,
      at: AT,
      campaign: "c-1",
      contracted: 100,
      delivered: 97,
      shortfall: 3,
    });
    expect(alertOf(event("campaign.completed", { campaign: "c-1", shortfall: 0 }))).toBeNull();
    expect(alertOf(event("campaign.completed", { campaign: "c-1" }))).toBeNull();
    expect(alertOf(event("campaign.completed", { campaign: "c-1", shortfall: "3" }))).toBeNull();
  });
});

describe("AlertPublisher", () => {
  let pub: FakePublisher;
  let logs: ReturnType<typeof logCapture>;
  const build = (maxQueued?: number): AlertPublisher =>
    new AlertPublisher({ screenId: SCREEN, publish: pub.publish, connected: () => pub.connected, log: logs.log, ...(maxQueued ? { maxQueued } : {}) });

  beforeEach(() => {
    pub = new FakePublisher();
    logs = logCapture();
  });

  it("publishes each alert as it comes, QoS 1 on the screen's events topic, in order", async () => {
    const alerts = build();
    alerts.add({ type: "controller.fault", at: AT, seq: 4, fault: "fan" });
    alerts.add(alert("b"));
    alerts.add(alert("c"));
    await settle();
    expect(pub.attempts.map((a) => a.topic)).toEqual([EVENTS, EVENTS, EVENTS]);
    expect(pub.attempts.map((a) => a.options)).toEqual([{ qos: 1 }, { qos: 1 }, { qos: 1 }]);
    expect(pub.attempts[0].alert).toEqual({ type: "controller.fault", at: AT, seq: 4, fault: "fan" });
    expect(pub.names()).toEqual(["controller.fault", "b", "c"]);
  });

  it("sends one at a time: the next only after the broker took the one before", async () => {
    const held = [deferred(), deferred(), deferred()];
    pub.next = (n) => held[n - 1].promise;
    const alerts = build();
    for (const t of ["a", "b", "c"]) alerts.add(alert(t));
    await alerts.flush();
    await settle();
    expect(pub.names()).toEqual(["a"]);
    held[0].resolve();
    await settle();
    expect(pub.names()).toEqual(["a", "b"]);
    held[1].resolve();
    held[2].resolve();
    await settle();
    expect(pub.names()).toEqual(["a", "b", "c"]);
    expect(pub.peakInFlight).toBe(1);
  });

  it("keeps alerts while the link is down and sends them in order once it is back", async () => {
    pub.connected = false;
    const alerts = build();
    for (const t of ["a", "b", "c"]) alerts.add(alert(t));
    await alerts.flush();
    expect(pub.attempts).toHaveLength(0);
    pub.connected = true;
    await alerts.flush();
    expect(pub.names()).toEqual(["a", "b", "c"]);
  });

  it("keeps the newest maxQueued while down, dropping the oldest, and logs the count once", async () => {
    pub.connected = false;
    const alerts = build(3);
    for (const t of ["a", "b", "c", "d", "e"]) alerts.add(alert(t));
    pub.connected = true;
    await alerts.flush();
    expect(pub.names()).toEqual(["c", "d", "e"]);
    const warned = logs.lines().filter((l) => l.dropped !== undefined);
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ level: 40, dropped: 2 });
    alerts.add(alert("f"));
    await settle();
    expect(logs.lines().filter((l) => l.dropped !== undefined)).toHaveLength(1);
  });

  it("keeps 500 by default", async () => {
    pub.connected = false;
    const alerts = build();
    for (let i = 0; i < 501; i++) alerts.add(alert(`a${i}`));
    pub.connected = true;
    await alerts.flush();
    expect(pub.attempts).toHaveLength(500);
    expect(pub.names()[0]).toBe("a1");
    expect(pub.names()[499]).toBe("a500");
  });

  it("stops at the first failure and keeps that alert and the rest for the next flush", async () => {
    pub.next = (n) => (n === 2 ? Promise.reject(new Error("not connected")) : Promise.resolve());
    const alerts = build();
    pub.connected = false;
    for (const t of ["a", "b", "c"]) alerts.add(alert(t));
    pub.connected = true;
    await alerts.flush();
    expect(pub.names()).toEqual(["a", "b"]);
    expect(logs.lines().find((l) => l.msg === "alerts wait for the link")).toMatchObject({ waiting: 2 });
    await alerts.flush();
    expect(pub.names()).toEqual(["a", "b", "b", "c"]);
    await alerts.flush();
    expect(pub.attempts).toHaveLength(4);
  });

  it("runs no second flush beside one under way", async () => {
    const first = deferred();
    pub.next = (n) => (n === 1 ? first.promise : Promise.resolve());
    const alerts = build();
    alerts.add(alert("a"));
    const again = alerts.flush();
    await again;
    await alerts.flush();
    expect(pub.attempts).toHaveLength(1);
    first.resolve();
    await settle();
    expect(pub.names()).toEqual(["a"]);
  });

  // Defect: add() trims the queue from its head while flush() is publishing that head
  // (queue[0]) and shifts it only once the broker took it. An overflow during a publish therefore
  // drops the alert in flight (already sent, yet counted as dropped), and the flush's own
  // shift() then removes the next one, which is never sent and never counted.
  // Fix: take the alert out of the queue before publishing it and put it back on failure
  // (`const next = queue.shift(); try { await publish(next) } catch { queue.unshift(next); … }`).
  it("loses no alert uncounted when the queue overflows while one is being published", async () => {
    pub.connected = false;
    const alerts = build(2);
    alerts.add(alert("a"));
    alerts.add(alert("b"));
    const held = deferred();
    pub.next = (n) => (n === 1 ? held.promise : Promise.resolve());
    pub.connected = true;
    const flushing = alerts.flush();
    await settle();
    alerts.add(alert("c"));
    held.resolve();
    await flushing;
    await alerts.flush();
    // "a" is with the broker; "b" and "c" are the two waiting, which fit in maxQueued 2.
    expect(pub.names()).toEqual(["a", "b", "c"]);
  });
});

describe("DiskWatch", () => {
  const LIMIT = 1000;

  it("raises disk.low once when free space falls under the limit", () => {
    const disk = new DiskWatch(LIMIT);
    expect(disk.check(null, AT)).toBeNull();
    expect(disk.check(5000, AT)).toBeNull();
    expect(disk.check(LIMIT, AT)).toBeNull();
    expect(disk.check(999, AT)).toEqual({ type: "disk.low", at: AT, freeBytes: 999, limitBytes: LIMIT });
    expect(disk.check(500, AT)).toBeNull();
    expect(disk.check(null, AT)).toBeNull();
    expect(disk.check(10, AT)).toBeNull();
  });

  it("raises it again only after free space rose more than 20 % above the limit", () => {
    const disk = new DiskWatch(LIMIT);
    expect(disk.check(900, AT)).not.toBeNull();
    expect(disk.check(1100, AT)).toBeNull();
    expect(disk.check(900, AT)).toBeNull();
    expect(disk.check(1200, AT)).toBeNull();
    expect(disk.check(900, AT)).toBeNull();
    expect(disk.check(1201, AT)).toBeNull();
    expect(disk.check(800, "2026-12-02T00:00:00.000Z")).toEqual({ type: "disk.low", at: "2026-12-02T00:00:00.000Z", freeBytes: 800, limitBytes: LIMIT });
  });
});

describe("AlertCursor", () => {
  it("is null before the link ever ran, then keeps the last seq set, across a reopen", () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, "agent.db");
      let db = openDatabase(path);
      expect(new AlertCursor(db).through()).toBeNull();
      new AlertCursor(db).set(41);
      new AlertCursor(db).set(57);
      db.close();
      db = openDatabase(path);
      expect(new AlertCursor(db).through()).toBe(57);
      db.close();
    } finally {
      cleanup();
    }
  });
});
