// Takedowns on real parts (rule 8): an immediate takedown of a campaign cuts it off the screen
// within 1 s and keeps it off while it stands; a lift brings it back, and what it missed is not
// owed; a creative's takedown keeps its campaign playing its other creatives. Each test on a rig
// of its own, all at once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PlayRecord } from "../../../agent/proofs/types.js";
import { tempDir } from "../../helpers/tmp.js";
import { dump, eventsOf, expectBackToBack, expectRefused, ms, nextStart, playOfAiring, playsOf, sleep, tech } from "./helpers.js";
import { campaign, makeClip, scenarioRig, until, type Clip, type Rig } from "./rig.js";

const tmp = tempDir("ledagent-playout-takedown-");
const clips: Clip[] = [];
let rigs = 0;

beforeAll(() => {
  clips.push(makeClip(tmp.dir, "house", 3, "smptebars"), makeClip(tmp.dir, "cola", 2), makeClip(tmp.dir, "tea", 2, "rgbtestsrc"), makeClip(tmp.dir, "tea2", 2, "mandelbrot"));
});
afterAll(() => tmp.cleanup());

/** Cola plays 360 an hour: one in each 10 s window of the clock hour. */
const COLA_WINDOW_MS = 10_000;

type StartedIn = (from: number, to: number) => PlayRecord[];
type Takedowns = () => Record<string, unknown>[];

/** A started rig: cola (360 an hour), tea with two creatives (720), fill; closed after `body`. */
async function withRig(body: (rig: Rig, startedIn: StartedIn, takedowns: Takedowns) => Promise<void>): Promise<void> {
  rigs += 1;
  const rig = await scenarioRig({
    dir: `${tmp.dir}/rig${rigs}`,
    creatives: clips,
    campaigns: [campaign("cola", ["cola"], { playsPerHour: 360, category: "drink" }), campaign("tea", ["tea", "tea2"], { playsPerHour: 720, category: "snack" })],
    plays: 1,
  });
  try {
    await body(
      rig,
      (from, to) => playsOf(rig).filter((p) => ms(p.startedAt) > from && ms(p.startedAt) < to),
      () => eventsOf(rig, "takedown").map((e) => e.event),
    );
  } finally {
    await rig.close();
  }
}

/** Registers these tests; an aggregating test file runs them alongside others. */
export function takedownTests(): void {
  describe.concurrent("takedown", () => {
    it("of a campaign, immediate: off screen within 1 s, never again while it stands; lifted, it comes back", () =>
      withRig(async (rig, startedIn, takedowns) => {
        const onAir = await nextStart(rig, (a) => a.campaign === "cola");
        await sleep(300);
        const at = rig.now();
        const standing = await rig.playout.takedown({ target: { campaign: "cola" }, immediate: true, origin: tech });
        expect(standing).toMatchObject({ campaign: "cola", creative: null });
        expect(takedowns().at(-1)).toMatchObject({ campaign: "cola", immediate: true, lift: false, scheduleVersion: 1, by: "local:tester" });
        // Given again: the same standing takedown, no second event.
        const events = takedowns().length;
        expect(await rig.playout.takedown({ target: { campaign: "cola" }, immediate: true, origin: tech })).toEqual(standing);
        expect(takedowns()).toHaveLength(events);
        expect((await rig.playout.status()).takedowns).toEqual([standing]);
        await expectRefused(rig.playout.playNow("cola", 1, tech), "not-approved", /cola.*taken down/);
        await until("the cut play's record", () => playOfAiring(rig, onAir) !== undefined, 5000);
        const cut = playOfAiring(rig, onAir)!;
        expect(cut.status).toBe("interrupted");
        expect(ms(cut.endedAt) - at).toBeLessThan(1000);
        // Two of cola's windows (10 s each) pass while it stands.
        await sleep(21_000);
        expect(startedIn(at, rig.now()).filter((p) => p.campaign === "cola")).toEqual([]);
        expect(startedIn(at, rig.now()).filter((p) => p.campaign === "tea" && p.status === "completed").length).toBeGreaterThanOrEqual(3);
        const liftedAt = rig.now();
        await rig.playout.liftTakedown({ campaign: "cola" }, tech);
        expect(takedowns().at(-1)).toMatchObject({ campaign: "cola", lift: true, by: "local:tester" });
        expect((await rig.playout.status()).takedowns).toEqual([]);
        await expectRefused(rig.playout.liftTakedown({ campaign: "cola" }, tech), "not-found", /no standing takedown of campaign cola/);
        await until("cola again", () => startedIn(liftedAt, Infinity).some((p) => p.campaign === "cola" && p.status === "completed"), 20_000);
        dump("takedown cola", startedIn(at - 5000, Infinity), at);
        expectBackToBack(playsOf(rig));
      }), 90_000);

    // Once lifted, a takedown still excuses the windows it covered (rule 8): they are not caught up.
    it("a lifted takedown is not owed: no burst of the plays it missed", () =>
      withRig(async (rig, startedIn) => {
        const at = rig.now();
        await rig.playout.takedown({ target: { campaign: "cola" }, immediate: false, origin: tech });
        await sleep(21_000); // two of cola's windows
        const liftedAt = rig.now();
        await rig.playout.liftTakedown({ campaign: "cola" }, tech);
        await sleep(12_000);
        const seenTo = rig.now();
        const after = startedIn(liftedAt, seenTo).filter((p) => p.campaign === "cola");
        dump("lifted", startedIn(at, Infinity), liftedAt);
        expect(startedIn(at + 2500, liftedAt).filter((p) => p.campaign === "cola")).toEqual([]);
        // Cola's windows are 10 s (360 an hour, from the hour): the 12 s after the lift reach into
        // two of them, or three when the lift falls in a window's last 2 s, one play each. Owed on
        // top, and rightly caught up: windows that ended between the schedule's apply and the
        // takedown with no cola yet (the rig had just started). The two windows the takedown
        // covered are not owed: caught up, they would make two more.
        const windowOf = (t: number): number => Math.floor(t / COLA_WINDOW_MS);
        const applied = Date.parse(rig.store.current()!.campaignAppliedAt.cola!);
        const endedBefore = windowOf(at) - windowOf(applied);
        const deliveredBefore = playsOf(rig).filter((p) => p.campaign === "cola" && p.status === "completed" && ms(p.startedAt) < liftedAt).length;
        const owedBefore = Math.max(0, endedBefore - deliveredBefore);
        const ownWindows = windowOf(seenTo) - windowOf(liftedAt) + 1;
        expect(after.length, `cola after the lift, planned at ${after.map((p) => p.plannedAt).join(", ")}; ${owedBefore} owed from before the takedown`).toBeLessThanOrEqual(ownWindows + owedBefore);
        // And cola is back: a play falls somewhere in each window, so within two windows of the lift.
        await until("cola again", () => startedIn(liftedAt, Infinity).some((p) => p.campaign === "cola"), 15_000);
      }), 90_000);

    it("of a creative: its campaign plays on with its other creative, never the one taken down", () =>
      withRig(async (rig, startedIn, takedowns) => {
        const at = rig.now();
        const standing = await rig.playout.takedown({ target: { creative: "tea2" }, immediate: false, origin: tech });
        expect(standing).toMatchObject({ campaign: null, creative: "tea2" });
        expect(takedowns().at(-1)).toMatchObject({ creative: "tea2", immediate: false, lift: false });
        await expectRefused(rig.playout.playNow("tea2", 1, tech), "not-approved", /tea2.*taken down/);
        await until("three teas", () => startedIn(at + 2500, Infinity).filter((p) => p.campaign === "tea" && p.status === "completed").length >= 3, 30_000);
        const teas = startedIn(at + 2500, rig.now()).filter((p) => p.campaign === "tea");
        dump("takedown tea2", startedIn(at - 5000, Infinity), at);
        expect(teas.map((p) => p.creative)).toEqual(teas.map(() => "tea"));
        await rig.playout.liftTakedown({ creative: "tea2" }, tech);
        expect((await rig.playout.status()).takedowns).toEqual([]);
        const liftedAt = rig.now();
        await until("tea2 again", () => startedIn(liftedAt, Infinity).some((p) => p.creative === "tea2"), 30_000);
      }), 90_000);
  });
}
