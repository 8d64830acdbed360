// The schedule's own suspensions on real parts: during a planned stop of all paid content only
// fill plays; during a planned blackout nothing plays; paid plays come back when each ends.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../../helpers/tmp.js";
import { dump, expectBackToBack, ms, paid, playsOf } from "./helpers.js";
import { campaign, makeClip, scenarioRig, until, type Clip } from "./rig.js";

const tmp = tempDir("ledagent-playout-planned-");
let house: Clip;
let cola: Clip;

beforeAll(() => {
  house = makeClip(tmp.dir, "house", 2, "smptebars");
  cola = makeClip(tmp.dir, "cola", 1);
});
afterAll(() => tmp.cleanup());

const iso = (t: number): string => new Date(t).toISOString();

/** Registers these tests; an aggregating test file runs them alongside others. */
export function plannedSuspensionTests(): void {
  describe("planned suspensions", () => {
    it("fill only during a planned stop, nothing during a planned blackout, paid plays after each", async () => {
      const t = Math.ceil(Date.now() / 1000) * 1000;
      const stop = { from: t + 8000, to: t + 18_000 };
      const black = { from: t + 24_000, to: t + 31_000 };
      const rig = await scenarioRig({
        dir: `${tmp.dir}/rig`,
        creatives: [house, cola],
        campaigns: [campaign("cola", ["cola"], { playsPerHour: 720 })],
        suspensions: [
          { from: iso(stop.from), to: iso(stop.to), reason: "market day", campaigns: null },
          { from: iso(black.from), to: iso(black.to), reason: "fireworks", campaigns: null, blackout: true },
        ],
      });
      try {
        await until("a paid play after the blackout", () => playsOf(rig).some((p) => paid(p) && ms(p.startedAt) >= black.to), 60_000);
      } finally {
        await rig.close();
      }
      const plays = playsOf(rig);
      dump("planned", plays, t);
      expectBackToBack(plays);
      const startedIn = (from: number, to: number) => plays.filter((p) => ms(p.startedAt) >= from && ms(p.startedAt) < to);
      // Some jitter at the edges: a fill cut to end at `from` ends on a frame boundary.
      expect(startedIn(stop.from + 300, stop.to - 300).filter(paid)).toEqual([]);
      expect(startedIn(stop.from + 300, stop.to - 300).length).toBeGreaterThanOrEqual(3);
      expect(startedIn(stop.to - 300, black.from).some(paid)).toBe(true);
      expect(startedIn(black.from + 300, black.to - 300)).toEqual([]);
      // Nothing on screen across the blackout: what played before it ended by its start.
      for (const p of plays.filter((p) => ms(p.startedAt) < black.from)) expect(ms(p.endedAt)).toBeLessThan(black.from + 500);
      expect(plays.slice(0, -1).every((p) => p.status === "completed")).toBe(true);
    }, 90_000);
  });
}
