// Make-good on real parts (rule 6): a makeGood campaign suspended across the end of a clock hour
// gets the plays it missed in that hour back as makeGood plays in the next one, earliest first in
// spare time, no more. Each rig runs on a clock set shortly before an hour ends, so the test sees
// the hour turn; two rates at once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventEntry, PlayRecord } from "../../../agent/proofs/types.js";
import { tempDir } from "../../helpers/tmp.js";
import { dump, eventsOf, expectBackToBack, flight, HOUR_MS, ms, offsetInto, playsOf, sleep, tech } from "./helpers.js";
import { campaign, makeClip, scenarioRig, until, type Clip } from "./rig.js";

const tmp = tempDir("ledagent-playout-makegood-");
let house: Clip;
let cola: Clip;

beforeAll(() => {
  house = makeClip(tmp.dir, "house", 2, "smptebars");
  cola = makeClip(tmp.dir, "cola", 1);
});
afterAll(() => tmp.cleanup());

interface Outcome {
  plays: PlayRecord[];
  owed: number;
  resumedAt: number;
  hourEnd: number;
  suspended: EventEntry[];
  resumed: EventEntry[];
}

/**
 * cola at `perHour`, applied `leadMs` before an hour ends, suspended `suspendMs` before it ends
 * and resumed 3 s into the next; then up to `waitMs` for the make-goods (and 5 s for any extra).
 */
async function suspendedOverTheHour(name: string, perHour: number, leadMs: number, suspendMs: number, waitMs: number): Promise<Outcome> {
  const rig = await scenarioRig({
    dir: `${tmp.dir}/${name}`,
    offsetMs: offsetInto(HOUR_MS - leadMs),
    creatives: [house, cola],
    campaigns: (r) => [campaign("cola", ["cola"], { playsPerHour: perHour, makeGood: true, ...flight(r) })],
    prepare: [house, cola],
  });
  const appliedAt = Date.parse(rig.store.current()!.campaignAppliedAt.cola!);
  const hourEnd = Math.ceil(appliedAt / HOUR_MS) * HOUR_MS;
  const out: Outcome = { plays: [], owed: 0, resumedAt: 0, hourEnd, suspended: [], resumed: [] };
  try {
    await until("the suspension's time", () => rig.now() >= hourEnd - suspendMs, 60_000);
    await rig.playout.suspend({ reason: "panel repair", until: null, campaigns: null, blackout: false, origin: tech });
    await until("3 s into the next hour", () => rig.now() >= hourEnd + 3000, 60_000);
    out.resumedAt = rig.now();
    await rig.playout.resume(tech);
    // What the hour owed from the moment the campaign was applied (a partly active hour:
    // round(N × fraction)), less what it delivered.
    const contracted = Math.round((perHour * (hourEnd - appliedAt)) / HOUR_MS);
    const delivered = playsOf(rig).filter((p) => p.campaign === "cola" && p.status === "completed" && !p.makeGood && ms(p.startedAt) < hourEnd).length;
    out.owed = contracted - delivered;
    await until(`${out.owed} make-goods`, () => playsOf(rig).filter((p) => p.makeGood && p.status === "completed").length >= out.owed, waitMs).catch(() => undefined);
    await sleep(5000); // and no more
    out.suspended = eventsOf(rig, "suspended");
    out.resumed = eventsOf(rig, "resumed");
  } finally {
    await rig.close();
  }
  out.plays = playsOf(rig);
  dump(`make-good, ${perHour} an hour`, out.plays, hourEnd);
  if (process.env.DUMP) console.log({ owed: out.owed, appliedAt: new Date(appliedAt).toISOString(), hourEnd: new Date(hourEnd).toISOString() });
  return out;
}

function expectMadeGood(o: Outcome): void {
  expect(o.owed).toBeGreaterThanOrEqual(2);
  expectBackToBack(o.plays);
  const makeGoods = o.plays.filter((p) => p.makeGood);
  expect(makeGoods).toHaveLength(o.owed);
  for (const p of makeGoods) {
    expect(p).toMatchObject({ campaign: "cola", creative: "cola", status: "completed" });
    expect(ms(p.plannedAt)).toBeGreaterThanOrEqual(o.resumedAt);
  }
  // While suspended only fill played; the hour's own plays went on after the resume.
  expect(o.suspended).toHaveLength(1);
  const suspendedAt = ms(o.suspended[0]!.at);
  expect(o.plays.filter((p) => p.customer !== "fill" && ms(p.startedAt) > suspendedAt + 1000 && ms(p.startedAt) < o.resumedAt)).toEqual([]);
  expect(o.plays.some((p) => p.campaign === "cola" && !p.makeGood && ms(p.startedAt) >= o.resumedAt)).toBe(true);
  expect(o.resumed).toHaveLength(1);
  expect(o.resumed[0]!.event).toMatchObject({ auto: false, suspendedSeq: o.suspended[0]!.seq });
}

/** Registers these tests; an aggregating test file runs them alongside others. */
export function makeGoodTests(): void {
  describe.concurrent("make-good", () => {
    it("plays missed during a suspension over the hour's end come back as makeGood plays in the next hour", async () => {
      expectMadeGood(await suspendedOverTheHour("mg360", 360, 50_000, 25_000, 40_000));
    }, 180_000);

    // BUG (planner): a make-good is placed only where `laterPlaysKeepWindows` finds the hour's own
    // plays still start in their windows, simulating a 5 s SEPARATOR_MS before every one of them,
    // of the same campaign too. At 720 an hour (5 s windows) that never fits until the plan's last
    // minute: the owed plays go to the end of the 2 h plan (planner alone, owed 2: planned at
    // +7181 s and +7186 s; with a 30 min plan: planned 0), while the hour is 80% fill, and each
    // replan pushes them out again. Seen here: none of the 2 owed in the 20 s after the resume
    // (at 360 an hour they came 4 s after it).
    it.fails("at 720 an hour too (5 s windows, 1 s plays, the hour mostly fill)", async () => {
      expectMadeGood(await suspendedOverTheHour("mg720", 720, 32_000, 15_000, 20_000));
    }, 180_000);
  });
}
