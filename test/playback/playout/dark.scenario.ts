// The screen's state stamped on each play, on real mpv: a play while the controller is offline,
// blacked out or at brightness 0 is `dark` with that state recorded; the plays around it are
// completed and verified. Without a controller, plays are completed and unverified, never dark.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ScreenState } from "../../../agent/drivers/types.js";
import type { PlayRecord } from "../../../agent/proofs/types.js";
import { dump, expectBackToBack, ms, playsOf } from "./helpers.js";
import { tempDir } from "../../helpers/tmp.js";
import { campaign, makeClip, scenarioRig, until, type Clip, type Rig } from "./rig.js";

const tmp = tempDir("ledagent-playout-dark-");
let house: Clip;
let cola: Clip;

beforeAll(() => {
  house = makeClip(tmp.dir, "house", 2, "smptebars");
  cola = makeClip(tmp.dir, "cola", 1);
});
afterAll(() => tmp.cleanup());

function started(name: string, controller: boolean): Promise<Rig> {
  // Fitted ahead: a creative not ready at its turn has fill stand in for it.
  return scenarioRig({ dir: `${tmp.dir}/${name}`, controller, creatives: [house, cola], campaigns: [campaign("cola", ["cola"], { playsPerHour: 720 })], prepare: [house, cola] });
}

const LIT: ScreenState = { verified: true, online: true, brightness: 80, blackout: false };

/** Plays wholly inside [from, to] (rig clock). */
const within = (plays: PlayRecord[], from: number, to: number): PlayRecord[] => plays.filter((p) => ms(p.startedAt) >= from && ms(p.endedAt) <= to);
/**
 * Plays that overlap [from, to] by more than `margin` ms. The state is sampled when the playout
 * handles mpv's event, a little after the frame it stamps: a play within a few ms of a change may
 * have seen either side of it.
 */
const overlapping = (plays: PlayRecord[], from: number, to: number, margin = 0): PlayRecord[] => plays.filter((p) => ms(p.endedAt) > from + margin && ms(p.startedAt) < to - margin);
const MARGIN_MS = 250;

/** Registers these tests; an aggregating test file runs them alongside others. */
export function darkTests(): void {
  describe.concurrent("screen state on each play", () => {
    it("offline, blackout and brightness 0: the plays during each are dark with the state recorded; those around are completed and verified", async () => {
      const rig = await started("dark", true);
      // `recorded`: how many plays were recorded when the phase began (wholly sampled before it).
      const phases: { name: string; state: ScreenState; from: number; to: number; recorded: number }[] = [
        { name: "offline", state: { verified: false, online: false, brightness: null, blackout: null }, from: 0, to: 0, recorded: 0 },
        { name: "blackout", state: { verified: true, online: true, brightness: 80, blackout: true }, from: 0, to: 0, recorded: 0 },
        { name: "brightness 0", state: { verified: true, online: true, brightness: 0, blackout: false }, from: 0, to: 0, recorded: 0 },
      ];
      try {
        await until("two lit plays", () => rig.plays.length >= 2, 30_000);
        for (const phase of phases) {
          phase.from = rig.now();
          phase.recorded = rig.plays.length;
          rig.screen.state = phase.state;
          // Until one play lies wholly inside the phase.
          await until(`a play wholly while ${phase.name}`, () => within(playsOf(rig), phase.from + MARGIN_MS, rig.now()).length >= 1, 20_000);
          phase.to = rig.now();
          rig.screen.state = LIT;
          const lit = rig.now();
          await until("a lit play after it", () => within(playsOf(rig), lit + MARGIN_MS, rig.now()).length >= 1, 20_000);
        }
      } finally {
        await rig.close();
      }
      const plays = playsOf(rig);
      dump("dark", plays, phases[0]!.from);
      if (process.env.DUMP) console.log(phases.map((ph) => `${ph.name}: ${(ph.from - phases[0]!.from) / 1000}..${(ph.to - phases[0]!.from) / 1000}`));
      expectBackToBack(plays);
      for (const phase of phases) {
        const touched = overlapping(plays, phase.from, phase.to, MARGIN_MS);
        expect(touched.length, phase.name).toBeGreaterThanOrEqual(1);
        for (const p of touched) {
          expect(p.status, `${phase.name}: ${p.creative} at ${p.startedAt}`).toBe("dark");
          // Recorded as the worst the controller said during the play.
          if (phase.name === "offline") expect(p.screenState).toMatchObject({ verified: false, online: false });
          if (phase.name === "blackout") expect(p.screenState).toMatchObject({ online: true, blackout: true });
          if (phase.name === "brightness 0") expect(p.screenState).toMatchObject({ online: true, brightness: 0, blackout: false });
        }
      }
      // Every play recorded before a phase or started well after it (the last may be cut by the
      // stop) is completed and verified.
      const clear = plays.slice(0, -1).filter((p, i) => phases.every((ph) => i < ph.recorded || ms(p.startedAt) > ph.to + MARGIN_MS));
      expect(clear.length).toBeGreaterThanOrEqual(4);
      for (const p of clear) {
        expect(p.status, `${p.creative} at ${p.startedAt}`).toBe("completed");
        expect(p.screenState).toEqual(LIT);
      }
      // Paid plays kept coming around the dark ones.
      expect(plays.filter((p) => p.campaign === "cola" && p.status === "completed").length).toBeGreaterThanOrEqual(1);
    }, 120_000);

    it("no controller configured: plays are completed with screenState.verified false, never dark", async () => {
      const rig = await started("none", false);
      rig.screen.state = { verified: false, online: false, brightness: 0, blackout: true }; // read by nobody
      try {
        await until("four plays, a cola among them", () => rig.plays.length >= 4 && rig.plays.some((e) => e.play.campaign === "cola"), 30_000);
      } finally {
        await rig.close();
      }
      const plays = playsOf(rig);
      dump("no controller", plays);
      expect(plays.some((p) => p.campaign === "cola")).toBe(true);
      for (const p of plays.slice(0, -1)) {
        expect(p.status).toBe("completed");
        expect(p.screenState).toEqual({ verified: false, online: false, brightness: null, blackout: null });
      }
      expect(plays.at(-1)!.status).toMatch(/^(completed|interrupted)$/);
    }, 60_000);
  });
}
