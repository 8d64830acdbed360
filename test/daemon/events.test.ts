// Controller and brightness events as ledger events: the mapping (brightness.failed has no event
// type of its own), and the recorder, which must never let a ledger failure reach the caller.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DeviceEventRecorder, ledgerEventFor, type DeviceEvent } from "../../agent/daemon/events.js";
import { createLogger, silentLogger } from "../../agent/log.js";
import { LedgerError } from "../../agent/proofs/index.js";
import { EVENT_TYPES } from "../../agent/proofs/types.js";
import { makeLedger, type TestLedger } from "../proofs/fixtures.js";
import { tempDir } from "../helpers/tmp.js";

const AT = Date.parse("2026-12-01T08:00:00Z");

describe("ledgerEventFor", () => {
  it("records a failed brightness change as controller.fault with fault brightness.failed", () => {
    const failed: DeviceEvent = { type: "brightness.failed", at: AT, percent: 40, source: "schedule", reason: "controller tcp://10.0.0.5:5200 did not answer within 1 s", retryInMs: 30_000 };
    expect(ledgerEventFor(failed)).toEqual({
      type: "controller.fault",
      detail: { fault: "brightness.failed", percent: 40, reason: "controller tcp://10.0.0.5:5200 did not answer within 1 s", source: "schedule" },
    });
  });

  it("keeps the other events' own types and their detail, the override's end as an ISO time", () => {
    expect(ledgerEventFor({ type: "brightness.changed", at: AT, percent: 70, previous: 40, source: "override", until: AT + 600_000 })).toEqual({
      type: "brightness.changed",
      detail: { percent: 70, previous: 40, source: "override", until: "2026-12-01T08:10:00.000Z" },
    });
    expect(ledgerEventFor({ type: "brightness.changed", at: AT, percent: 70, previous: null, source: "schedule" })).toEqual({
      type: "brightness.changed",
      detail: { percent: 70, previous: null, source: "schedule" },
    });
    expect(ledgerEventFor({ type: "controller.fault", at: AT, faults: ["link.down", "temperature.high"], newFaults: ["link.down"], detail: "refused" })).toEqual({
      type: "controller.fault",
      detail: { faults: ["link.down", "temperature.high"], newFaults: ["link.down"], detail: "refused" },
    });
    expect(ledgerEventFor({ type: "controller.recovered", at: AT, cleared: ["link.down"], faults: [] })).toEqual({
      type: "controller.recovered",
      detail: { cleared: ["link.down"], faults: [] },
    });
  });

  it("only ever yields an event type the ledger accepts", () => {
    const events: DeviceEvent[] = [
      { type: "brightness.failed", at: AT, percent: 1, source: "override", reason: "x", retryInMs: 1 },
      { type: "brightness.changed", at: AT, percent: 1, previous: null, source: "schedule" },
      { type: "controller.fault", at: AT, faults: [], newFaults: [], detail: "" },
      { type: "controller.recovered", at: AT, cleared: [], faults: [] },
    ];
    for (const e of events) expect(EVENT_TYPES).toContain(ledgerEventFor(e).type);
  });
});

describe("DeviceEventRecorder", () => {
  let tmp: ReturnType<typeof tempDir>;
  let t: TestLedger;
  beforeEach(() => {
    tmp = tempDir();
    t = makeLedger(tmp.dir);
  });
  afterEach(() => {
    t.db.close();
    tmp.cleanup();
  });

  const failed = (reason: string, percent = 40): DeviceEvent => ({ type: "brightness.failed", at: AT, percent, source: "schedule", reason, retryInMs: 30_000 });
  const events = () => [...t.ledger.events()].map((e) => e.event);

  it("appends each event to the ledger", () => {
    const recorder = new DeviceEventRecorder({ ledger: () => t.ledger, log: silentLogger() });
    recorder.record({ type: "controller.fault", at: AT, faults: ["link.down"], newFaults: ["link.down"], detail: "refused" });
    recorder.record(failed("timeout"));
    expect(events()).toEqual([
      { type: "controller.fault", faults: ["link.down"], newFaults: ["link.down"], detail: "refused" },
      { type: "controller.fault", fault: "brightness.failed", percent: 40, reason: "timeout", source: "schedule" },
    ]);
  });

  it("records a brightness failure once per streak: again only when it changes or after a success", () => {
    const recorder = new DeviceEventRecorder({ ledger: () => t.ledger, log: silentLogger() });
    recorder.record(failed("timeout"));
    recorder.record(failed("timeout"));
    recorder.record(failed("timeout"));
    recorder.record(failed("link down"));
    recorder.record({ type: "brightness.changed", at: AT, percent: 40, previous: null, source: "schedule" });
    recorder.record(failed("link down"));
    expect(events().map((e) => `${e.type} ${String(e.reason ?? "")}`)).toEqual([
      "controller.fault timeout",
      "controller.fault link down",
      "brightness.changed ",
      "controller.fault link down",
    ]);
  });

  it("a ledger that fails is logged and never throws to the poller or the scheduler", () => {
    const lines: string[] = [];
    const log = createLogger({ level: "error", destination: { write: (line: string) => lines.push(line) } as unknown as NodeJS.WritableStream });
    const broken = {
      event: () => {
        throw new LedgerError("ledger append failed: the disk is full", "disk-full");
      },
    };
    const recorder = new DeviceEventRecorder({ ledger: () => broken, log });
    expect(() => recorder.record(failed("timeout"))).not.toThrow();
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({ msg: "device event could not be recorded in the ledger", type: "controller.fault", err: { message: "ledger append failed: the disk is full" } });
  });

  it("an event with no open ledger is logged, not thrown", () => {
    const lines: string[] = [];
    const log = createLogger({ level: "warn", destination: { write: (line: string) => lines.push(line) } as unknown as NodeJS.WritableStream });
    new DeviceEventRecorder({ ledger: () => null, log }).record({ type: "controller.recovered", at: AT, cleared: ["link.down"], faults: [] });
    expect(JSON.parse(lines[0])).toMatchObject({ msg: "device event not recorded: the ledger is not open", type: "controller.recovered" });
  });
});
