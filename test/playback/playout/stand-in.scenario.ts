// A paid play whose creative is not ready yet at its turn, on real parts: fill stands in, and the
// play is owed (the playout says so). Once the creative is ready, the hour still gets its quota:
// the stood-in play is placed again, as a failed one is.
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../../helpers/tmp.js";
import { dump, flight, ms, offsetInto, playsOf } from "./helpers.js";
import { campaign, creativeEntry, makeClip, scenarioRig, until, type Clip } from "./rig.js";

const tmp = tempDir("ledagent-playout-standin-");
let house: Clip;
let cola: Clip;
let server: Server;
let release = (): void => undefined;
const released = new Promise<void>((resolve) => (release = resolve));

beforeAll(async () => {
  house = makeClip(tmp.dir, "house", 2, "smptebars");
  cola = makeClip(tmp.dir, "cola", 1);
  server = createServer((req, res) => {
    if (req.url !== "/cola.mp4") return void res.writeHead(404).end();
    void released.then(() => {
      const body = readFileSync(cola.file);
      res.writeHead(200, { "content-length": body.length }).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
});
afterAll(async () => {
  release();
  await new Promise((resolve) => server.close(resolve));
  tmp.cleanup();
});

const PER_HOUR = 720;
const WINDOW_MS = 3_600_000 / PER_HOUR;

/** Registers these tests; an aggregating test file runs them alongside others. */
export function standInTests(): void {
  describe("a creative not ready at its turn", () => {
    // Once the creative is ready, a new plan places the plays fill stood in for (catch-up in their windows).
    it("fill stands in, and once the creative is ready the stood-in play is placed again", async () => {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cola.mp4`;
      const rig = await scenarioRig({
        dir: `${tmp.dir}/rig`,
        offsetMs: offsetInto(5 * 60_000),
        creatives: [house, { ...creativeEntry(cola), url }],
        campaigns: (r) => [campaign("cola", ["cola"], { playsPerHour: PER_HOUR, ...flight(r) })],
      });
      const appliedAt = Date.parse(rig.store.current()!.campaignAppliedAt.cola!);
      let through = 0;
      try {
        // Past the end of the window it was applied in: that window's play has had to stand in.
        await until("the first window passes", () => rig.now() > Math.floor(appliedAt / WINDOW_MS) * WINDOW_MS + WINDOW_MS + 500, 30_000);
        expect(playsOf(rig).filter((p) => p.campaign === "cola")).toEqual([]);
        release();
        await until("a cola", () => playsOf(rig).some((p) => p.campaign === "cola" && p.status === "completed"), 30_000);
        through = Math.floor(rig.now() / WINDOW_MS) * WINDOW_MS + 2 * WINDOW_MS;
        await until("two more windows", () => rig.now() > through + 3000, 40_000);
      } finally {
        await rig.close();
      }
      const plays = playsOf(rig);
      dump("stand-in", plays, appliedAt);
      let owed = 0;
      for (let w = Math.floor(appliedAt / WINDOW_MS) * WINDOW_MS; w < through; w += WINDOW_MS) if (w + WINDOW_MS > appliedAt) owed += 1;
      const colas = plays.filter((p) => p.campaign === "cola" && p.status === "completed" && ms(p.plannedAt) < through);
      expect(colas).toHaveLength(owed);
    }, 120_000);
  });
}
