// Make-good on real parts (rule 6): a makeGood campaign suspended across the end of a clock hour
// gets the plays it missed in that hour back as makeGood plays in the next one, no more. The rig
// runs on a clock set a minute before an hour ends, so the test sees the hour turn.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventEntry } from "../../../agent/proofs/types.js";
import { tempDir } from "../../helpers/tmp.js";
import { dump, eventsOf, expectBackToBack, flight, HOUR_MS, ms, offsetInto, playsOf, sleep, tech } from "./helpers.js";
import { buildRig, campaign, creativeEntry, makeClip, schedule, until, type Clip } from "./rig.js";

const tmp = tempDir("ledagent-playout-makegood-");
let house: Clip;
let cola: Clip;

beforeAll(() => {
  house = makeClip(tmp.dir, "house", 3, "smptebars");
  cola = makeClip(tmp.dir, "cola", 2);
});
afterAll(() => tmp.cleanup());

const PER_HOUR = 360;

describe("make-good", () => {
  it("plays missed during a suspension over the hour's end come back as makeGood plays in the next hour", async () => {
    const rig = buildRig(`${tmp.dir}/mg`, { offsetMs: offsetInto(HOUR_MS - 50_000) });
    const hourEnd = Math.ceil(rig.now() / HOUR_MS) * HOUR_MS;
    const result = rig.apply(schedule(1, { creatives: [creativeEntry(house), creativeEntry(cola)], campaigns: [campaign("cola", ["cola"], { playsPerHour: PER_HOUR, makeGood: true, ...flight(rig) })], fill: ["house"] }));
    expect(result.state).toBe("applied");
    const appliedAt = Date.parse(rig.store.current()!.campaignAppliedAt.cola!);
    for (const clip of [house, cola]) await rig.creatives.prepare({ id: clip.id, url: `file://${clip.file}`, sha256: clip.sha256, durationMs: clip.durationMs });
    await rig.playout.start();
    let resumedAt = 0;
    let owed = 0;
    let suspended: EventEntry[] = [];
    let resumed: EventEntry[] = [];
    try {
      await until("25 s before the hour ends", () => rig.now() >= hourEnd - 25_000, 60_000);
      await rig.playout.suspend({ reason: "panel repair", until: null, campaigns: null, blackout: false, origin: tech });
      await until("3 s into the next hour", () => rig.now() >= hourEnd + 3000, 60_000);
      resumedAt = rig.now();
      await rig.playout.resume(tech);
      // What the hour owed from the moment the campaign was applied, less what it delivered.
      const contracted = Math.round((PER_HOUR * (hourEnd - appliedAt)) / HOUR_MS);
      const delivered = playsOf(rig).filter((p) => p.campaign === "cola" && p.status === "completed" && !p.makeGood && ms(p.startedAt) < hourEnd).length;
      owed = contracted - delivered;
      expect(owed).toBeGreaterThanOrEqual(2);
      await until(`${owed} make-goods`, () => playsOf(rig).filter((p) => p.makeGood && p.status === "completed").length >= owed, 60_000);
      await sleep(8000); // and no more
      suspended = eventsOf(rig, "suspended");
      resumed = eventsOf(rig, "resumed");
    } finally {
      await rig.close();
    }
    const plays = playsOf(rig);
    dump("make-good", plays, hourEnd);
    if (process.env.DUMP) console.log({ owed, appliedAt: new Date(appliedAt).toISOString(), hourEnd: new Date(hourEnd).toISOString() });
    expectBackToBack(plays);
    const makeGoods = plays.filter((p) => p.makeGood);
    expect(makeGoods).toHaveLength(owed);
    for (const p of makeGoods) {
      expect(p).toMatchObject({ campaign: "cola", creative: "cola", status: "completed" });
      expect(ms(p.plannedAt)).toBeGreaterThanOrEqual(resumedAt);
    }
    // While suspended only fill played; the hour's own plays went on after the resume.
    expect(suspended).toHaveLength(1);
    const suspendedAt = ms(suspended[0]!.at);
    expect(plays.filter((p) => p.customer !== "fill" && ms(p.startedAt) > suspendedAt + 1000 && ms(p.startedAt) < resumedAt)).toEqual([]);
    expect(plays.some((p) => p.campaign === "cola" && !p.makeGood && ms(p.startedAt) >= resumedAt)).toBe(true);
    expect(resumed).toHaveLength(1);
    expect(resumed[0]!.event).toMatchObject({ auto: false, suspendedSeq: suspended[0]!.seq });
  }, 180_000);
});
