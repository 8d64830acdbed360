// The live tally of delivered plays: the same counts as countDelivered over the same plays,
// however the plays arrive, and both as proof-format counts delivery.
import fc from "fast-check";
import { DateTime } from "luxon";
import { describe, expect, it } from "vitest";
import { countDelivered } from "../../../agent/playback/delivery/delivery.js";
import { DeliveredTally } from "../../../agent/playback/history/index.js";
import type { DeliveredCounts } from "../../../agent/playback/planner/types.js";
import type { PlayEntry, PlayStatus } from "../../../agent/proofs/types.js";
import { propertyParams } from "../../helpers/property.js";
import { H, MIN, playAt, T0 } from "./events.js";

/** Counts as sorted plain data, so two maps compare whatever their insertion order. */
function plain(counts: ReadonlyMap<string, DeliveredCounts>): Array<[string, Array<[number, number]>, number]> {
  return [...counts].map(([id, c]): [string, Array<[number, number]>, number] => [id, [...c.byHour].sort((a, b) => a[0] - b[0]), c.makeGoods]).sort((a, b) => a[0].localeCompare(b[0]));
}

/** The rule as proof-format states it, counted the plain way (luxon's clock hour in the zone). */
function reference(plays: PlayEntry[], zone: string, controllerConfigured: boolean): Map<string, DeliveredCounts> {
  const out = new Map<string, { byHour: Map<number, number>; makeGoods: number }>();
  for (const { play: p } of plays) {
    if (p.status !== "completed" || (controllerConfigured && !p.screenState.verified)) continue;
    const c = out.get(p.campaign) ?? { byHour: new Map<number, number>(), makeGoods: 0 };
    out.set(p.campaign, c);
    if (p.makeGood) c.makeGoods++;
    else {
      const hour = DateTime.fromISO(p.startedAt, { zone }).startOf("hour").toMillis();
      c.byHour.set(hour, (c.byHour.get(hour) ?? 0) + 1);
    }
  }
  return out;
}

const playArb = fc.record({
  campaign: fc.constantFrom("cola-dec", "bank-daily", "fill"),
  offsetMs: fc.integer({ min: 0, max: 3 * 24 * H }),
  status: fc.constantFrom<PlayStatus>("completed", "completed", "interrupted", "failed", "dark"),
  verified: fc.boolean(),
  makeGood: fc.boolean(),
});

describe("DeliveredTally", () => {
  it("property: the tally built play by play equals countDelivered and the proof-format rule over the same plays", () => {
    const name = "history: DeliveredTally equals countDelivered";
    fc.assert(
      fc.property(
        fc.array(playArb, { maxLength: 120 }),
        fc.constantFrom("UTC", "Asia/Shanghai", "Asia/Kolkata", "America/New_York"),
        fc.boolean(),
        fc.integer({ min: 1, max: 10 }),
        (raw, zone, controllerConfigured, chunk) => {
          const plays = raw.map((r, i) => playAt(i + 1, T0 + r.offsetMs, { campaign: r.campaign, status: r.status, makeGood: r.makeGood, screenState: { verified: r.verified, online: true, brightness: 80, blackout: false } }));
          const tally = new DeliveredTally({ zone, controllerConfigured });
          // Added in chunks, reading the counts between them as the playout would between plans.
          for (let i = 0; i < plays.length; i += chunk) {
            tally.addAll(plays.slice(i, i + chunk));
            expect(plain(tally.counts())).toEqual(plain(countDelivered(plays.slice(0, i + chunk), { zone, controllerConfigured })));
          }
          expect(plain(tally.counts())).toEqual(plain(reference(plays, zone, controllerConfigured)));
        },
      ),
      propertyParams(name, 100),
    );
  });

  it("add() says whether the play counted: unverified counts only with no controller by design", () => {
    const unverified = playAt(1, T0 + 5 * MIN, { screenState: { verified: false, online: true, brightness: 80, blackout: false } });
    expect(new DeliveredTally({ zone: "UTC", controllerConfigured: true }).add(unverified)).toBe(false);
    const none = new DeliveredTally({ zone: "UTC", controllerConfigured: false });
    expect(none.add(unverified)).toBe(true);
    expect(none.add(playAt(2, T0 + 6 * MIN, { status: "interrupted" }))).toBe(false);
    expect(none.add(playAt(3, T0 + 7 * MIN, { makeGood: true }))).toBe(true);
    expect(plain(none.counts())).toEqual([["cola-dec", [[T0, 1]], 1]]);
  });
});
