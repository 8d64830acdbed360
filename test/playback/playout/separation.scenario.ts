// Rule 4 on screen, on real parts, when the timeline runs late: mpv freezes (SIGSTOP) for a few
// seconds while the item before a cola plays, so the cola starts late. The fill the plan put
// between it and the next drink (tea, same category) must still separate them on screen.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Airing } from "../../../agent/playback/playout/airing.js";
import { tempDir } from "../../helpers/tmp.js";
import { dump, mpvPids, ms, paid, playsOf } from "./helpers.js";
import { campaign, makeClip, scenarioRig, until, type Clip } from "./rig.js";

const tmp = tempDir("ledagent-playout-separation-");
let house: Clip;
let cola: Clip;
let tea: Clip;

beforeAll(() => {
  house = makeClip(tmp.dir, "house", 3, "smptebars");
  cola = makeClip(tmp.dir, "cola", 2);
  tea = makeClip(tmp.dir, "tea", 2, "rgbtestsrc");
});
afterAll(() => tmp.cleanup());

/** Registers these tests; an aggregating test file runs them alongside others. */
export function separationTests(): void {
  describe("separation when the timeline runs late", () => {
    // A fill between two paid plays may be all that separates two campaigns of one category
    // (rule 4, hard): it is never left out for want of room, even when the timeline runs late.
    it("mpv frozen 5 s before a cola: no tea (same category) right after that cola", async () => {
      const rig = await scenarioRig({
        dir: `${tmp.dir}/rig`,
        creatives: [house, cola, tea],
        campaigns: [campaign("cola", ["cola"], { playsPerHour: 360, category: "drink" }), campaign("tea", ["tea"], { playsPerHour: 360, category: "drink" })],
        prepare: [house, cola, tea],
        plays: 3,
      });
      let frozeAt = 0;
      try {
        // As an item starts with a cola next in mpv's queue: freeze mpv for 5 s.
        await new Promise<void>((resolve, reject) => {
          const onStart = (a: Airing): void => {
            void rig.playout.status().then((status) => {
              if (frozeAt !== 0 || a.campaign === "cola" || status.next?.campaign !== "cola") return;
              rig.playout.off("started", onStart);
              const [pid] = mpvPids(rig);
              frozeAt = rig.now();
              process.kill(pid!, "SIGSTOP");
              setTimeout(() => {
                process.kill(pid!, "SIGCONT");
                resolve();
              }, 5000);
            });
          };
          rig.playout.on("started", onStart);
          setTimeout(() => reject(new Error("no cola came next")), 40_000);
        });
        // Until the next drink after the cola that came late has played: what lies between them is
        // what is checked (a tea right after it, its separating fill left out).
        await until("a tea after the late cola", () => {
          const late = playsOf(rig).find((p) => p.campaign === "cola" && ms(p.startedAt) > frozeAt);
          return late !== undefined && playsOf(rig).some((p) => p.campaign === "tea" && ms(p.startedAt) > ms(late.startedAt));
        }, 40_000);
      } finally {
        await rig.close();
      }
      const plays = playsOf(rig);
      dump("frozen before a cola", plays, frozeAt);
      for (let i = 1; i < plays.length; i++) {
        const [a, b] = [plays[i - 1]!, plays[i]!];
        if (paid(a) && paid(b)) expect(a.campaign === b.campaign, `${a.campaign} at ${a.startedAt} then ${b.campaign} at ${b.startedAt}`).toBe(true);
      }
      expect(plays.some((p) => p.campaign === "cola" && ms(p.startedAt) > frozeAt)).toBe(true);
    }, 90_000);
  });
}
