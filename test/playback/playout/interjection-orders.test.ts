// Live orders that land while play.now plays are still waiting their turn, on real parts: a
// takedown of that creative and a blackout suspension must stop them too (rule 8: a taken-down
// creative has no items from that moment on; a blackout plays nothing until the resume).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PlayRecord } from "../../../agent/proofs/types.js";
import { tempDir } from "../../helpers/tmp.js";
import { dump, ms, nextStart, playsOf, sleep, tech } from "./helpers.js";
import { campaign, makeClip, scenarioRig, type Clip, type Rig } from "./rig.js";

const tmp = tempDir("ledagent-playout-interorders-");
let house: Clip;
let cola: Clip;
let tea: Clip;

beforeAll(() => {
  house = makeClip(tmp.dir, "house", 2, "smptebars");
  cola = makeClip(tmp.dir, "cola", 1);
  tea = makeClip(tmp.dir, "tea", 1, "rgbtestsrc");
});
afterAll(() => tmp.cleanup());

function started(name: string): Promise<Rig> {
  return scenarioRig({
    dir: `${tmp.dir}/${name}`,
    creatives: [house, cola, tea],
    campaigns: [campaign("cola", ["cola"], { playsPerHour: 60 }), campaign("tea", ["tea"], { playsPerHour: 720 })],
    plays: 1,
  });
}

const startedIn = (rig: Rig, from: number, to = Infinity): PlayRecord[] => playsOf(rig).filter((p) => ms(p.startedAt) > from && ms(p.startedAt) < to);

describe("orders over waiting play.now plays", () => {
  // play.now's waiting plays live in their own list, ahead of the plan: a takedown must reach them.
  it("a takedown of the creative stops its play.now plays still waiting", async () => {
    const rig = await started("takedown");
    let at = 0;
    try {
      await rig.playout.playNow("cola", 6, tech);
      await nextStart(rig, (a) => a.kind === "now" && a.creative === "cola");
      await sleep(200);
      at = rig.now();
      await rig.playout.takedown({ target: { creative: "cola" }, immediate: true, origin: tech });
      await sleep(8000);
    } finally {
      await rig.close();
    }
    dump("takedown over play.now", startedIn(rig, at - 3000), at);
    expect(startedIn(rig, at).filter((p) => p.creative === "cola")).toEqual([]);
  }, 60_000);

  // And a blackout suspension: interjections are taken before the plan (which says blackout).
  it("a blackout suspension stops play.now plays still waiting: nothing plays", async () => {
    const rig = await started("blackout");
    let at = 0;
    try {
      await rig.playout.playNow("cola", 6, tech);
      await nextStart(rig, (a) => a.kind === "now" && a.creative === "cola");
      await sleep(200);
      at = rig.now();
      await rig.playout.suspend({ reason: "storm", until: null, campaigns: null, blackout: true, origin: tech });
      await sleep(8000);
    } finally {
      await rig.close();
    }
    dump("blackout over play.now", startedIn(rig, at - 3000), at);
    expect(startedIn(rig, at)).toEqual([]);
  }, 60_000);
});
