// Live suspensions on real parts: the whole screen (fill plays, the paid play on screen is cut),
// one campaign (the others keep playing), blackout (nothing plays), an `until` that ends it by
// itself, and a second suspension superseding the first. Each test on a rig of its own, all at
// once (they mostly wait on the clock).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PlayRecord } from "../../../agent/proofs/types.js";
import { tempDir } from "../../helpers/tmp.js";
import { dump, eventsOf, expectBackToBack, expectRefused, ms, nextStart, paid, playOfAiring, playsOf, sleep, tech } from "./helpers.js";
import { campaign, makeClip, scenarioRig, until, type Clip, type Rig } from "./rig.js";

const tmp = tempDir("ledagent-playout-suspend-");
let house: Clip;
let cola: Clip;
let tea: Clip;
let rigs = 0;

beforeAll(() => {
  house = makeClip(tmp.dir, "house", 3, "smptebars");
  cola = makeClip(tmp.dir, "cola", 2);
  tea = makeClip(tmp.dir, "tea", 2, "rgbtestsrc");
});
afterAll(() => tmp.cleanup());

/** Plays that started in (from, to) on the rig's clock. */
type StartedIn = (from: number, to: number) => PlayRecord[];

/** A started rig playing cola and tea (360 an hour each) and fill, for `body`; closed after it. */
async function withRig(body: (rig: Rig, startedIn: StartedIn) => Promise<void>): Promise<void> {
  rigs += 1;
  const rig = await scenarioRig({
    dir: `${tmp.dir}/rig${rigs}`,
    creatives: [house, cola, tea],
    campaigns: [campaign("cola", ["cola"], { playsPerHour: 360, category: "drink" }), campaign("tea", ["tea"], { playsPerHour: 360, category: "snack" })],
    plays: 1,
  });
  try {
    await body(rig, (from, to) => playsOf(rig).filter((p) => ms(p.startedAt) > from && ms(p.startedAt) < to));
  } finally {
    await rig.close();
  }
}

/** Registers these tests; an aggregating test file runs them alongside others. */
export function suspendTests(): void {
  describe.concurrent("live suspension", () => {
    it("whole screen: the paid play on screen is cut within 1 s, only fill while suspended; resume brings paid plays back", () =>
      withRig(async (rig, startedIn) => {
        const onAir = await nextStart(rig, (a) => a.kind === "paid");
        await sleep(300);
        const at = rig.now();
        const live = await rig.playout.suspend({ reason: "maintenance", until: null, campaigns: null, blackout: false, origin: tech });
        expect(live).toMatchObject({ reason: "maintenance", until: null, campaigns: null, blackout: false });
        expect(Math.abs(ms(live.since) - at)).toBeLessThan(100);
        expect((await rig.playout.status()).suspension).toMatchObject({ reason: "maintenance", until: null });
        await sleep(12_000);
        const resumedAt = rig.now();
        const { suspendedFor } = await rig.playout.resume(tech);
        expect(Math.abs(suspendedFor - (resumedAt - ms(live.since)))).toBeLessThan(100);
        expect((await rig.playout.status()).suspension).toBeNull();
        await until("a paid play after the resume", () => startedIn(resumedAt, Infinity).some((p) => paid(p) && p.status === "completed"), 15_000);

        const cut = playOfAiring(rig, onAir);
        expect(cut?.status).toBe("interrupted");
        expect(ms(cut!.endedAt) - at).toBeLessThan(1000);
        const during = startedIn(at, resumedAt);
        dump("suspended", playsOf(rig), at);
        expect(during.length).toBeGreaterThanOrEqual(3);
        expect(during.filter(paid)).toEqual([]);
        expect(during.slice(0, -1).every((p) => p.status === "completed")).toBe(true);
        const suspended = eventsOf(rig, "suspended").at(-1)!;
        expect(suspended.event).toMatchObject({ reason: "maintenance", until: null, campaigns: null, blackout: false, by: "local:tester", scheduleVersion: 1 });
        const resumed = eventsOf(rig, "resumed").at(-1)!;
        expect(resumed.event).toMatchObject({ suspendedSeq: suspended.seq, auto: false, by: "local:tester", suspendedForMs: suspendedFor });
        expectBackToBack(playsOf(rig));
      }), 90_000);

    it("one campaign: it stops (cut if on screen), the other keeps playing", () =>
      withRig(async (rig, startedIn) => {
        // Given while a play is well under way (at a transition is another test's business).
        await nextStart(rig, () => true);
        await sleep(300);
        const at = rig.now();
        await rig.playout.suspend({ reason: "cola recall", until: null, campaigns: ["cola"], blackout: false, origin: tech });
        await until("two teas while cola is suspended", () => startedIn(at, Infinity).filter((p) => p.campaign === "tea" && p.status === "completed").length >= 2, 30_000);
        const resumedAt = rig.now();
        await rig.playout.resume(tech);
        await until("a cola after the resume", () => startedIn(resumedAt, Infinity).some((p) => p.campaign === "cola" && p.status === "completed"), 20_000);
        dump("cola suspended", startedIn(at - 5000, Infinity), at);
        expect(startedIn(at, resumedAt).filter((p) => p.campaign === "cola")).toEqual([]);
        // A cola on screen when it came was cut, not played out.
        const straddling = playsOf(rig).filter((p) => p.campaign === "cola" && ms(p.startedAt) <= at && ms(p.endedAt) > at + 1000);
        expect(straddling).toEqual([]);
        expect(eventsOf(rig, "suspended").at(-1)!.event).toMatchObject({ reason: "cola recall", campaigns: ["cola"], blackout: false });
      }), 90_000);

    it("until a few seconds ahead: resumed by itself (auto) once it passes, and paid plays come back", () =>
      withRig(async (rig, startedIn) => {
        await nextStart(rig, (a) => a.kind === "fill");
        await sleep(300);
        const untilMs = rig.now() + 5000;
        const untilIso = new Date(untilMs).toISOString();
        const live = await rig.playout.suspend({ reason: "short", until: untilIso, campaigns: null, blackout: false, origin: tech });
        expect(live.until).toBe(untilIso);
        const resumes = eventsOf(rig, "resumed").length;
        await until("the automatic resume", () => eventsOf(rig, "resumed").length > resumes, 15_000);
        const resumed = eventsOf(rig, "resumed").at(-1)!;
        const suspended = eventsOf(rig, "suspended").at(-1)!;
        expect(suspended.event).toMatchObject({ reason: "short", until: untilIso });
        expect(resumed.event).toMatchObject({ suspendedSeq: suspended.seq, auto: true, by: "agent" });
        expect(Math.abs((resumed.event.suspendedForMs as number) - (untilMs - ms(suspended.at)))).toBeLessThan(50);
        // Recorded within a couple of seconds of `until`, not before it.
        expect(ms(resumed.at)).toBeGreaterThanOrEqual(untilMs);
        expect(ms(resumed.at) - untilMs).toBeLessThan(2500);
        expect((await rig.playout.status()).suspension).toBeNull();
        await until("a paid play after it", () => startedIn(untilMs, Infinity).some((p) => paid(p) && p.status === "completed"), 15_000);
        dump("until", startedIn(ms(suspended.at) - 5000, Infinity), ms(suspended.at));
        // No paid play before `until` (a fill ends on a frame boundary: a little jitter allowed).
        expect(startedIn(ms(suspended.at) + 1000, untilMs - 300).filter(paid)).toEqual([]);
        await expectRefused(rig.playout.resume(tech), "not-suspended", /no live suspension/);
      }), 90_000);

    // A cut play's end may be reported after mpv answered the stop: the next plan must start from
    // now, not from where the cut play would have ended (that ran the timeline early by its rest).
    it("until, given while a paid play is on screen: no paid play starts before `until`", () =>
      withRig(async (rig, startedIn) => {
        await nextStart(rig, (a) => a.kind === "paid");
        await sleep(300);
        const at = rig.now();
        const untilMs = at + 4000;
        await rig.playout.suspend({ reason: "short, cut", until: new Date(untilMs).toISOString(), campaigns: null, blackout: false, origin: tech });
        await until("two paid plays after it", () => startedIn(at + 1000, Infinity).filter((p) => paid(p) && p.status === "completed").length >= 2, 20_000);
        const after = startedIn(at + 1000, Infinity);
        dump("until, cut", startedIn(at - 5000, Infinity), at);
        for (const p of after.filter(paid)) {
          expect(ms(p.startedAt), `${p.creative} planned ${p.plannedAt} started ${p.startedAt}, suspended until ${new Date(untilMs).toISOString()}`).toBeGreaterThanOrEqual(untilMs - 300);
          expect(Math.abs(ms(p.startedAt) - ms(p.plannedAt))).toBeLessThan(1000);
        }
      }), 90_000);

    it("blackout: what plays is cut within 1 s and nothing plays until the resume", () =>
      withRig(async (rig, startedIn) => {
        const onAir = await nextStart(rig, () => true);
        await sleep(300);
        const at = rig.now();
        await rig.playout.suspend({ reason: "storm", until: null, campaigns: null, blackout: true, origin: tech });
        await sleep(6000);
        expect((await rig.playout.status()).nowPlaying).toBeNull();
        const resumedAt = rig.now();
        await rig.playout.resume(tech);
        await until("a play after the resume", () => startedIn(resumedAt, Infinity).length >= 1, 15_000);
        dump("blackout", startedIn(at - 5000, Infinity), at);
        const cut = playOfAiring(rig, onAir);
        expect(cut?.status).toBe("interrupted");
        expect(ms(cut!.endedAt) - at).toBeLessThan(1000);
        expect(startedIn(at, resumedAt)).toEqual([]);
        expect(ms(startedIn(resumedAt, Infinity)[0]!.startedAt) - resumedAt).toBeLessThan(3000);
        expect(eventsOf(rig, "suspended").at(-1)!.event).toMatchObject({ reason: "storm", blackout: true, campaigns: null });
      }), 90_000);

    it("blackout until a few seconds ahead: black until then, then plays resume by themselves", () =>
      withRig(async (rig, startedIn) => {
        await nextStart(rig, () => true);
        const at = rig.now();
        const untilMs = at + 4000;
        await rig.playout.suspend({ reason: "short storm", until: new Date(untilMs).toISOString(), campaigns: null, blackout: true, origin: tech });
        await until("a play after it", () => startedIn(untilMs - 1000, Infinity).length >= 1, 15_000);
        dump("blackout until", startedIn(at - 3000, Infinity), at);
        expect(startedIn(at + 1000, untilMs - 300)).toEqual([]);
        expect(ms(startedIn(untilMs - 1000, Infinity)[0]!.startedAt) - untilMs).toBeLessThan(2500);
        expect(eventsOf(rig, "resumed").at(-1)!.event).toMatchObject({ auto: true, suspendedSeq: eventsOf(rig, "suspended").at(-1)!.seq });
      }), 90_000);

    it("suspend twice: the later supersedes the first; one resume ends it", () =>
      withRig(async (rig, startedIn) => {
        const first = await rig.playout.suspend({ reason: "first", until: null, campaigns: ["tea"], blackout: false, origin: tech });
        const second = await rig.playout.suspend({ reason: "second", until: null, campaigns: null, blackout: false, origin: tech });
        expect(first.reason).toBe("first");
        expect(second).toMatchObject({ reason: "second", campaigns: null });
        expect((await rig.playout.status()).suspension).toMatchObject({ reason: "second", campaigns: null });
        const [a, b] = eventsOf(rig, "suspended").slice(-2);
        expect(a!.event.reason).toBe("first");
        expect(b!.event.reason).toBe("second");
        await sleep(4000);
        const at = ms(b!.at);
        // The whole screen is suspended now, not only tea.
        expect(startedIn(at + 1000, rig.now()).filter(paid)).toEqual([]);
        await rig.playout.resume(tech);
        expect(eventsOf(rig, "resumed").at(-1)!.event).toMatchObject({ suspendedSeq: b!.seq, auto: false });
        expect((await rig.playout.status()).suspension).toBeNull();
        await expectRefused(rig.playout.resume(tech), "not-suspended", /no live suspension/);
        const resumedAt = rig.now();
        await until("paid plays again", () => startedIn(resumedAt, Infinity).some((p) => paid(p) && p.status === "completed"), 15_000);
      }), 90_000);
  });
}
