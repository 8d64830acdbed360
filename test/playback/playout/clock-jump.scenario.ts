// The wall clock stepped under a running playout (NTP correcting it), on real parts: each step is
// recorded as clock.jump, the plan is made again on the new clock so paid plays start when they
// are planned, a play across the step keeps its true (monotonic) length and status, and every
// play is still recorded in one verifiable chain.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventEntry, PlayRecord } from "../../../agent/proofs/types.js";
import { tempDir } from "../../helpers/tmp.js";
import { dump, eventsOf, flight, ms, nextStart, offsetInto, paid, playsOf, sleep, verifyLedger } from "./helpers.js";
import { campaign, makeClip, scenarioRig, until, type Clip, type Rig } from "./rig.js";

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

function started(name: string): Promise<Rig> {
  return scenarioRig({
    dir: `${tmp.dir}/${name}`,
    offsetMs: offsetInto(5 * 60_000),
    creatives: [house, cola],
    campaigns: (rig) => [campaign("cola", ["cola"], { playsPerHour: 720, ...flight(rig) })],
    prepare: [house, cola],
    plays: 3,
  });
}

interface Step {
  /** The rig's clock just after the step, and when the playout recorded it (both on the new clock). */
  at: number;
  seen: number;
  /** Plays recorded before the step. */
  count: number;
  event: EventEntry;
  /** First frames shown after the step and before the playout saw it (its check runs once a second). */
  framesBetween: number;
}

/** Steps the rig's clock; resolves with when the playout recorded it (clock.jump, new clock). */
async function step(rig: Rig, by: number): Promise<Step> {
  const jumps = eventsOf(rig, "clock.jump").length;
  const count = rig.plays.length;
  // When each first frame after the step was handled: its wall-clock stamp is read then, on the new clock.
  const frames: number[] = [];
  const onStarted = (): void => void frames.push(performance.now());
  rig.playout.on("started", onStarted);
  rig.stepClock(by);
  const [at, atMono] = [rig.now(), performance.now()];
  try {
    await until("the step recorded", () => eventsOf(rig, "clock.jump").length > jumps, 10_000);
  } finally {
    rig.playout.off("started", onStarted);
  }
  const event = eventsOf(rig, "clock.jump")[jumps]!;
  const seenMono = atMono + (ms(event.at) - at);
  return { at, seen: ms(event.at), count, event, framesBetween: frames.filter((m) => m < seenMono).length };
}

/**
 * A moment when no first frame can fall between a step and the playout seeing it: just into a
 * fill of nearly 2 s (the items after it already handed to mpv), with the playout's check due
 * within the second.
 */
async function quietMoment(rig: Rig): Promise<void> {
  await nextStart(rig, (a) => a.kind === "fill" && a.expectedLengthMs >= 1800);
  await sleep(300);
}

/** Registers these tests; an aggregating test file runs them alongside others. */
export function clockJumpTests(): void {
  describe.concurrent("wall clock steps", () => {
    it("forward: clock.jump, the windows it skipped owed, paid plays on time on the new clock, lengths from the monotonic clock", async () => {
      const rig = await started("forward");
      let s: Step;
      let verified: Awaited<ReturnType<typeof verifyLedger>>;
      try {
        // Where a first frame cannot race the step (the case below): this one proves the step's
        // handling when the playout sees it before anything is stamped on the new clock.
        await quietMoment(rig);
        s = await step(rig, STEP_MS);
        expect(s.framesBetween, "a first frame fell between the step and the playout seeing it").toBe(0);
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
      let s: Step;
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

    // The race that once failed: the step was seen by a once-a-second check, and an airing whose
    // first frame was stamped after the step but before that check (already on the new clock) was
    // moved by the step a second time; every later paid play then aired a step (60 s) before its
    // `plannedAt`. The step is now noticed before a first frame is stamped and before anything is
    // placed. Here it is placed 150 ms before a first frame, most often well before the next
    // once-a-second check: no first frame may be handled before the step is seen.
    it("forward, 150 ms before a first frame: the step is seen before the frame, and paid plays planned after it start on time", async () => {
      const rig = await started("forward-race");
      let s: Step | null = null;
      try {
        const a = await nextStart(rig, (x) => x.expectedLengthMs >= 900);
        await sleep(Math.max(0, a.startedAt!.monoMs + a.expectedLengthMs - performance.now() - 150));
        s = await step(rig, STEP_MS);
        expect(s.framesBetween, "first frames handled before the playout saw the step").toBe(0);
        const seen = s.seen;
        await until("three paid plays planned after it", () => playsOf(rig).filter((p) => paid(p) && ms(p.plannedAt) >= seen && p.status === "completed").length >= 3, 30_000);
      } finally {
        await rig.close();
      }
      const plays = playsOf(rig);
      const raced = s!;
      dump("clock forward, raced", plays, raced.at);
      const after = plays.filter((p) => paid(p) && ms(p.plannedAt) >= raced.seen);
      for (const p of after) expect(Math.abs(ms(p.startedAt) - ms(p.plannedAt)), `${p.creative} planned ${p.plannedAt} started ${p.startedAt}`).toBeLessThan(1000);
    }, 90_000);
  });
}
