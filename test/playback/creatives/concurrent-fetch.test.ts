// Two pipelines (the daemon and a technician's `creatives prepare --sha256 G`) share one cache
// and want the same bytes, one from a URL that serves them and one from a URL that serves
// other bytes. Each has its own database connection, as two processes would; the lock they
// contend for is the file-system one. Whatever the interleaving, sources/G holds exactly G, the
// rendition is fitted from it, and the loser gets a clean result: a cache hit or a named refusal.
import { readFileSync, utimesSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lock } from "proper-lockfile";
import { CreativeRejected, type CreativeRequest, type PreparedCreative } from "../../../agent/playback/creatives/index.js";
import { tempDir } from "../../helpers/tmp.js";
import { ffprobe, makeVideo, sha256 } from "./media.js";
import { startServer, type Route, type TestServer } from "./server.js";
import { pipelineFor, refusal, testConfig } from "./setup.js";

const ROUNDS = 12;
const tmp = tempDir("ledagent-concurrent-fetch-");
let server: TestServer;
let good: Buffer;
let goodSha: string;

beforeAll(async () => {
  mkdirSync(join(tmp.dir, "media"));
  good = readFileSync(makeVideo(join(tmp.dir, "media", "good.mp4"), { width: 64, height: 36, seconds: 1 }));
  const other = readFileSync(makeVideo(join(tmp.dir, "media", "other.mp4"), { width: 48, height: 48, seconds: 3 }));
  goodSha = sha256(join(tmp.dir, "media", "good.mp4"));
  const routes: Record<string, Route> = {};
  for (let i = 0; i < ROUNDS; i++) {
    // Varying pace on both sides, so the two downloads overlap differently in each round.
    routes[`/good-${i}`] = i % 3 === 0 ? { body: good, drip: { bytes: 2048, everyMs: 3 } } : { body: good };
    routes[`/bad-${i}`] = i % 2 === 0 ? { body: other, drip: { bytes: 1024 + 512 * (i % 4), everyMs: 2 } } : { body: other };
  }
  routes["/good"] = { body: good };
  server = await startServer(routes);
}, 60_000);

afterAll(async () => {
  await server?.close();
  tmp.cleanup();
});

const request = (id: string, url: string): CreativeRequest => ({ id, url, sha256: goodSha, durationMs: null });

async function outcome(work: Promise<PreparedCreative>): Promise<PreparedCreative | CreativeRejected> {
  return work.catch((err: unknown) => {
    // Anything but a named refusal (a raw EEXIST or ENOENT) fails the test here.
    expect(err).toBeInstanceOf(CreativeRejected);
    return err as CreativeRejected;
  });
}

function expectGood(c: PreparedCreative): void {
  expect(c.sourceSha256).toBe(goodSha);
  expect(sha256(c.sourcePath)).toBe(goodSha);
  expect(sha256(c.rendition.path)).toBe(c.rendition.sha256);
  const probed = ffprobe(c.rendition.path);
  expect([probed.width, probed.height]).toEqual([96, 48]);
  // The other bytes last 3 s: a rendition fitted from them would say so.
  expect(Math.abs((probed.durationS ?? 0) - 1)).toBeLessThan(0.3);
}

describe("two fetchers of the same sha256 sharing one cache", () => {
  it("never adopt or fit bytes other than the verified ones, and the loser gets a clean result", async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const config = testConfig(join(tmp.dir, `round-${i}`));
      const daemon = pipelineFor(config);
      const technician = pipelineFor(config);
      const delay = (i * 7) % 20;
      const [fromGood, fromBad] = await Promise.all([
        outcome(daemon.pipeline.prepare(request("good", server.url(`/good-${i}`)))),
        new Promise((r) => setTimeout(r, delay)).then(() => outcome(technician.pipeline.prepare(request("bad", server.url(`/bad-${i}`))))),
      ]);
      if (fromGood instanceof CreativeRejected) throw new Error(`round ${i}: the good URL was refused: ${fromGood.message}`);
      expectGood(fromGood);
      expect(sha256(daemon.pipeline.cache.sourcePath(goodSha))).toBe(goodSha);
      // The loser either waited and found the verified source (a hit) or fetched first and was refused for its bytes.
      if (fromBad instanceof CreativeRejected) {
        expect(fromBad.reason).toBe("hash-mismatch");
        expect(fromBad.message).toMatch(new RegExp(`^hash-mismatch: the bytes hash to [0-9a-f]{64}, the schedule says ${goodSha}$`));
      } else expectGood(fromBad);
      daemon.db.close();
      technician.db.close();
    }
  }, 120_000);

  it("a lock left by a holder that crashed goes stale and is taken over", async () => {
    const config = testConfig(join(tmp.dir, "crashed"));
    const { pipeline, db } = pipelineFor(config);
    const lockDir = join(pipeline.cache.stagingDir, `${goodSha}.lock`);
    mkdirSync(lockDir);
    const old = new Date(Date.now() - 3600_000);
    utimesSync(lockDir, old, old);
    const c = await pipeline.prepare(request("good", server.url("/good")));
    expectGood(c);
    db.close();
  });

  it("a fetcher waits for a live holder no longer than its fetch timeout, then says so", async () => {
    const config = testConfig(join(tmp.dir, "held"), {}, { fetchTimeoutS: 2 });
    const { pipeline, db } = pipelineFor(config);
    const release = await lock(join(pipeline.cache.stagingDir, `${goodSha}.part`), { realpath: false, lockfilePath: join(pipeline.cache.stagingDir, `${goodSha}.lock`) });
    const started = Date.now();
    const err = await refusal(pipeline.prepare(request("good", server.url("/good"))));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(err.reason).toBe("timeout");
    expect(err.message).toBe("timeout: another fetch of the same creative (another process at work) still held it after 2 s (creatives.fetchTimeoutS)");
    await release();
    db.close();
  });
});
