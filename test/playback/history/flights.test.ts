// campaign.completed against a real ledger: which flights ended and are not recorded, and a
// flight's totals as the delivery report counts them (a lifted takedown's time not contracted).
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { closedFlights, endedFlights, flightCompletedDetail, flightKey, takedownEvent } from "../../../agent/playback/history/index.js";
import { play, makeLedger, type TestLedger } from "../../proofs/fixtures.js";
import { tempDir } from "../../helpers/tmp.js";
import { currentSchedule, H, iso, MIN } from "./events.js";

// The fixture ledger's clock starts at 2026-12-01T00:00:00Z.
const START = Date.parse("2026-12-01T00:00:00Z");
const short = { id: "cola-3h", customer: "cola-co", creatives: ["cola-15"], start: "2026-12-01T08:00:00+08:00", end: "2026-12-01T11:00:00+08:00", playsPerHour: 4, makeGood: true };
const long = { id: "bank-dec", customer: "bank-co", creatives: ["bank-15"], start: "2026-12-01T00:00:00Z", end: "2027-01-01T00:00:00Z", playsPerHour: 2 };

let tmp: ReturnType<typeof tempDir>;
let t: TestLedger;

beforeEach(() => {
  tmp = tempDir("ledagent-flights-");
  t = makeLedger(tmp.dir);
});
afterEach(() => {
  t.ledger.close();
  t.db.close();
  tmp.cleanup();
});

/** Plays `campaign` at each offset (ms from START), recorded as the playout would. */
function playsAt(campaign: string, offsets: number[], over: { makeGood?: boolean; verified?: boolean } = {}): void {
  for (const offset of offsets) {
    const startedAt = iso(START + offset);
    t.ledger.append({
      kind: "play",
      play: play({ campaign, startedAt, plannedAt: startedAt, endedAt: iso(START + offset + 15_000), makeGood: over.makeGood ?? false, screenState: { verified: over.verified ?? true, online: true, brightness: 80, blackout: false } }),
    });
  }
}

function takedown(at: number, lift: boolean, scheduleVersion = 3): void {
  t.clock.advance(START + at - t.clock.now().getTime());
  t.ledger.event("takedown", takedownEvent({ target: { campaign: "cola-3h" }, immediate: true, lift, scheduleVersion, by: "local:tech" }));
}

describe("flights", () => {
  it("a flight's totals: contracted from when it was applied, a lifted takedown's hour not contracted, make-goods and owed", () => {
    const current = currentSchedule([short, long], { version: 3, appliedAt: START });
    // Hour 0 (08:00 local): 4 of 4. Hour 1: taken down at its start, lifted at its end. Hour 2:
    // 2 regular plays (one on an unverified screen, which does not count) and a make-good.
    playsAt("cola-3h", [5 * MIN, 20 * MIN, 35 * MIN, 50 * MIN]);
    takedown(H, false);
    takedown(2 * H, true);
    playsAt("cola-3h", [2 * H + 5 * MIN, 2 * H + 20 * MIN]);
    playsAt("cola-3h", [2 * H + 35 * MIN], { verified: false });
    playsAt("cola-3h", [2 * H + 50 * MIN], { makeGood: true });
    playsAt("cola-3h", [3 * H + 5 * MIN]); // after the flight: not counted
    const detail = flightCompletedDetail(t.ledger, current, "cola-3h", { controllerConfigured: true });
    expect(detail).toEqual({
      type: "campaign.completed",
      campaign: "cola-3h",
      customer: "cola-co",
      scheduleVersion: 3,
      start: short.start,
      end: short.end,
      contracted: 8,
      delivered: 6,
      madeGood: 1,
      shortfall: 2,
      owed: 1,
    });
    // Applied an hour and a half into the flight: only what was left of it is contracted.
    const late = currentSchedule([short], { version: 3, appliedAt: START + 1.5 * H });
    expect(flightCompletedDetail(t.ledger, late, "cola-3h", { controllerConfigured: true })).toMatchObject({ contracted: 4, delivered: 2, shortfall: 2 });
    expect(() => flightCompletedDetail(t.ledger, current, "nope", { controllerConfigured: true })).toThrow(/nope is not in schedule v3/);
  });

  it("a takedown never lifted leaves the rest of the flight uncontracted; one of a replaced schedule only until the new one", () => {
    takedown(H, false, 3);
    const v3 = currentSchedule([short], { version: 3, appliedAt: START });
    expect(flightCompletedDetail(t.ledger, v3, "cola-3h", { controllerConfigured: true })).toMatchObject({ contracted: 4, shortfall: 4, owed: 4 });
    t.clock.advance(H); // 2 h in, version 4 replaces the schedule the takedown was given under
    t.ledger.event("schedule.applied", { version: 4, previousVersion: 3, source: "file:x" });
    const v4 = currentSchedule([short], { version: 4, appliedAt: START });
    expect(flightCompletedDetail(t.ledger, v4, "cola-3h", { controllerConfigured: true })).toMatchObject({ scheduleVersion: 4, contracted: 8, delivered: 0, shortfall: 8, owed: 8 });
  });

  it("ended flights are those whose end has passed and that no campaign.completed records yet", () => {
    const current = currentSchedule([short, long], { version: 3, appliedAt: START });
    const end = Date.parse(short.end);
    const closedNow = () => closedFlights(t.ledger.events({ type: "campaign.completed" }));
    expect(endedFlights(current, closedNow().closed, end - 1)).toEqual([]);
    expect(endedFlights(current, closedNow().closed, end).map((c) => c.id)).toEqual(["cola-3h"]);
    t.ledger.event("campaign.completed", { ...flightCompletedDetail(t.ledger, current, "cola-3h", { controllerConfigured: true }) });
    t.ledger.event("campaign.completed", { campaign: 42 }); // unreadable: skipped, not fatal
    const { closed, skipped } = closedNow();
    expect(closed).toEqual(new Set([flightKey("cola-3h", short.end)]));
    expect(skipped).toEqual([{ seq: 2, type: "campaign.completed", reason: expect.any(String) }]);
    expect(endedFlights(current, closed, end + H)).toEqual([]);
    // The same end written in another zone is the same flight.
    expect(flightKey("cola-3h", "2026-12-01T03:00:00Z")).toBe(flightKey("cola-3h", short.end));
    // A schedule that moves the end later opens a new flight to close.
    const extended = currentSchedule([{ ...short, end: "2026-12-01T12:00:00+08:00" }], { version: 4, appliedAt: START });
    expect(endedFlights(extended, closed, end + H).map((c) => c.id)).toEqual(["cola-3h"]);
  });
});
