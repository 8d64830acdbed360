// plannerHistory: the planner's inputs read from a ledger (here a fake reader) and the stored
// schedule, and a plan made from them honouring the live orders.
import { describe, expect, it } from "vitest";
import { plannerHistory, plannerOrders, resumedEvent, suspendedEvent, takedownEvent } from "../../../agent/playback/history/index.js";
import { plan } from "../../../agent/playback/planner/index.js";
import { currentSchedule, eventAt, fakeReader, H, MIN, playAt, T0 } from "./events.js";

const cola = { id: "cola-dec", customer: "cola-co", creatives: ["cola-15"], start: "2026-12-01T00:00:00Z", end: "2027-01-01T00:00:00Z", playsPerHour: 4 };
const bank = { id: "bank-dec", customer: "bank-co", creatives: ["bank-15"], start: "2026-12-01T00:00:00Z", end: "2027-01-01T00:00:00Z", playsPerHour: 2 };
const current = currentSchedule([cola, bank], { version: 3, appliedAt: T0 });
const NOW = T0 + 2 * H;
const unverified = { verified: false, online: true, brightness: 80, blackout: false };

describe("plannerHistory", () => {
  it("reads plays from when the schedule's campaigns were applied up to now, and the orders in force under its version", () => {
    const reader = fakeReader([
      playAt(1, T0 - H), // before this agent applied the campaign: owed nothing, not read
      playAt(2, T0 + 5 * MIN),
      playAt(3, T0 + 6 * MIN, { screenState: unverified }),
      eventAt(4, T0 + 30 * MIN, suspendedEvent({ reason: "storm", until: null, campaigns: ["bank-dec"], blackout: false, by: "local:tech", scheduleVersion: 3 })),
      eventAt(5, T0 + 40 * MIN, takedownEvent({ target: { creative: "cola-15" }, immediate: false, lift: false, scheduleVersion: 3, by: "mqtt:c1" })),
      eventAt(6, T0 + 50 * MIN, takedownEvent({ target: { campaign: "bank-dec" }, immediate: true, lift: false, scheduleVersion: 2, by: "mqtt:c2" })),
      playAt(7, NOW + MIN), // after now: not read
    ]);
    const history = plannerHistory(reader, current, { controllerConfigured: true, now: NOW });
    expect([...history.delivered.counts()].map(([id, c]) => [id, [...c.byHour], c.makeGoods])).toEqual([["cola-dec", [[T0, 1]], 0]]);
    expect(history.appliedAt).toEqual({ "cola-dec": T0, "bank-dec": T0 });
    expect(history.suspensions).toEqual([{ from: T0 + 30 * MIN, reason: "storm", campaigns: ["bank-dec"], blackout: false }]);
    expect(history.takedowns).toEqual([{ at: T0 + 40 * MIN, creative: "cola-15" }]); // the v2 one does not stand under v3
    expect(history.orders).toMatchObject({ suspension: { seq: 4, by: "local:tech" }, expired: null, skipped: [] });
    // No controller by design: the unverified play counts too.
    expect(plannerHistory(reader, current, { controllerConfigured: false, now: NOW }).delivered.counts().get("cola-dec")?.byHour.get(T0)).toBe(2);
  });

  it("an expired suspension is no planner input; the orders say it expired so the playout can record its resume", () => {
    const reader = fakeReader([eventAt(1, T0, suspendedEvent({ reason: "rain", until: T0 + H, campaigns: null, blackout: true, by: "agent", scheduleVersion: 3 }))]);
    const history = plannerHistory(reader, current, { controllerConfigured: true, now: NOW });
    expect(history.suspensions).toEqual([]);
    expect(history.orders.expired).toMatchObject({ seq: 1, until: T0 + H, blackout: true });
  });

  it("an order recorded after `now` still holds: a wall clock that stepped back does not undo it", () => {
    const reader = fakeReader([eventAt(1, NOW + H, takedownEvent({ target: { campaign: "cola-dec" }, immediate: true, lift: false, scheduleVersion: 3, by: "agent" }))]);
    expect(plannerHistory(reader, current, { controllerConfigured: true, now: NOW }).takedowns).toEqual([{ at: NOW + H, campaign: "cola-dec" }]);
  });

  it("a plan made from it honours the live suspension and the standing takedown", () => {
    const since = NOW - 10 * MIN;
    const reader = fakeReader([
      eventAt(1, T0, suspendedEvent({ reason: "earlier", until: null, campaigns: null, blackout: false, by: "agent", scheduleVersion: 3 })),
      eventAt(2, T0 + MIN, resumedEvent({ seq: 1, since: T0, reason: "earlier", until: null, campaigns: null, blackout: false, by: "agent" }, { endedAt: T0 + MIN, auto: false, by: "agent" })),
      eventAt(3, since, suspendedEvent({ reason: "storm", until: NOW + H, campaigns: ["bank-dec"], blackout: false, by: "local:tech", scheduleVersion: 3 })),
      eventAt(4, since, takedownEvent({ target: { campaign: "cola-dec" }, immediate: true, lift: false, scheduleVersion: 3, by: "mqtt:c1" })),
    ]);
    const h = plannerHistory(reader, current, { controllerConfigured: true, now: NOW });
    const p = plan({ schedule: current.document, from: NOW, to: NOW + 2 * H, delivered: h.delivered.counts(), appliedAt: h.appliedAt, suspensions: h.suspensions, takedowns: h.takedowns });
    const bankAt = p.items.filter((i) => i.campaign === "bank-dec").map((i) => i.startMs);
    expect(p.items.some((i) => i.campaign === "cola-dec")).toBe(false);
    expect(bankAt.length).toBeGreaterThan(0);
    expect(bankAt.every((t) => t >= NOW + H)).toBe(true); // suspended until NOW + H, then it plays again
    expect(p.shortfalls.filter((s) => s.campaign === "bank-dec").map((s) => s.reason)).toEqual(["suspension: storm"]);
  });
});

describe("plannerOrders", () => {
  it("turns the orders into the planner's suspensions (until → to) and takedowns, without reading anything", () => {
    const orders = {
      suspension: { seq: 9, since: T0, reason: "police", until: T0 + H, campaigns: null, blackout: true, by: "mqtt:x" },
      takedowns: [{ seq: 10, at: T0 + MIN, campaign: "a", immediate: true, by: "agent" }, { seq: 11, at: T0 + 2 * MIN, creative: "b-15", immediate: false, by: "agent" }],
    };
    expect(plannerOrders(orders)).toEqual({
      suspensions: [{ from: T0, to: T0 + H, reason: "police", campaigns: null, blackout: true }],
      takedowns: [{ at: T0 + MIN, campaign: "a" }, { at: T0 + 2 * MIN, creative: "b-15" }],
    });
    expect(plannerOrders({ suspension: null, takedowns: [] })).toEqual({ suspensions: [], takedowns: [] });
  });
});
