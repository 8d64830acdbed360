// Over two minutes of timeline on real parts: plays back to back, whole, verified, separated
// (rule 4), on time, and as many per campaign as rule 3 asks of a partly active hour.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PlayRecord } from "../../../agent/proofs/types.js";
import { tempDir } from "../../helpers/tmp.js";
import { dump, expectBackToBack, HOUR_MS, ms, offsetInto, paid, playsOf, verifyLedger } from "./helpers.js";
import { buildRig, campaign, creativeEntry, makeClip, schedule, until, type Clip } from "./rig.js";

const tmp = tempDir("ledagent-playout-long-");
let house: Clip;
const spots: Record<string, Clip> = {};

beforeAll(() => {
  house = makeClip(tmp.dir, "house", 3, "smptebars");
  spots.cola = makeClip(tmp.dir, "cola", 2);
  spots.tea = makeClip(tmp.dir, "tea", 2, "rgbtestsrc");
  spots.chips = makeClip(tmp.dir, "chips", 2, "mandelbrot");
});
afterAll(() => tmp.cleanup());

/** Two campaigns of one category, one of another; each with its own creative of the same name. */
const CAMPAIGNS = [
  { id: "cola", category: "drink", perHour: 360 },
  { id: "tea", category: "drink", perHour: 180 },
  { id: "chips", category: "snack", perHour: 240 },
];
const RUN_MS = 120_000;

/** Rule 3 for the hour [hour, hour + 1 h) with the campaign active from `start` on: its windows. */
function windows(perHour: number, start: number): { n: number; at: (k: number) => [number, number] } {
  const hourEnd = Math.floor(start / HOUR_MS) * HOUR_MS + HOUR_MS;
  const active = hourEnd - start;
  const n = Math.round((perHour * active) / HOUR_MS);
  return { n, at: (k) => [start + (k * active) / n, start + ((k + 1) * active) / n] };
}

/** Registers these tests; an aggregating test file runs them alongside others. */
export function longRunTests(): void {
  describe("two minutes of timeline", () => {
    it("plays in order, whole, separated, on time, and as many per campaign as the partly active hour asks", async () => {
      // 10 min 3.7 s into an hour: the run stays inside it, and the windows do not line up with the hour's.
      const rig = buildRig(`${tmp.dir}/long`, { offsetMs: offsetInto(10 * 60_000 + 3_700) });
      // Fitted ahead, so the first plan finds every creative ready (no fill standing in), and the
      // campaigns start once they are: their first windows are not spent fitting.
      for (const clip of [house, ...Object.values(spots)]) await rig.creatives.prepare({ id: clip.id, url: `file://${clip.file}`, sha256: clip.sha256, durationMs: clip.durationMs });
      const start = rig.now();
      const flight = { start: new Date(start).toISOString(), end: new Date(start + 2 * HOUR_MS).toISOString() };
      const result = rig.apply(
        schedule(1, {
          creatives: [creativeEntry(house), ...Object.values(spots).map((c) => creativeEntry(c))],
          campaigns: CAMPAIGNS.map((c) => campaign(c.id, [c.id], { playsPerHour: c.perHour, category: c.category, ...flight })),
          fill: ["house"],
        }),
      );
      expect(result.state).toBe("applied");
      await rig.playout.start();
      let plays: PlayRecord[] = [];
      try {
        await until("a first play", () => rig.plays.length > 0, 30_000);
        const t0 = ms(rig.plays[0]!.play.startedAt);
        await until("two minutes of plays", () => rig.plays.length > 0 && ms(rig.plays.at(-1)!.play.endedAt) >= t0 + RUN_MS, RUN_MS + 60_000);
        plays = playsOf(rig);
        const verified = await verifyLedger(rig);
        expect(verified.result.ok, JSON.stringify(verified.result)).toBe(true);
      } finally {
        await rig.close();
      }
      dump("long run", plays, start);
      const t0 = ms(plays[0]!.startedAt);
      const tEnd = ms(plays.at(-1)!.endedAt);
      expect(tEnd - t0).toBeGreaterThanOrEqual(RUN_MS);
      // Order: back to back, in seq order.
      expectBackToBack(plays);
      // Statuses and durations: all whole and verified (the last may be cut by the stop).
      for (const p of plays.slice(0, -1)) {
        expect(p.status, `${p.creative} at ${p.startedAt}`).toBe("completed");
        expect(p.screenState.verified).toBe(true);
        const wall = ms(p.endedAt) - ms(p.startedAt);
        if (paid(p)) {
          expect(Math.abs(p.durationMs - 2000), `${p.creative} at ${p.startedAt}`).toBeLessThanOrEqual(500);
          expect(Math.abs(wall - 2000)).toBeLessThanOrEqual(500);
        } else {
          expect(p.durationMs).toBeLessThanOrEqual(house.durationMs + 500);
          expect(p.durationMs).toBeGreaterThanOrEqual(300);
        }
      }
      // Rule 4: two paid plays in a row of different campaigns never share a category.
      const category = new Map(CAMPAIGNS.map((c) => [c.id, c.category]));
      for (let i = 1; i < plays.length; i++) {
        const [a, b] = [plays[i - 1]!, plays[i]!];
        if (paid(a) && paid(b) && a.campaign !== b.campaign) expect(category.get(a.campaign), `${a.campaign} then ${b.campaign} at ${b.startedAt}`).not.toBe(category.get(b.campaign));
      }
      // On time: each paid play starts within 1 s of when it was planned.
      for (const p of plays.filter(paid)) expect(Math.abs(ms(p.startedAt) - ms(p.plannedAt)), `${p.creative} planned ${p.plannedAt} started ${p.startedAt}`).toBeLessThan(1000);
      // Rule 3: the k-th play of each campaign in its k-th window; as many as the windows so far.
      const cutoff = tEnd - 3000;
      for (const c of CAMPAIGNS) {
        const w = windows(c.perHour, start);
        expect(w.n).toBe(Math.round((c.perHour * (Math.floor(start / HOUR_MS) * HOUR_MS + HOUR_MS - start)) / HOUR_MS));
        const own = plays.filter((p) => p.campaign === c.id).sort((a, b) => ms(a.plannedAt) - ms(b.plannedAt));
        expect(own.every((p) => p.creative === c.id && !p.makeGood)).toBe(true);
        let ended = 0;
        let begun = 0;
        for (let k = 0; k < w.n && w.at(k)[0] < cutoff; k++) {
          begun += 1;
          if (w.at(k)[1] <= cutoff) ended += 1;
        }
        const planned = own.filter((p) => ms(p.plannedAt) < cutoff).length;
        expect(planned, `${c.id}: ${planned} plays planned before the cutoff, ${ended}..${begun} windows`).toBeGreaterThanOrEqual(ended);
        expect(planned).toBeLessThanOrEqual(begun);
        own.forEach((p, k) => {
          const [from, window] = w.at(k);
          // A window over before the first play (a slow start) is caught up as soon as it can be.
          const to = window <= t0 ? Math.max(window, t0 + 10_000) : window;
          expect(ms(p.plannedAt), `${c.id} #${k} planned ${p.plannedAt}, window from ${new Date(from).toISOString()}`).toBeGreaterThanOrEqual(from);
          // Separation may push a play a little past its window (rule 3 bends only for a hard rule).
          expect(ms(p.plannedAt), `${c.id} #${k} planned ${p.plannedAt}, window to ${new Date(to).toISOString()}`).toBeLessThan(to + 3000);
        });
      }
    }, 240_000);
  });
}
