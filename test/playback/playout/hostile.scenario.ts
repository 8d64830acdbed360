// Hostile cases on real parts: a corrupt creative whose sha256 matches its bytes, a rendition
// deleted from the cache while playing, stop() with items queued, stop() twice, and orders
// given after stop.
import { createHash, randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Airing } from "../../../agent/playback/playout/airing.js";
import { tempDir } from "../../helpers/tmp.js";
import { dump, eventsOf, expectBackToBack, mpvPids, ms, nextStart, paid, playsOf, sleep, tech, watchStarts } from "./helpers.js";
import { campaign, makeClip, scenarioRig, until, type Clip, type Rig } from "./rig.js";

const tmp = tempDir("ledagent-playout-hostile-");
let house: Clip;
let cola: Clip;
let junk: Clip;

beforeAll(() => {
  house = makeClip(tmp.dir, "house", 2, "smptebars");
  cola = makeClip(tmp.dir, "cola", 1);
  const bytes = randomBytes(64 * 1024);
  const file = join(tmp.dir, "junk.mp4");
  writeFileSync(file, bytes);
  junk = { id: "junk", file, sha256: createHash("sha256").update(bytes).digest("hex"), durationMs: 1000 };
});
afterAll(() => tmp.cleanup());

function started(name: string, campaigns: Record<string, unknown>[], creatives: Clip[] = [house, cola]): Promise<Rig> {
  return scenarioRig({ dir: `${tmp.dir}/${name}`, creatives, campaigns });
}

/** Registers these tests; an aggregating test file runs them alongside others. */
export function hostileTests(): void {
  describe.concurrent("hostile", () => {
    it("a corrupt creative (its sha256 matches the corrupt bytes) is refused, fill stands in, the rest plays on", async () => {
      const rig = await started("corrupt", [campaign("junk", ["junk"], { playsPerHour: 720 }), campaign("cola", ["cola"], { playsPerHour: 720 })], [house, cola, junk]);
      try {
        await until("creative.rejected", () => eventsOf(rig, "creative.rejected").length > 0, 30_000);
        await until("ten plays", () => rig.plays.length >= 10, 60_000);
        const rejected = eventsOf(rig, "creative.rejected");
        expect(rejected).toHaveLength(1);
        expect(rejected[0]!.event).toMatchObject({ creative: "junk", sha256: junk.sha256, scheduleVersion: 1 });
        expect(String(rejected[0]!.event.reason)).toMatch(/^(undecodable|no-video)$/);
        const plays = playsOf(rig);
        dump("corrupt", plays);
        expect(plays.filter((p) => p.creative === "junk" || p.campaign === "junk")).toEqual([]);
        expect(plays.slice(0, -1).every((p) => p.status === "completed")).toBe(true);
        expect(plays.some((p) => p.campaign === "cola")).toBe(true);
        expectBackToBack(plays);
      } finally {
        await rig.close();
      }
    }, 90_000);

    it("a rendition deleted from the cache while playing: at most one play fails, then it is made again and plays", async () => {
      const rig = await started("deleted", [campaign("cola", ["cola"], { playsPerHour: 720 })]);
      try {
        const first = await nextStart(rig, (a) => a.campaign === "cola", 30_000);
        const deletedAt = rig.now();
        rmSync(first.prepared.rendition.path);
        await until("a cola completed after the deletion, then another", () => playsOf(rig).filter((p) => p.campaign === "cola" && p.status === "completed" && ms(p.startedAt) > deletedAt + 1500).length >= 2, 60_000);
        const after = playsOf(rig).filter((p) => ms(p.startedAt) > deletedAt);
        dump("deleted rendition", after, deletedAt);
        expect(after.filter((p) => p.status === "failed").length).toBeLessThanOrEqual(1);
        expect(after.filter((p) => p.status === "failed").every((p) => p.campaign === "cola")).toBe(true);
        expect(eventsOf(rig, "creative.rejected")).toEqual([]);
      } finally {
        await rig.close();
      }
    }, 90_000);

    it("testPlay of a corrupt file: refused naming why (no refusal code: the registry's `failed`), no event, nothing airs", async () => {
      const rig = await started("corrupt-test", [campaign("cola", ["cola"], { playsPerHour: 720 })]);
      try {
        await until("a play", () => rig.plays.length >= 1, 30_000);
        const before = rig.plays.length;
        const err = await rig.playout.testPlay(junk.file, 1, tech).then(
          () => null,
          (e: unknown) => e as Error & { code?: unknown },
        );
        expect(err).toBeInstanceOf(Error);
        expect(err!.code).toBeUndefined();
        expect(err!.message).toMatch(/^(undecodable|no-video): /);
        await until("two more plays", () => rig.plays.length >= before + 2, 20_000);
        expect(eventsOf(rig, "command.executed")).toEqual([]);
        expect(playsOf(rig).slice(before - 1, -1).every((p) => p.status === "completed")).toBe(true);
      } finally {
        await rig.close();
      }
    }, 60_000);

    it("stop() with items queued: every airing that started is recorded, no item is left with the player, no mpv is left; stop() twice is harmless", async () => {
      const rig = await started("stop", [campaign("cola", ["cola"], { playsPerHour: 720 })]);
      const starts = watchStarts(rig);
      try {
        await until("three plays", () => rig.plays.length >= 3, 30_000);
        await nextStart(rig, () => true);
        await sleep(200);
        expect(rig.player.pending().length).toBeGreaterThanOrEqual(2); // one playing, more queued
        await rig.playout.stop();
        const recorded = rig.plays.length;
        expect(rig.player.pending()).toEqual([]);
        expect(mpvPids(rig)).toEqual([]);
        // Every airing that showed a frame has its play entry, the last one interrupted.
        expect(recorded).toBe(starts.filter((a: Airing) => a.kind !== "test").length);
        expect(rig.plays.at(-1)!.play.status).toBe("interrupted");
        await rig.playout.stop();
        await sleep(1500);
        expect(rig.plays.length).toBe(recorded);
        expect(mpvPids(rig)).toEqual([]);
        expect(playsOf(rig).slice(0, -1).every((p) => p.status === "completed")).toBe(true);
      } finally {
        await rig.close();
      }
    }, 60_000);

    it("orders given after stop are refused cleanly or harmless: no crash, no mpv, no play", async () => {
      const rig = await started("after-stop", [campaign("cola", ["cola"], { playsPerHour: 720 })]);
      try {
        await until("two plays", () => rig.plays.length >= 2, 30_000);
        await rig.playout.stop();
        const recorded = rig.plays.length;
        const outcomes: Record<string, string> = {};
        const attempt = async (name: string, p: () => Promise<unknown>): Promise<void> => {
          outcomes[name] = await p().then(
            () => "ok",
            (err: unknown) => {
              expect(err).toBeInstanceOf(Error);
              return `refused: ${(err as Error).message}`;
            },
          );
        };
        await attempt("playNow", () => rig.playout.playNow("cola", 2, tech));
        await attempt("testPlay", () => rig.playout.testPlay(cola.file, 1, tech));
        await attempt("pattern", () => rig.playout.showPattern("grid", 1, tech));
        await attempt("screenshot", () => rig.playout.screenshot());
        await attempt("takedown", () => rig.playout.takedown({ target: { campaign: "cola" }, immediate: true, origin: tech }));
        await attempt("suspend", () => rig.playout.suspend({ reason: "late", until: null, campaigns: null, blackout: true, origin: tech }));
        await attempt("resume", () => rig.playout.resume(tech));
        await attempt("status", () => rig.playout.status());
        if (process.env.DUMP) console.log(outcomes);
        expect(outcomes.status).toBe("ok");
        expect(outcomes.screenshot).toMatch(/^refused: /);
        await sleep(3000);
        expect(rig.plays.length).toBe(recorded);
        expect(mpvPids(rig)).toEqual([]);
        expect(eventsOf(rig, "command.executed")).toEqual([]);
        expect(playsOf(rig).filter(paid).every((p) => p.status !== "failed")).toBe(true);
      } finally {
        await rig.close();
      }
    }, 60_000);
  });
}
