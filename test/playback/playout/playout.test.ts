// The playout on real parts (ledger, store, ffmpeg, mpv headless): the timeline plays in order,
// on time, and every play is recorded with what happened.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../../helpers/tmp.js";
import { campaign, makeClip, scenarioRig, until, type Clip } from "./rig.js";

const tmp = tempDir("ledagent-playout-");
let house: Clip;
let cola: Clip;
let tea: Clip;

beforeAll(() => {
  house = makeClip(tmp.dir, "house", 3, "smptebars");
  cola = makeClip(tmp.dir, "cola", 2);
  tea = makeClip(tmp.dir, "tea", 2, "rgbtestsrc");
});
afterAll(() => tmp.cleanup());

describe("playout on real parts", () => {
  it("plays the timeline in order, paid plays near their planned start, each recorded completed and verified", async () => {
    const rig = await scenarioRig({
      dir: `${tmp.dir}/order`,
      creatives: [house, cola, tea],
      campaigns: [campaign("cola", ["cola"], { playsPerHour: 360, category: "drink" }), campaign("tea", ["tea"], { playsPerHour: 180, category: "drink" })],
    });
    try {
      await until("30 s of plays", () => rig.plays.length >= 10, 60_000);
    } finally {
      await rig.close();
    }
    const plays = rig.plays.map((e) => e.play);
    if (process.env.DUMP) for (const p of plays) console.log(p.customer, p.creative, p.status, p.plannedAt.slice(11), p.startedAt.slice(11), p.endedAt.slice(11), p.durationMs, Date.parse(p.startedAt) - Date.parse(p.plannedAt));
    // Back to back: each starts after the one before ended, in seq order.
    for (let i = 1; i < plays.length; i++) expect(Date.parse(plays[i]!.startedAt)).toBeGreaterThanOrEqual(Date.parse(plays[i - 1]!.endedAt) - 5);
    const paid = plays.filter((p) => p.customer !== "fill");
    expect(paid.length).toBeGreaterThan(2);
    for (const p of paid.filter((p) => p.status === "completed")) {
      expect(Math.abs(Date.parse(p.startedAt) - Date.parse(p.plannedAt))).toBeLessThan(1500);
      expect(p.screenState.verified).toBe(true);
    }
    // All but the last (cut by the stop) played whole.
    expect(plays.slice(0, -1).every((p) => p.status === "completed")).toBe(true);
    expect(plays.at(-1)?.status).toMatch(/completed|interrupted/);
  }, 120_000);
});
