// mpv killed (SIGKILL) in the middle of a paid play, on real parts: that play is recorded `failed`,
// playing resumes once the player restarted, later plays complete, and the failed play is owed:
// the next plan places it again (rule 3 in its own hour: the hour's quota is still due).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../../helpers/tmp.js";
import { dump, expectBackToBack, flight, mpvPids, ms, nextStart, offsetInto, playOfAiring, playsOf, sleep } from "./helpers.js";
import { campaign, makeClip, scenarioRig, until, type Clip } from "./rig.js";

const tmp = tempDir("ledagent-playout-kill-");
let house: Clip;
let cola: Clip;

beforeAll(() => {
  house = makeClip(tmp.dir, "house", 2, "smptebars");
  cola = makeClip(tmp.dir, "cola", 1);
});
afterAll(() => tmp.cleanup());

/** 720 an hour: one cola in each 5 s window of the clock hour. */
const PER_HOUR = 720;
const WINDOW_MS = 3_600_000 / PER_HOUR;

/** Registers these tests; an aggregating test file runs them alongside others. */
export function mpvKillTests(): void {
  describe("mpv killed mid-play", () => {
    it("records the play failed, plays on after the restart, and places the failed play again", async () => {
      // Five minutes into a clock hour: the whole test runs inside that hour.
      // Fitted ahead, so no play has to stand in for a creative not ready yet (that is owed too).
      const rig = await scenarioRig({
        dir: `${tmp.dir}/kill`,
        offsetMs: offsetInto(5 * 60_000),
        creatives: [house, cola],
        campaigns: (r) => [campaign("cola", ["cola"], { playsPerHour: PER_HOUR, ...flight(r) })],
        prepare: [house, cola],
      });
      const appliedAt = Date.parse(rig.store.current()!.campaignAppliedAt.cola!);
      let killedAt = 0;
      let victim: Awaited<ReturnType<typeof nextStart>> | null = null;
      let firstPid = 0;
      try {
        // A whole window first, so the kill falls on a play planned in its own window.
        await until("a completed cola", () => playsOf(rig).some((p) => p.campaign === "cola" && p.status === "completed"), 40_000);
        victim = await nextStart(rig, (a) => a.kind === "paid", 30_000);
        await sleep(400);
        const pids = mpvPids(rig);
        expect(pids).toHaveLength(1);
        firstPid = pids[0]!;
        killedAt = rig.now();
        process.kill(firstPid, "SIGKILL");
        // Two windows after the one the kill hit, and a little more for the last window's play to end.
        const lastWindowEnd = Math.floor(victim.plannedMs / WINDOW_MS) * WINDOW_MS + 3 * WINDOW_MS;
        await until("two more windows", () => rig.now() > lastWindowEnd + 4000, 60_000);
      } finally {
        await rig.close();
      }
      const plays = playsOf(rig);
      dump("mpv kill", plays, killedAt);
      const failed = playOfAiring(rig, victim!);
      expect(failed).toMatchObject({ campaign: "cola", status: "failed" });
      expect(ms(failed!.endedAt) - killedAt).toBeLessThan(1000);
      expect(failed!.durationMs).toBeLessThan(cola.durationMs);
      // Only the victim failed; the player was restarted (a new pid) and what followed completed.
      expect(plays.filter((p) => p.status === "failed")).toEqual([failed]);
      const after = plays.slice(plays.indexOf(failed!) + 1);
      expect(after.length).toBeGreaterThanOrEqual(4);
      expect(ms(after[0]!.startedAt) - killedAt).toBeLessThan(5000);
      for (const p of after.slice(0, -1)) expect(p.status).toBe("completed");
      expectBackToBack(plays);
      // Owed: the hour's quota so far is met, the failed play placed again: one completed cola for
      // every window owed since the campaign was applied (one that ended before owes nothing).
      const windowStart = Math.floor(victim!.plannedMs / WINDOW_MS) * WINDOW_MS;
      const completed = plays.filter((p) => p.campaign === "cola" && p.status === "completed");
      const through = windowStart + 3 * WINDOW_MS;
      let owed = 0;
      for (let w = Math.floor(appliedAt / WINDOW_MS) * WINDOW_MS; w < through; w += WINDOW_MS) if (w + WINDOW_MS > appliedAt) owed += 1;
      expect(completed.filter((p) => ms(p.plannedAt) < through)).toHaveLength(owed);
      expect(completed.every((p) => !p.makeGood)).toBe(true);
      expect(mpvPids(rig)).toEqual([]);
    }, 150_000);
  });
}
