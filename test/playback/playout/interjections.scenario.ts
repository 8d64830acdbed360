// Live orders that come before the plan, and refusals, on real parts: play.now cuts what plays and
// airs a creative back to back as paid plays; a technician's test play and test pattern are events,
// never plays; a screenshot is a small JPEG; every refusal says which.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../../helpers/tmp.js";
import { dump, eventsOf, expectBackToBack, expectRefused, ms, nextStart, playOfAiring, playsOf, sleep, tech } from "./helpers.js";
import { campaign, creativeEntry, makeClip, scenarioRig, until, type Clip, type Rig } from "./rig.js";

const tmp = tempDir("ledagent-playout-inter-");
let house: Clip;
let cola: Clip;
let raw: Clip;
let techClip: Clip;
let rig: Rig;

// Clips before anything runs (ffmpeg runs synchronously); the rig when this suite starts.
beforeAll(() => {
  house = makeClip(tmp.dir, "house", 3, "smptebars");
  cola = makeClip(tmp.dir, "cola", 2);
  raw = makeClip(tmp.dir, "raw", 2, "rgbtestsrc");
  techClip = makeClip(tmp.dir, "techfile", 1, "rgbtestsrc");
});

afterAll(() => tmp.cleanup());

async function startRig(): Promise<void> {
  rig = await scenarioRig({
    dir: `${tmp.dir}/rig`,
    creatives: [house, cola, creativeEntry(raw, false)],
    campaigns: [campaign("cola", ["cola"], { playsPerHour: 120, category: "drink" }), campaign("rawc", ["raw"], { playsPerHour: 60 })],
    plays: 1,
  });
}

/** Registers these tests; an aggregating test file runs them alongside others. */
export function interjectionTests(): void {
  describe.sequential("refusals and interjections, in order", () => {
    beforeAll(startRig, 60_000);
    afterAll(() => rig?.close());
    describe("refusals", () => {
      it("names each refusal by its code, and records nothing for it", async () => {
        const orders = () => eventsOf(rig, "suspended").length + eventsOf(rig, "resumed").length + eventsOf(rig, "takedown").length;
        const before = orders();
        await expectRefused(rig.playout.takedown({ target: { campaign: "ghost" }, immediate: true, origin: tech }), "not-found", /campaign ghost/);
        await expectRefused(rig.playout.takedown({ target: { creative: "ghost-15" }, immediate: false, origin: tech }), "not-found", /creative ghost-15/);
        await expectRefused(rig.playout.liftTakedown({ campaign: "cola" }, tech), "not-found", /no standing takedown of campaign cola/);
        await expectRefused(rig.playout.liftTakedown({ creative: "cola" }, tech), "not-found", /no standing takedown of creative cola/);
        await expectRefused(rig.playout.resume(tech), "not-suspended", /no live suspension/);
        await expectRefused(rig.playout.suspend({ reason: "x", until: null, campaigns: ["ghost"], blackout: false, origin: tech }), "not-found", /ghost/);
        await expectRefused(rig.playout.playNow("ghost", 1, tech), "not-found", /ghost.*not in schedule v1/);
        await expectRefused(rig.playout.playNow("raw", 1, tech), "not-approved", /raw.*not approved/);
        await expectRefused(rig.playout.testPlay(`${tmp.dir}/no-such.mp4`, 1, tech), "not-found", /no such file/);
        await expectRefused(rig.playout.testPlay(tmp.dir, 1, tech), "not-found", /not a regular file/);
        expect(orders()).toBe(before);
        expect((await rig.playout.status()).suspension).toBeNull();
        expect(playsOf(rig).some((p) => p.creative === "raw")).toBe(false);
      });
    });

    describe("interjections", () => {
      it("screenshot: a JPEG of what plays, under 256 KiB", async () => {
        const shot = await rig.playout.screenshot();
        expect(shot[0]).toBe(0xff);
        expect(shot[1]).toBe(0xd8);
        expect(shot.length).toBeGreaterThan(100);
        expect(shot.length).toBeLessThan(256 * 1024);
      });

      it("playNow(cola, 2): what plays is cut within 1 s, two cola plays follow back to back, then the timeline goes on", async () => {
        const onAir = await nextStart(rig, (a) => a.kind === "fill");
        await sleep(300);
        const orderedAt = rig.now();
        expect(await rig.playout.playNow("cola", 2, tech)).toEqual({ queued: 2 });
        const answeredAt = rig.now();
        const from = rig.plays.length;
        await until("the two plays and one after", () => rig.plays.length >= from + 4, 30_000);
        const after = playsOf(rig).slice(from - 1);
        dump("playNow", after, orderedAt);
        const cut = playOfAiring(rig, onAir);
        expect(cut?.status).toBe("interrupted");
        expect(ms(cut!.endedAt) - orderedAt).toBeLessThan(1000);
        const i = playsOf(rig).indexOf(cut!);
        const [first, second, next] = playsOf(rig).slice(i + 1, i + 4);
        for (const p of [first!, second!]) {
          expect(p).toMatchObject({ creative: "cola", campaign: "cola", customer: "cola-co", status: "completed", makeGood: false, creativeSha256: cola.sha256 });
          expect(Math.abs(p.durationMs - cola.durationMs)).toBeLessThanOrEqual(500);
          // Planned when the order was taken.
          expect(ms(p.plannedAt)).toBeGreaterThanOrEqual(orderedAt);
          expect(ms(p.plannedAt)).toBeLessThanOrEqual(answeredAt);
        }
        expect(ms(first!.startedAt) - ms(cut!.endedAt)).toBeLessThan(1000);
        expect(ms(second!.startedAt) - ms(first!.endedAt)).toBeLessThan(200);
        // Then the plan again: planned after the order, and not a third cola out of nowhere.
        expect(ms(next!.plannedAt)).toBeGreaterThanOrEqual(orderedAt);
        expect(next!.status).toBe("completed");
        expectBackToBack(playsOf(rig).slice(i));
      }, 60_000);

      it("testPlay(file, 1): a command.executed event with test: true, never a play entry", async () => {
        await nextStart(rig, (a) => a.kind !== "test");
        const playsBefore = rig.plays.length;
        const eventsBefore = eventsOf(rig, "command.executed").length;
        const orderedAt = rig.now();
        expect(await rig.playout.testPlay(techClip.file, 1, tech)).toEqual({ queued: 1 });
        await until("the test play's event", () => eventsOf(rig, "command.executed").length > eventsBefore, 20_000);
        const event = eventsOf(rig, "command.executed").at(-1)!.event as Record<string, unknown>;
        expect(event).toMatchObject({ command: "play", test: true, by: "local:tester", status: "completed" });
        expect(Math.abs((event.durationMs as number) - techClip.durationMs)).toBeLessThanOrEqual(500);
        expect(ms(event.startedAt as string)).toBeGreaterThanOrEqual(orderedAt);
        // The plan goes on after it, and none of its plays is the test file.
        await until("a play after the test", () => rig.plays.some((e) => ms(e.play.startedAt) >= ms(event.endedAt as string)), 20_000);
        const since = playsOf(rig).slice(playsBefore);
        expect(since.every((p) => !p.creative.startsWith("test") && p.renditionSha256 !== event.renditionSha256)).toBe(true);
        expect(playsOf(rig).filter((p) => ms(p.startedAt) >= orderedAt + 100 && ms(p.startedAt) < ms(event.endedAt as string))).toEqual([]);
      }, 60_000);

      it("showPattern(bars, 2): the pattern for 2 s as an event, then the timeline goes on", async () => {
        await nextStart(rig, (a) => a.kind !== "test");
        const eventsBefore = eventsOf(rig, "command.executed").length;
        const orderedAt = rig.now();
        await rig.playout.showPattern("bars", 2, tech);
        await until("the pattern's event", () => eventsOf(rig, "command.executed").length > eventsBefore, 20_000);
        const event = eventsOf(rig, "command.executed").at(-1)!.event as Record<string, unknown>;
        expect(event).toMatchObject({ command: "pattern", test: true, status: "completed" });
        expect(Math.abs((event.durationMs as number) - 2000)).toBeLessThanOrEqual(500);
        expect(ms(event.startedAt as string) - orderedAt).toBeLessThan(1500);
        await until("a play after the pattern", () => rig.plays.some((e) => ms(e.play.startedAt) >= ms(event.endedAt as string)), 20_000);
        const next = playsOf(rig).find((p) => ms(p.startedAt) >= ms(event.endedAt as string))!;
        expect(ms(next.startedAt) - ms(event.endedAt as string)).toBeLessThan(1000);
      }, 60_000);
    });
  });
}
