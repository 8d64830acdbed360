// A restart on the same data dir, on real parts: stop() records what plays as interrupted and
// leaves no mpv behind; a new playout on the same keys, ledger and store continues the chain
// (the whole export verifies), and the live suspension and standing takedown are still in force.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PlayRecord } from "../../../agent/proofs/types.js";
import { tempDir } from "../../helpers/tmp.js";
import { dump, eventsOf, expectBackToBack, mpvPids, ms, nextStart, paid, playOfAiring, playsOf, sleep, tech, verifyLedger } from "./helpers.js";
import { buildRig, campaign, makeClip, scenarioRig, until, type Clip } from "./rig.js";

const tmp = tempDir("ledagent-playout-restart-");
let house: Clip;
let cola: Clip;
let tea: Clip;

beforeAll(() => {
  house = makeClip(tmp.dir, "house", 2, "smptebars");
  cola = makeClip(tmp.dir, "cola", 1);
  tea = makeClip(tmp.dir, "tea", 1, "rgbtestsrc");
});
afterAll(() => tmp.cleanup());

/** Registers these tests; an aggregating test file runs them alongside others. */
export function restartTests(): void {
  describe.concurrent("restart on the same data dir", () => {
    it("the chain continues, and a live suspension and a standing takedown survive", async () => {
      const dir = `${tmp.dir}/agent`;
      const first = await scenarioRig({
        dir,
        creatives: [house, cola, tea],
        campaigns: [campaign("cola", ["cola"], { playsPerHour: 720, category: "drink" }), campaign("tea", ["tea"], { playsPerHour: 720, category: "snack" })],
      });
      let stoppedAt = 0;
      try {
        await until("a cola and a tea", () => ["cola", "tea"].every((c) => playsOf(first).some((p) => p.campaign === c && p.status === "completed")), 30_000);
        await first.playout.takedown({ target: { campaign: "tea" }, immediate: false, origin: tech });
        await first.playout.suspend({ reason: "overnight", until: null, campaigns: null, blackout: false, origin: tech });
        const onAir = await nextStart(first, (a) => a.expectedLengthMs >= 1000);
        await sleep(400);
        stoppedAt = first.now();
        await first.playout.stop();
        // Every record is written by the time stop() resolves: what played is interrupted.
        expect(playOfAiring(first, onAir)).toMatchObject({ status: "interrupted" });
        expect(mpvPids(first)).toEqual([]);
      } finally {
        await first.close();
      }
      const before = playsOf(first);
      expect(before.at(-1)).toMatchObject({ status: "interrupted" });
      expect(ms(before.at(-1)!.endedAt) - stoppedAt).toBeLessThan(1000);
      expect(before.at(-1)!.durationMs).toBeLessThan(1000);

      const second = buildRig(dir, { reuse: true });
      let after: PlayRecord[] = [];
      try {
        await second.playout.start();
        const status = await second.playout.status();
        expect(status.scheduleVersion).toBe(1);
        expect(status.suspension).toMatchObject({ reason: "overnight", campaigns: null, blackout: false });
        expect(status.takedowns).toEqual([expect.objectContaining({ campaign: "tea" })]);
        await until("three plays", () => second.plays.length >= 3, 30_000);
        expect(playsOf(second).filter(paid)).toEqual([]);
        const resumedAt = second.now();
        await second.playout.resume(tech);
        await until("two colas", () => playsOf(second).filter((p) => p.campaign === "cola" && p.status === "completed").length >= 2, 20_000);
        await sleep(6000); // tea's windows (5 s) pass: it stays down
        after = playsOf(second);
        dump("after restart", after, resumedAt);
        expect(after.filter((p) => p.campaign === "tea")).toEqual([]);
        expect(eventsOf(second, "resumed").at(-1)!.event).toMatchObject({ suspendedSeq: eventsOf(second, "suspended")[0]!.seq });
        // One chain over both runs: contiguous, signed, linked, the first run's entries included.
        const { result: verified, lines } = await verifyLedger(second);
        expect(verified, JSON.stringify(verified)).toMatchObject({ ok: true, firstSeq: 1, stubs: 0 });
        expect(verified.ok && verified.lastSeq).toBe(lines.length);
        const seqs = [...first.plays, ...second.plays].map((e) => e.seq);
        expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
        expect(second.plays[0]!.seq).toBeGreaterThan(first.plays.at(-1)!.seq);
        expect(JSON.parse(lines[first.plays.at(-1)!.seq - 1]!)).toMatchObject({ kind: "play", play: { status: "interrupted" } });
      } finally {
        await second.close();
      }
      expectBackToBack(before);
      expectBackToBack(after);
      expect(mpvPids(second)).toEqual([]);
    }, 120_000);

    it("a suspension whose `until` passed while stopped: resumed (auto) at start, ended at its `until`", async () => {
      const dir = `${tmp.dir}/expired`;
      const first = await scenarioRig({ dir, creatives: [house, cola], campaigns: [campaign("cola", ["cola"], { playsPerHour: 720 })] });
      let untilMs = 0;
      try {
        await until("two plays", () => first.plays.length >= 2, 30_000);
        untilMs = first.now() + 2000;
        await first.playout.suspend({ reason: "short", until: new Date(untilMs).toISOString(), campaigns: null, blackout: false, origin: tech });
      } finally {
        await first.close();
      }
      await sleep(Math.max(0, untilMs - Date.now()) + 1500);
      const second = buildRig(dir, { reuse: true });
      const startedAt = second.now();
      try {
        await second.playout.start();
        expect((await second.playout.status()).suspension).toBeNull();
        await until("the automatic resume", () => eventsOf(second, "resumed").length > 0, 10_000);
        const [suspended] = eventsOf(second, "suspended");
        const [resumed] = eventsOf(second, "resumed");
        expect(resumed!.event).toMatchObject({ suspendedSeq: suspended!.seq, auto: true, by: "agent" });
        expect(Math.abs((resumed!.event.suspendedForMs as number) - (untilMs - ms(suspended!.at)))).toBeLessThan(50);
        expect(ms(resumed!.at)).toBeGreaterThanOrEqual(startedAt);
        await until("a paid play", () => playsOf(second).some((p) => paid(p) && p.status === "completed"), 20_000);
        dump("after an expired suspension", playsOf(second), startedAt);
      } finally {
        await second.close();
      }
    }, 120_000);
  });
}
