// Rule 4 on screen, on real parts, when the timeline runs late: mpv freezes (SIGSTOP) for a few
// seconds while the item before a cola plays, so the cola starts late. The fill the plan put
// between it and the next drink (tea, same category) must still separate them on screen.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Airing } from "../../../agent/playback/playout/airing.js";
import { tempDir } from "../../helpers/tmp.js";
import { dump, mpvPids, ms, paid, playsOf, sleep } from "./helpers.js";
import { buildRig, campaign, creativeEntry, makeClip, schedule, until, type Clip } from "./rig.js";

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
      const rig = buildRig(`${tmp.dir}/rig`);
      const result = rig.apply(
        schedule(1, {
          creatives: [creativeEntry(house), creativeEntry(cola), creativeEntry(tea)],
          campaigns: [campaign("cola", ["cola"], { playsPerHour: 360, category: "drink" }), campaign("tea", ["tea"], { playsPerHour: 360, category: "drink" })],
          fill: ["house"],
        }),
      );
      expect(result.state).toBe("applied");
      for (const clip of [house, cola, tea]) await rig.creatives.prepare({ id: clip.id, url: `file://${clip.file}`, sha256: clip.sha256, durationMs: clip.durationMs });
      await rig.playout.start();
      let frozeAt = 0;
      try {
        await until("three plays", () => rig.plays.length >= 3, 30_000);
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
        await sleep(15_000);
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
