// The desired state over a fake applier and a fake publisher: what `schedule/status` says for
// each kind of apply, redeliveries, superseded takeovers, agent failures retried on a timer,
// statuses held while the link is down, and stop. Vitest's fake timers stand for the retry clock.
import { Writable } from "node:stream";
import { pino, type Logger } from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ScheduleDesiredState, type LoadOutcome, type ScheduleStatus, type ScheduleTakeover } from "../../agent/link/schedule-state.js";
import type { LinkMessage, PublishOptions } from "../../agent/link/types.js";
import type { ApplyResult } from "../../agent/playback/schedule/index.js";

const SCREEN = "sz-nanshan-001";
const SCHEDULE = `led/v1/${SCREEN}/schedule`;
const STATUS = `led/v1/${SCREEN}/schedule/status`;
const T0 = Date.parse("2026-12-01T08:00:00.000Z");

function logCapture(): { log: Logger; lines: () => Array<{ level: number; msg: string }> } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      out.push(...chunk.toString().split("\n").filter(Boolean));
      done();
    },
  });
  return { log: pino({ level: "debug" }, stream), lines: () => out.map((l) => JSON.parse(l) as { level: number; msg: string }) };
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: Error) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

/** Applies by script: each call takes the next scripted answer (an outcome, a throw, or a held promise). */
class FakeApplier {
  readonly calls: Array<{ text: string; source: string; origin: string }> = [];
  readonly script: Array<LoadOutcome | Error | Promise<LoadOutcome>> = [];

  apply = async (text: Buffer, source: string, origin: "network"): Promise<LoadOutcome> => {
    this.calls.push({ text: text.toString(), source, origin });
    const next = this.script.shift();
    if (next === undefined) throw new Error("the test scripted no more applies");
    if (next instanceof Error) throw next;
    return next;
  };
}

/** Publishes into a list; `down` makes each publish reject as the connection does. */
class FakePublisher {
  readonly sent: Array<{ topic: string; status: ScheduleStatus; options: PublishOptions }> = [];
  down = false;
  /** When set, the next publish is taken only once this resolves. */
  held: Promise<void> | null = null;

  publish = async (topic: string, payload: string | Buffer, options: PublishOptions): Promise<void> => {
    if (this.down) throw new Error("not connected");
    const held = this.held;
    this.held = null;
    if (held) await held;
    this.sent.push({ topic, status: JSON.parse(payload.toString()) as ScheduleStatus, options });
  };

  states(): Array<[number | null, string, string[]]> {
    return this.sent.map((s) => [s.status.version, s.status.state, s.status.reasons]);
  }
}

const applied = (version: number, takeover: Promise<ScheduleTakeover> | null = null): LoadOutcome => ({ result: { state: "applied", version, previousVersion: version - 1 }, takeover });
const unchanged = (version: number): LoadOutcome => ({ result: { state: "unchanged", version }, takeover: null });
const rejected = (version: number | null, reasons: string[], moreReasons = 0): LoadOutcome => ({
  result: { state: "rejected", version, reasons, moreReasons } satisfies ApplyResult,
  takeover: null,
});
const onAir = (rejectedCreatives: ScheduleTakeover["rejected"] = []): ScheduleTakeover => ({ onAir: true, rejected: rejectedCreatives });
const delivery = (body = '{"schedule":{"version":5},"sig":"x"}'): LinkMessage => ({ topic: SCHEDULE, payload: Buffer.from(body), retain: true });

describe("ScheduleDesiredState", () => {
  let applier: FakeApplier;
  let pub: FakePublisher;
  let logs: ReturnType<typeof logCapture>;
  let state: ScheduleDesiredState;

  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
    applier = new FakeApplier();
    pub = new FakePublisher();
    logs = logCapture();
    state = new ScheduleDesiredState({ screenId: SCREEN, schedules: applier, publish: pub.publish, log: logs.log, now: () => Date.now() });
  });
  afterEach(() => {
    state.stop();
    vi.useRealTimers();
  });

  it("applies a delivery as a network one, then says pending-creatives and, once on air, applied with the refused creatives", async () => {
    const takeover = deferred<ScheduleTakeover>();
    applier.script.push(applied(5, takeover.promise));
    const handled = state.onMessage(delivery('{"v":5}'));
    await settle();
    expect(applier.calls).toEqual([{ text: '{"v":5}', source: `mqtt ${SCHEDULE}`, origin: "network" }]);
    expect(pub.sent).toEqual([{ topic: STATUS, status: { version: 5, state: "pending-creatives", reasons: [], at: "2026-12-01T08:00:00.000Z" }, options: { qos: 1, retain: true } }]);
    vi.setSystemTime(T0 + 90_000);
    takeover.resolve(onAir([{ creative: "ad-7", reason: "checksum", message: "sha256 differs" }]));
    await handled;
    expect(pub.sent[1]).toEqual({
      topic: STATUS,
      status: { version: 5, state: "applied", reasons: ["creative ad-7 refused (checksum): sha256 differs"], at: "2026-12-01T08:01:30.000Z" },
      options: { qos: 1, retain: true },
    });
    expect(pub.sent).toHaveLength(2);
  });

  it("says applied at once when nothing was left to prepare", async () => {
    applier.script.push(applied(5));
    await state.onMessage(delivery());
    expect(pub.states()).toEqual([[5, "applied", []]]);
  });

  it("says rejected with every reason, and how many more there were", async () => {
    applier.script.push(rejected(6, ["bad signature: not signed by the configured ops key", "wrong screen: for x, this is y"]));
    applier.script.push(rejected(null, ["malformed: expected an object { schedule, sig }"]));
    applier.script.push(rejected(7, ["malformed: a", "malformed: b"], 12));
    for (let i = 0; i < 3; i++) await state.onMessage(delivery(`{"delivery":${i}}`));
    expect(pub.states()).toEqual([
      [6, "rejected", ["bad signature: not signed by the configured ops key", "wrong screen: for x, this is y"]],
      [null, "rejected", ["malformed: expected an object { schedule, sig }"]],
      [7, "rejected", ["malformed: a", "malformed: b", "… and 12 more"]],
    ]);
  });

  it("says nothing for a redelivery of the version still being prepared, and applied once it is on air", async () => {
    const takeover = deferred<ScheduleTakeover>();
    applier.script.push(applied(5, takeover.promise), unchanged(5));
    const first = state.onMessage(delivery());
    await settle();
    await state.onMessage(delivery());
    expect(pub.states()).toEqual([[5, "pending-creatives", []]]);
    takeover.resolve(onAir());
    await first;
    expect(pub.states()).toEqual([
      [5, "pending-creatives", []],
      [5, "applied", []],
    ]);
  });

  it("answers a redelivery of the version in force with applied again, keeping its refusals and a new time", async () => {
    applier.script.push(applied(5, Promise.resolve(onAir([{ creative: "ad-7", reason: "fit", message: "too small" }]))), unchanged(5));
    await state.onMessage(delivery());
    vi.setSystemTime(T0 + 5_000);
    await state.onMessage(delivery());
    expect(pub.sent).toHaveLength(3);
    expect(pub.sent[2].status).toEqual({ version: 5, state: "applied", reasons: ["creative ad-7 refused (fit): too small"], at: "2026-12-01T08:00:05.000Z" });
  });

  it("answers a redelivery after a restart (no status known) with applied and no reasons", async () => {
    applier.script.push(unchanged(9));
    await state.onMessage(delivery());
    expect(pub.states()).toEqual([[9, "applied", []]]);
  });

  it("publishes nothing for a version superseded before it came on air; the newer one reports", async () => {
    const old = deferred<ScheduleTakeover>();
    const newer = deferred<ScheduleTakeover>();
    applier.script.push(applied(5, old.promise), applied(6, newer.promise));
    const first = state.onMessage(delivery());
    await settle();
    const second = state.onMessage(delivery());
    await settle();
    old.resolve({ onAir: false, rejected: [] });
    await first;
    expect(pub.states()).toEqual([
      [5, "pending-creatives", []],
      [6, "pending-creatives", []],
    ]);
    newer.resolve(onAir());
    await second;
    expect(pub.states().at(-1)).toEqual([6, "applied", []]);
    expect(pub.sent).toHaveLength(3);
  });

  it("does not report an older version applied even when its takeover ends on air after a newer delivery", async () => {
    const old = deferred<ScheduleTakeover>();
    applier.script.push(applied(5, old.promise), applied(6, new Promise<ScheduleTakeover>(() => undefined)));
    const first = state.onMessage(delivery());
    await settle();
    void state.onMessage(delivery());
    await settle();
    old.resolve(onAir());
    await first;
    expect(pub.states()).toEqual([
      [5, "pending-creatives", []],
      [6, "pending-creatives", []],
    ]);
  });

  it("says applied but not on air for a takeover that ended off air with no newer delivery here, and keeps that reason on a redelivery", async () => {
    applier.script.push(applied(5, Promise.resolve({ onAir: false, rejected: [] })), unchanged(5));
    await state.onMessage(delivery());
    const notOnAir = "applied, but not put on air: a newer schedule (loaded on site?) replaced it first, or the playout is not running (see the agent's log)";
    expect(pub.states()).toEqual([
      [5, "pending-creatives", []],
      [5, "applied", [notOnAir]],
    ]);
    await state.onMessage(delivery());
    expect(pub.states().at(-1)).toEqual([5, "applied", [notOnAir]]);
  });

  it("lets a rejected delivery supersede the report of the version still being prepared", async () => {
    const takeover = deferred<ScheduleTakeover>();
    applier.script.push(applied(5, takeover.promise), rejected(6, ["bad signature: not signed by the configured ops key"]));
    const first = state.onMessage(delivery());
    await settle();
    await state.onMessage(delivery());
    takeover.resolve(onAir());
    await first;
    expect(pub.states()).toEqual([
      [5, "pending-creatives", []],
      [6, "rejected", ["bad signature: not signed by the configured ops key"]],
    ]);
  });

  it("ignores an empty payload (the retained schedule cleared): no apply, no status", async () => {
    await state.onMessage({ topic: SCHEDULE, payload: Buffer.alloc(0), retain: true });
    expect(applier.calls).toHaveLength(0);
    expect(pub.sent).toHaveLength(0);
    expect(logs.lines().some((l) => l.level === 40 && l.msg.includes("cleared"))).toBe(true);
  });

  it("says rejected 'not applied…' when the agent failed, and applies the same envelope again after retryMs", async () => {
    state = new ScheduleDesiredState({ screenId: SCREEN, schedules: applier, publish: pub.publish, log: logs.log, retryMs: 5_000 });
    applier.script.push(new Error("the ledger could not record it (SQLITE_FULL)"), new Error("still full"), applied(5));
    await state.onMessage(delivery('{"v":5}'));
    expect(pub.states()).toEqual([[null, "rejected", ["not applied: the agent could not record or store it (the ledger could not record it (SQLITE_FULL)); it tries again in 5 s"]]]);
    await vi.advanceTimersByTimeAsync(4_999);
    expect(applier.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(applier.calls).toHaveLength(2);
    expect(pub.states()[1]).toEqual([null, "rejected", ["not applied: the agent could not record or store it (still full); it tries again in 5 s"]]);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(applier.calls.map((c) => c.text)).toEqual(['{"v":5}', '{"v":5}', '{"v":5}']);
    expect(pub.states().at(-1)).toEqual([5, "applied", []]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(applier.calls).toHaveLength(3);
  });

  it("retries after 60 s by default, and a newer delivery replaces the retry", async () => {
    applier.script.push(new Error("disk full"), applied(6));
    await state.onMessage(delivery('{"v":5}'));
    expect(pub.states()[0][2][0]).toMatch(/tries again in 60 s$/);
    await vi.advanceTimersByTimeAsync(30_000);
    await state.onMessage(delivery('{"v":6}'));
    await vi.advanceTimersByTimeAsync(120_000);
    expect(applier.calls.map((c) => c.text)).toEqual(['{"v":5}', '{"v":6}']);
  });

  it("stop() cancels a pending retry", async () => {
    applier.script.push(new Error("disk full"));
    await state.onMessage(delivery());
    state.stop();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(applier.calls).toHaveLength(1);
  });

  it("sets no retry for an apply that failed after stop()", async () => {
    const failing = deferred<LoadOutcome>();
    applier.script.push(failing.promise);
    const handled = state.onMessage(delivery());
    await settle();
    state.stop();
    failing.reject(new Error("database is closed"));
    await handled;
    await vi.advanceTimersByTimeAsync(600_000);
    expect(applier.calls).toHaveLength(1);
  });

  it("reports nothing for a takeover that ends after stop()", async () => {
    const takeover = deferred<ScheduleTakeover>();
    applier.script.push(applied(5, takeover.promise));
    const handled = state.onMessage(delivery());
    await settle();
    state.stop();
    takeover.resolve(onAir());
    await handled;
    expect(pub.states()).toEqual([[5, "pending-creatives", []]]);
  });

  it("publishes on (re)connect the latest status that could not be published, once", async () => {
    pub.down = true;
    const takeover = deferred<ScheduleTakeover>();
    applier.script.push(applied(5, takeover.promise));
    const handled = state.onMessage(delivery());
    await settle();
    takeover.resolve(onAir([{ creative: "ad-2", reason: "probe", message: "no video stream" }]));
    await handled;
    expect(pub.sent).toHaveLength(0);
    expect(logs.lines().filter((l) => l.msg.startsWith("schedule/status not published"))).toHaveLength(2);
    pub.down = false;
    await state.onConnected();
    expect(pub.states()).toEqual([[5, "applied", ["creative ad-2 refused (probe): no video stream"]]]);
    await state.onConnected();
    expect(pub.sent).toHaveLength(1);
  });

  it("publishes on connect a status that failed after an earlier one went out", async () => {
    applier.script.push(applied(5), rejected(6, ["malformed: no schedule"]));
    await state.onMessage(delivery());
    pub.down = true;
    await state.onMessage(delivery());
    pub.down = false;
    await state.onConnected();
    expect(pub.states()).toEqual([
      [5, "applied", []],
      [6, "rejected", ["malformed: no schedule"]],
    ]);
  });

  it("publishes on connect a newer status that failed while an older one was still being taken", async () => {
    const taken = deferred<void>();
    pub.held = taken.promise;
    applier.script.push(applied(5), rejected(6, ["malformed: no schedule"]));
    const first = state.onMessage(delivery());
    await settle();
    pub.down = true;
    await state.onMessage(delivery());
    pub.down = false;
    taken.resolve();
    await first;
    expect(pub.states()).toEqual([[5, "applied", []]]);
    await state.onConnected();
    expect(pub.states()).toEqual([
      [5, "applied", []],
      [6, "rejected", ["malformed: no schedule"]],
    ]);
  });

  it("publishes nothing on connect when every status went out, or none exists", async () => {
    await state.onConnected();
    applier.script.push(applied(5));
    await state.onMessage(delivery());
    await state.onConnected();
    expect(pub.states()).toEqual([[5, "applied", []]]);
  });

  // Defect: a delivery clears the pending retry when it arrives, but an earlier delivery whose
  // apply fails afterwards (applies are queued in the daemon) sets a new retry for its own, older
  // envelope. A minute later that envelope is applied again, is refused as older than the one in
  // force, and the retained status flips to `rejected` for a schedule nobody sent.
  // Fix: remember the latest delivery and retry only if the failed one is still the latest.
  it("never retries an envelope that a newer delivery replaced while it was being applied", async () => {
    const first = deferred<LoadOutcome>();
    const second = deferred<LoadOutcome>();
    applier.script.push(first.promise, second.promise, rejected(5, ["stale: version 5 is older than 6"]));
    const a = state.onMessage(delivery('{"v":5}'));
    const b = state.onMessage(delivery('{"v":6}'));
    await settle();
    // In turn, as the daemon's loader applies them.
    first.reject(new Error("the ledger could not record it"));
    await settle();
    second.resolve(applied(6));
    await Promise.all([a, b]);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(applier.calls.map((c) => c.text)).toEqual(['{"v":5}', '{"v":6}']);
    expect(pub.states().at(-1)).toEqual([6, "applied", []]);
  });

  // Defect: a redelivery of the version in force copies the reasons of the last status of that
  // version, whatever its state. After a forged or re-signed envelope of the same version was
  // rejected (bad signature, `stale: … other content`), the genuine envelope's redelivery is
  // published as `applied` with those rejection reasons, which read as refused creatives.
  // Fix: copy the reasons only from an `applied` status (`this.status?.state === "applied"`).
  it("does not carry a rejection's reasons into the applied answer for the version in force", async () => {
    applier.script.push(applied(7), rejected(7, ["bad signature: not signed by the configured ops key"]), unchanged(7));
    for (const body of ["in force", "forged", "in force"]) await state.onMessage(delivery(JSON.stringify(body)));
    expect(pub.states().at(-1)).toEqual([7, "applied", []]);
  });

  it("an empty retained message (ops clearing the topic) keeps the retry of an envelope the agent failed to apply", async () => {
    vi.useFakeTimers();
    try {
      state = new ScheduleDesiredState({ screenId: SCREEN, schedules: applier, publish: pub.publish, log: logs.log, retryMs: 5_000 });
      applier.script.push(new Error("disk full"), applied(9));
      await state.onMessage(delivery("v9"));
      await state.onMessage(delivery(""));
      await vi.advanceTimersByTimeAsync(5_000);
      expect(applier.calls.map((c) => c.text)).toEqual(["v9", "v9"]);
      expect(pub.states().at(-1)).toEqual([9, "applied", []]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("judges the same rejected bytes once an hour at most: a broker redelivers them at every reconnect", async () => {
    let now = Date.parse("2026-12-01T08:00:00Z");
    state = new ScheduleDesiredState({ screenId: SCREEN, schedules: applier, publish: pub.publish, log: logs.log, now: () => now });
    applier.script.push(rejected(8, ["bad signature: not signed by the configured ops key"]), rejected(8, ["bad signature: not signed by the configured ops key"]));
    await state.onMessage(delivery("forged"));
    now += 30 * 60_000;
    await state.onMessage(delivery("forged"));
    expect(applier.calls).toHaveLength(1);
    now += 31 * 60_000;
    await state.onMessage(delivery("forged"));
    expect(applier.calls).toHaveLength(2);
  });
});
