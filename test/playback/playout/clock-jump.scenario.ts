// The wall clock stepped under a running playout (NTP correcting it), on real parts: each step is
// recorded as clock.jump, the plan is made again on the new clock so paid plays start when they
// are planned, a play across the step keeps its true (monotonic) length and status, and every
// play is still recorded in one verifiable chain.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventEntry, PlayRecord } from "../../../agent/proofs/types.js";
import { tempDir } from "../../helpers/tmp.js";
import { dump, eventsOf, flight, ms, offsetInto, paid, playsOf, sleep, verifyLedger } from "./helpers.js";
import { buildRig, campaign, creativeEntry, makeClip, schedule, until, type Clip, type Rig } from "./rig.js";

const tmp = tempDir("ledagent-playout-clockjump-");
let house: Clip;
let cola: Clip;

beforeAll(() => {
  house = makeClip(tmp.dir, "house", 2, "smptebars");
  cola = makeClip(tmp.dir, "cola", 1);
});
afterAll(() => tmp.cleanup());

const STEP_MS = 60_000;

/** A paid play the plan placed after the step was seen (on the new clock). */
const plannedAfter = (p: PlayRecord, seen: number): boolean => paid(p) && ms(p.plannedAt) >= seen && ms(p.plannedAt) < seen + STEP_MS / 2;

async function started(name: string): Promise<Rig> {
  const rig = buildRig(`${tmp.dir}/${name}`, { offsetMs: offsetInto(5 * 60_000) });
  const result = rig.apply(schedule(1, { creatives: [creativeEntry(house), creativeEntry(cola)], campaigns: [campaign("cola", ["cola"], { playsPerHour: 720, ...flight(rig) })], fill: ["house"] }));
  expect(result.state).toBe("applied");
  for (const clip of [house, cola]) await rig.creatives.prepare({ id: clip.id, url: `file://${clip.file}`, sha256: clip.sha256, durationMs: clip.durationMs });
  await rig.playout.start();
  await until("three plays", () => rig.plays.length >= 3, 30_000);
  return rig;
}

/** Steps the rig's clock; resolves with when the playout recorded it (clock.jump, new clock). */
async function step(rig: Rig, by: number): Promise<{ at: number; seen: number; count: number; event: EventEntry }> {
  const jumps = eventsOf(rig, "clock.jump").length;
  const count = rig.plays.length;
  rig.stepClock(by);
  const at = rig.now();
  await until("the step recorded", () => eventsOf(rig, "clock.jump").length > jumps, 10_000);
  const event = eventsOf(rig, "clock.jump")[jumps]!;
  return { at, seen: ms(event.at), count, event };
}

/** Registers these tests; an aggregating test file runs them alongside others. */
export function clockJumpTests(): void {
  describe.concurrent("wall clock steps", () => {
    it("forward: clock.jump, the windows it skipped owed, paid plays on time on the new clock, lengths from the monotonic clock", async () => {
      const rig = await started("forward");
      let s: Awaited<ReturnType<typeof step>>;
      let verified: Awaited<ReturnType<typeof verifyLedger>>;
      try {
        s = await step(rig, STEP_MS);
        await until("two paid plays planned after it", () => playsOf(rig).filter((p) => plannedAfter(p, s.seen) && p.status === "completed").length >= 2, 30_000);
        verified = await verifyLedger(rig);
      } finally {
        await rig.close();
      }
      const plays = playsOf(rig);
      dump("clock forward", plays, s.at);
      expect(verified.result.ok, JSON.stringify(verified.result)).toBe(true);
      expect(Math.abs((s.event.event.stepMs as number) - STEP_MS)).toBeLessThan(1000);
      expect(s.seen - s.at).toBeLessThan(2500); // the playout's housekeeping tick is 1 s
      // A play's length is the monotonic clock's: the step during one does not make it fail.
      for (const p of plays.slice(0, -1)) {
        expect(p.status, `${p.creative} at ${p.startedAt}`).toBe("completed");
        expect(p.durationMs).toBeLessThanOrEqual(house.durationMs + 500);
      }
      // What the new plan placed starts when planned (what mpv held may be a step off its plan).
      const after = plays.slice(s.count).filter((p) => plannedAfter(p, s.seen));
      expect(after.length).toBeGreaterThanOrEqual(2);
      for (const p of after) expect(Math.abs(ms(p.startedAt) - ms(p.plannedAt)), `${p.creative} planned ${p.plannedAt} started ${p.startedAt}`).toBeLessThan(1000);
    }, 90_000);

    // What mpv holds is re-stamped on the new clock, so the next plan starts where it really ends.
    it("back: clock.jump, and no paid play starts before its planned time on the new clock", async () => {
      const rig = await started("back");
      let s: Awaited<ReturnType<typeof step>>;
      try {
        s = await step(rig, -STEP_MS);
        await sleep(12_000);
      } finally {
        await rig.close();
      }
      const plays = playsOf(rig);
      dump("clock back", plays, s.at);
      expect(Math.abs((s.event.event.stepMs as number) + STEP_MS)).toBeLessThan(1000);
      for (const p of plays.slice(0, -1)) expect(p.status, `${p.creative} at ${p.startedAt}`).toBe("completed");
      // Paid plays that started once the step was seen: none ahead of its plan.
      const after = plays.filter((p) => paid(p) && ms(p.startedAt) > s.seen + 500);
      for (const p of after) expect(ms(p.plannedAt) - ms(p.startedAt), `${p.creative} planned ${p.plannedAt} started ${p.startedAt}`).toBeLessThan(1000);
    }, 90_000);
  });
}
