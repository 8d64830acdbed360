// An exclusive campaign on real parts (rule 1): while it is active every item is one of its
// creatives, back to back with no fill, each on time; a play.now cuts in and the exclusive plays
// go on after it, still on time (nothing re-anchors an all-paid timeline but the plan itself).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../../helpers/tmp.js";
import { dump, expectBackToBack, ms, nextStart, playOfAiring, playsOf, sleep, tech } from "./helpers.js";
import { campaign, makeClip, scenarioRig, until, type Clip } from "./rig.js";

const tmp = tempDir("ledagent-playout-exclusive-");
let house: Clip;
let x1: Clip;
let x2: Clip;
let cola: Clip;

beforeAll(() => {
  house = makeClip(tmp.dir, "house", 2, "smptebars");
  x1 = makeClip(tmp.dir, "x1", 2);
  x2 = makeClip(tmp.dir, "x2", 1, "rgbtestsrc");
  cola = makeClip(tmp.dir, "cola", 1, "mandelbrot");
});
afterAll(() => tmp.cleanup());

/** Registers these tests; an aggregating test file runs them alongside others. */
export function exclusiveTests(): void {
  describe("exclusive campaign", () => {
    it("takes every slot, back to back and on time, and a play.now cut leaves the plays after it on time", async () => {
      const rig = await scenarioRig({
        dir: `${tmp.dir}/rig`,
        creatives: [house, x1, x2, cola],
        campaigns: [campaign("buyout", ["x1", "x2"], { exclusive: true, playsPerHour: undefined }), campaign("cola", ["cola"], { playsPerHour: 720 })],
        prepare: [house, x1, x2, cola],
      });
      let orderedAt = 0;
      let answeredAt = 0;
      try {
        await until("five plays", () => rig.plays.length >= 5, 30_000);
        const onAir = await nextStart(rig, (a) => a.creative === "x1");
        await sleep(300);
        orderedAt = rig.now();
        await rig.playout.playNow("cola", 2, tech);
        answeredAt = rig.now();
        await until("five plays after the order", () => playsOf(rig).filter((p) => ms(p.startedAt) > orderedAt).length >= 5, 30_000);
        expect(playOfAiring(rig, onAir)?.status).toBe("interrupted");
      } finally {
        await rig.close();
      }
      const plays = playsOf(rig);
      dump("exclusive", plays, orderedAt);
      expectBackToBack(plays);
      const now = plays.filter((p) => ms(p.startedAt) > orderedAt && ms(p.plannedAt) >= orderedAt && ms(p.plannedAt) <= answeredAt);
      expect(now.map((p) => p.creative)).toEqual(["cola", "cola"]);
      const planned = plays.filter((p) => !now.includes(p));
      // Rule 1: nothing but the buyout's creatives from the plan: no fill, no cola.
      expect(planned.filter((p) => p.campaign !== "buyout")).toEqual([]);
      expect(new Set(planned.map((p) => p.creative))).toEqual(new Set(["x1", "x2"]));
      // On time, before and after the play.now: within 1 s of when the plan placed each.
      for (const p of planned) expect(Math.abs(ms(p.startedAt) - ms(p.plannedAt)), `${p.creative} planned ${p.plannedAt} started ${p.startedAt}`).toBeLessThan(1000);
      for (const p of plays.slice(0, -1).filter((p) => p.status !== "interrupted")) expect(p.status).toBe("completed");
    }, 90_000);
  });
}
