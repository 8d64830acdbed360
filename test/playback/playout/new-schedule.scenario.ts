// A new schedule applied while playing, on real parts: the old one plays on until the new one's
// creatives are prepared (a creative served over HTTP, held back by the test), then plays come
// from the new version; a takedown given under the old one lapses; two applies in a row, the
// last one wins. One rig, in order.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PlayRecord } from "../../../agent/proofs/types.js";
import { tempDir } from "../../helpers/tmp.js";
import { dump, expectBackToBack, ms, playsOf, sleep, tech } from "./helpers.js";
import { campaign, creativeEntry, makeClip, scenarioRig, schedule, until, type Clip, type Rig } from "./rig.js";

const tmp = tempDir("ledagent-playout-newsched-");
let rig: Rig;
let server: Server;
let base = "";
let house: Clip;
let cola: Clip;
let beer: Clip;
let wine: Clip;
let juice: Clip;

/** Files served once the test opens their gate. */
const gates = new Map<string, { file: string; open: () => void; opened: Promise<void> }>();
function gate(clip: Clip): Record<string, unknown> {
  let open = (): void => undefined;
  const opened = new Promise<void>((resolve) => (open = resolve));
  gates.set(`/${clip.id}.mp4`, { file: clip.file, open, opened });
  return { ...creativeEntry(clip), url: `${base}/${clip.id}.mp4` };
}

beforeAll(async () => {
  house = makeClip(tmp.dir, "house", 2, "smptebars");
  cola = makeClip(tmp.dir, "cola", 1);
  beer = makeClip(tmp.dir, "beer", 1, "rgbtestsrc");
  wine = makeClip(tmp.dir, "wine", 1, "mandelbrot");
  juice = makeClip(tmp.dir, "juice", 1, "testsrc2");
  server = createServer((req, res) => {
    const g = gates.get(req.url ?? "");
    if (!g) return void res.writeHead(404).end();
    void g.opened.then(() => {
      const body = readFileSync(g.file);
      res.writeHead(200, { "content-type": "video/mp4", "content-length": body.length }).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const g of gates.values()) g.open();
  await new Promise((resolve) => server?.close(resolve));
  tmp.cleanup();
});

/** The rig, started when this suite starts (alongside the others). */
async function startRig(): Promise<void> {
  rig = await scenarioRig({ dir: `${tmp.dir}/rig`, creatives: [house, cola], campaigns: [campaign("cola", ["cola"], { playsPerHour: 720, category: "drink" })] });
  await until("a cola", () => playsOf(rig).some((p) => p.campaign === "cola" && p.status === "completed"), 30_000);
}

const startedIn = (from: number, to = Infinity): PlayRecord[] => playsOf(rig).filter((p) => ms(p.startedAt) > from && ms(p.startedAt) < to);

/** Registers these tests; an aggregating test file runs them alongside others. */
export function newScheduleTests(): void {
  describe.sequential("a new schedule while playing, in order", () => {
    beforeAll(startRig, 60_000);
    afterAll(() => rig?.close());
    describe("a new schedule while playing", () => {
      it("v1 plays on until v2's creatives are ready, then v2 plays; v1's takedown lapses", async () => {
        await rig.playout.takedown({ target: { campaign: "cola" }, immediate: false, origin: tech });
        const v2 = schedule(2, {
          creatives: [creativeEntry(house), creativeEntry(cola), gate(beer)],
          campaigns: [campaign("cola", ["cola"], { playsPerHour: 720, category: "drink" }), campaign("beer", ["beer"], { playsPerHour: 720, category: "alcohol" })],
          fill: ["house"],
        });
        expect(rig.apply(v2).state).toBe("applied");
        const appliedAt = rig.now();
        rig.playout.scheduleApplied();
        await sleep(7000);
        // Still v1, its takedown standing: fill only (cola is down, beer not ready).
        const status = await rig.playout.status();
        expect(status.scheduleVersion).toBe(1);
        expect(status.takedowns).toEqual([expect.objectContaining({ campaign: "cola" })]);
        const held = startedIn(appliedAt);
        expect(held.length).toBeGreaterThanOrEqual(2);
        expect(held.every((p) => p.scheduleVersion === 1 && p.customer === "fill")).toBe(true);
        const releasedAt = rig.now();
        gates.get("/beer.mp4")!.open();
        await until("beer and cola under v2", () => ["beer", "cola"].every((c) => startedIn(releasedAt).some((p) => p.campaign === c && p.status === "completed" && p.scheduleVersion === 2)), 30_000);
        dump("v1 → v2", startedIn(appliedAt - 3000), releasedAt);
        expect((await rig.playout.status())).toMatchObject({ scheduleVersion: 2, takedowns: [] });
        // Once v2 plays, nothing of v1 any more; and no v2 play before its creative was released.
        const since = startedIn(appliedAt);
        const firstV2 = since.findIndex((p) => p.scheduleVersion === 2);
        expect(firstV2).toBeGreaterThan(0);
        expect(since.slice(firstV2).every((p) => p.scheduleVersion === 2)).toBe(true);
        expect(ms(since[firstV2]!.startedAt)).toBeGreaterThan(releasedAt);
        expectBackToBack(playsOf(rig));
      }, 90_000);

      it("two applies in a row: the last one wins, the one between never plays", async () => {
        const v3 = schedule(3, { creatives: [creativeEntry(house), gate(wine)], campaigns: [campaign("wine", ["wine"], { playsPerHour: 720 })], fill: ["house"] });
        const v4 = schedule(4, { creatives: [creativeEntry(house), creativeEntry(juice)], campaigns: [campaign("juice", ["juice"], { playsPerHour: 720 })], fill: ["house"] });
        const at = rig.now();
        expect(rig.apply(v3).state).toBe("applied");
        rig.playout.scheduleApplied();
        expect(rig.apply(v4).state).toBe("applied");
        rig.playout.scheduleApplied();
        await sleep(2000);
        gates.get("/wine.mp4")!.open();
        await until("juice under v4", () => startedIn(at).some((p) => p.campaign === "juice" && p.status === "completed"), 30_000);
        await sleep(6000);
        const since = startedIn(at);
        dump("v3, v4", since, at);
        expect(since.filter((p) => p.scheduleVersion === 3 || p.campaign === "wine")).toEqual([]);
        expect(since.filter((p) => p.scheduleVersion === 4).length).toBeGreaterThanOrEqual(2);
        const firstV4 = since.findIndex((p) => p.scheduleVersion === 4);
        expect(since.slice(firstV4).every((p) => p.scheduleVersion === 4)).toBe(true);
        expect((await rig.playout.status()).scheduleVersion).toBe(4);
      }, 90_000);
    });
  });
}
