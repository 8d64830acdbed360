// The cache trusts only regular files it made: links planted in staging, sources or renditions
// are removed, never written through or read as verified; cleanup leaves only what a resume needs.
import { lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CreativeEntry } from "../../../agent/playback/creatives/index.js";
import { tempDir } from "../../helpers/tmp.js";
import { makeVideo, sha256 } from "./media.js";
import { startServer, type TestServer } from "./server.js";
import { pipelineFor, testConfig, type Rig } from "./setup.js";

const tmp = tempDir("ledagent-cache-files-");
let server: TestServer;
let clip: string;
let clipEntry: CreativeEntry;
let rigCount = 0;
const rig = (): Rig => pipelineFor(testConfig(join(tmp.dir, `data-${++rigCount}`)));
const requests = (): number => server.requests.filter((r) => r.path === "/clip").length;

/** A file outside the cache that a planted link points at: it must come out unchanged. */
function victim(content: string | Buffer): string {
  const path = join(tmp.dir, `victim-${++rigCount}`);
  writeFileSync(path, content);
  return path;
}

beforeAll(async () => {
  mkdirSync(join(tmp.dir, "media"), { recursive: true });
  clip = makeVideo(join(tmp.dir, "media", "clip.mp4"), { width: 64, height: 36, seconds: 1 });
  server = await startServer({ "/clip": { body: readFileSync(clip) } });
  clipEntry = { id: "clip", url: server.url("/clip"), sha256: sha256(clip), durationMs: 1000, approved: true };
}, 60_000);

afterAll(async () => {
  await server?.close();
  tmp.cleanup();
});

describe("links planted in the cache", () => {
  it("a staging part that links elsewhere is removed, not written through", async () => {
    const { pipeline } = rig();
    const target = victim("precious configuration\n");
    symlinkSync(target, join(pipeline.cache.stagingDir, `${clipEntry.sha256}.part`));
    const c = await pipeline.prepare(clipEntry);
    expect(readFileSync(target, "utf8")).toBe("precious configuration\n");
    expect(c.sourceSha256).toBe(clipEntry.sha256);
    expect(lstatSync(c.sourcePath).isFile()).toBe(true);
  });

  it("a cached source replaced by a link (even to the right bytes) is not trusted: fetched again", async () => {
    const { pipeline } = rig();
    const first = await pipeline.prepare(clipEntry);
    const outside = victim(readFileSync(first.sourcePath));
    rmSync(first.sourcePath);
    symlinkSync(outside, first.sourcePath);
    expect(pipeline.cache.source(clipEntry.sha256)).toBeNull();
    expect(await pipeline.cache.holdsSourceBytes(clipEntry.sha256)).toBe(false);
    const before = requests();
    const again = await pipeline.prepare(clipEntry);
    expect(requests() - before).toBe(1);
    expect(lstatSync(again.sourcePath).isFile()).toBe(true);
    expect(readFileSync(outside).equals(readFileSync(clip))).toBe(true);
  });

  it("a cached rendition replaced by a link (even to the right bytes) is no cache hit: fitted again", async () => {
    const { pipeline } = rig();
    const first = await pipeline.prepare(clipEntry);
    const outside = victim(readFileSync(first.rendition.path));
    rmSync(first.rendition.path);
    symlinkSync(outside, first.rendition.path);
    const again = await pipeline.prepare(clipEntry);
    expect(again.cached).toBe(false);
    expect(lstatSync(again.rendition.path).isFile()).toBe(true);
    expect(sha256(again.rendition.path)).toBe(again.rendition.sha256);
  });

  it("ffmpeg writes into a private directory made for it, gone once the rendition is adopted", async () => {
    const { pipeline } = rig();
    const scratch = pipeline.cache.scratchPath("mp4");
    expect(lstatSync(join(scratch, "..")).mode & 0o777).toBe(0o700);
    expect(readdirSync(join(scratch, ".."))).toEqual([]);
    pipeline.cache.discardScratch(scratch);
    await pipeline.prepare(clipEntry);
    expect(readdirSync(pipeline.cache.stagingDir)).toEqual([]);
  });
});

describe("cleanup of staging", () => {
  const HOUR = 3600_000;

  it("keeps one resumable part per wanted source; drops stale strays, links, and parts of sources already whole", async () => {
    const { pipeline } = rig();
    const wanted = "a".repeat(64);
    const whole = await pipeline.prepare(clipEntry);
    const staging = pipeline.cache.stagingDir;
    const at = (name: string): string => join(staging, name);
    writeFileSync(at(`${wanted}.part`), "half a download");
    writeFileSync(at(`${clipEntry.sha256}.part`), "left over after the source was adopted");
    writeFileSync(at(`${"b".repeat(64)}.part`), "a creative no longer scheduled");
    writeFileSync(at("unverified-1234.part"), "a hand-run prepare that was killed");
    mkdirSync(at("render-old"));
    writeFileSync(at("render-old/out.mp4"), "an encode that was killed");
    writeFileSync(at("unverified-5678.part"), "a hand-run prepare still at work");
    symlinkSync(victim("x"), at(`${"c".repeat(64)}.part`));
    const old = new Date(Date.now() - 3 * HOUR);
    for (const name of [`${"b".repeat(64)}.part`, "unverified-1234.part", "render-old/out.mp4", "render-old"]) utimesSync(at(name), old, old);
    await pipeline.evict([wanted, clipEntry.sha256, "c".repeat(64)]);
    expect(readdirSync(staging).sort()).toEqual([`${wanted}.part`, "unverified-5678.part"]);
    expect((await pipeline.prepare(clipEntry)).cached).toBe(true);
    expect(whole.sourcePath).toBe(pipeline.cache.sourcePath(clipEntry.sha256));
  });

  it("a stray that is not yet stale may belong to another process at work: kept until it is", async () => {
    const { pipeline } = rig();
    const stray = join(pipeline.cache.stagingDir, `${"d".repeat(64)}.part`);
    writeFileSync(stray, "bytes");
    await pipeline.evict([]);
    expect(readdirSync(pipeline.cache.stagingDir)).toEqual([`${"d".repeat(64)}.part`]);
    const old = new Date(Date.now() - 3 * HOUR);
    utimesSync(stray, old, old);
    await pipeline.evict([]);
    expect(readdirSync(pipeline.cache.stagingDir)).toEqual([]);
  });
});
