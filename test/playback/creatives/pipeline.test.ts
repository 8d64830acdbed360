import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CreativeEntry } from "../../../agent/playback/creatives/index.js";
import { tempDir } from "../../helpers/tmp.js";
import { ffprobe, makeImage, makeVideo, rgbFrame, sha256 } from "./media.js";
import { pipelineFor, refusal, testConfig, type Rig } from "./setup.js";
import { startServer, type TestServer } from "./server.js";

const tmp = tempDir("ledagent-creatives-");
const media = join(tmp.dir, "media");
let server: TestServer;
const files: Record<string, string> = {};

function entry(id: string, file: string, durationMs: number, extra: Partial<CreativeEntry> = {}): CreativeEntry {
  return { id, url: server.url(`/${id}`), sha256: sha256(file), durationMs, approved: true, ...extra };
}

let rigCount = 0;
function rig(panel: Parameters<typeof testConfig>[1] = {}, creatives: Parameters<typeof testConfig>[2] = {}): Rig {
  return pipelineFor(testConfig(join(tmp.dir, `data-${++rigCount}`), panel, creatives));
}

beforeAll(async () => {
  const { mkdirSync } = await import("node:fs");
  mkdirSync(media, { recursive: true });
  files.clip = makeVideo(join(media, "clip.mp4"), { width: 160, height: 90, seconds: 2 });
  files.audio = makeVideo(join(media, "audio.mp4"), { width: 160, height: 90, seconds: 2, audio: true });
  files.png = makeImage(join(media, "still.png"), 120, 120);
  files.jpeg = makeImage(join(media, "still.jpg"), 200, 100);
  // Ten minutes cheaply: 32×18 at 1 fps.
  files.long = makeVideo(join(media, "long.mp4"), { width: 32, height: 18, seconds: 600, fps: 1 });
  // moov at the end (ffmpeg's default): cutting the tail loses the index.
  files.truncatedTail = join(media, "truncated-tail.mp4");
  copyFileSync(files.clip, files.truncatedTail);
  truncateSync(files.truncatedTail, Math.floor(statSync(files.clip).size * 0.6));
  // moov at the front: the index survives, the frames do not.
  const faststart = makeVideo(join(media, "faststart.mp4"), { width: 160, height: 90, seconds: 6, faststart: true });
  files.truncatedFront = join(media, "truncated-front.mp4");
  copyFileSync(faststart, files.truncatedFront);
  truncateSync(files.truncatedFront, Math.floor(statSync(faststart).size * 0.4));
  files.random = join(media, "random.mp4");
  writeFileSync(files.random, randomBytes(64 * 1024));
  files.empty = join(media, "empty.mp4");
  writeFileSync(files.empty, "");
  server = await startServer({
    ...Object.fromEntries(Object.entries(files).map(([id, path]) => [`/${id}`, { body: readFileSync(path) }])),
    "/clip-cut": { body: readFileSync(files.clip), cutAfter: 20_000, cuts: 1 },
  });
}, 120_000);

afterAll(async () => {
  await server?.close();
  tmp.cleanup();
});

describe("fitting to the panel", () => {
  const panels = [
    { name: "landscape", width: 96, height: 48 },
    { name: "portrait", width: 48, height: 96 },
    { name: "very wide", width: 252, height: 36 },
    { name: "odd width", width: 101, height: 48 },
    { name: "odd both", width: 99, height: 37 },
  ];
  for (const panel of panels) {
    it(`fits a video exactly to a ${panel.name} ${panel.width}×${panel.height} panel, and mpv-ready H.264 MP4`, async () => {
      const { pipeline } = rig({ width: panel.width, height: panel.height });
      const c = await pipeline.prepare(entry("clip", files.clip, 2000));
      const p = ffprobe(c.rendition.path);
      expect([p.width, p.height]).toEqual([panel.width, panel.height]);
      expect(p.codec).toBe("h264");
      expect(p.formatName).toContain("mp4");
      expect(p.pixFmt).toBe(panel.width % 2 || panel.height % 2 ? "yuv444p" : "yuv420p");
      expect(p.durationS).toBeCloseTo(2, 0);
      expect(p.audioStreams).toBe(0);
      expect(c.rendition.sha256).toBe(sha256(c.rendition.path));
      expect(c.sourceSha256).toBe(sha256(files.clip));
      expect(c.playMs).toBeGreaterThan(1800);
    });
  }

  it("mpv plays an odd-size (4:4:4) rendition to its end", async () => {
    const { pipeline } = rig({ width: 99, height: 37 });
    const c = await pipeline.prepare(entry("clip", files.clip, 2000));
    const out = execFileSync("mpv", ["--no-config", "--vo=null", "--ao=null", "--untimed", "--msg-level=all=error,cplayer=info", c.rendition.path], { encoding: "utf8", timeout: 20_000 });
    expect(out).toContain("End of file");
  });

  for (const [name, ext] of [["png", "png"], ["jpeg", "jpg"]] as const) {
    it(`fits a ${name} still to an exact-size PNG that plays for the creative's durationMs`, async () => {
      const { pipeline } = rig({ width: 101, height: 48 });
      const c = await pipeline.prepare(entry(name, files[name], 7000));
      expect(c.source.kind).toBe("image");
      expect(c.rendition.kind).toBe("image");
      expect(c.rendition.path.endsWith(".png")).toBe(true);
      expect(c.playMs).toBe(7000);
      const p = ffprobe(c.rendition.path);
      expect([p.width, p.height, p.codec]).toEqual([101, 48, "png"]);
      expect(ext).toBeTruthy();
    });
  }

  it("contain pads with the background colour; cover fills the panel", async () => {
    // 120×120 square on a 96×48 panel: contain leaves side bars, cover has none.
    const contain = await rig({ width: 96, height: 48, fit: "contain", background: "#ff0000" }).pipeline.prepare(entry("png", files.png, 5000));
    const cover = await rig({ width: 96, height: 48, fit: "cover", background: "#ff0000" }).pipeline.prepare(entry("png", files.png, 5000));
    const pixel = (frame: Buffer, x: number, y: number): number[] => [...frame.subarray((y * 96 + x) * 3, (y * 96 + x) * 3 + 3)];
    expect(pixel(rgbFrame(contain.rendition.path), 2, 24)).toEqual([255, 0, 0]);
    expect(pixel(rgbFrame(contain.rendition.path), 93, 24)).toEqual([255, 0, 0]);
    expect(pixel(rgbFrame(cover.rendition.path), 2, 24)).not.toEqual([255, 0, 0]);
  });

  it("keeps audio only when creatives.audio is set", async () => {
    const silent = await rig().pipeline.prepare(entry("audio", files.audio, 2000));
    const loud = await rig({}, { audio: true }).pipeline.prepare(entry("audio", files.audio, 2000));
    expect(ffprobe(silent.rendition.path).audioStreams).toBe(0);
    expect(ffprobe(loud.rendition.path).audioStreams).toBe(1);
  });

  it("resumes a cut download and fits what verifies", async () => {
    const c = await rig().pipeline.prepare({ ...entry("clip", files.clip, 2000), url: server.url("/clip-cut") });
    expect(server.requests.filter((r) => r.path === "/clip-cut").map((r) => r.range)).toEqual([undefined, "bytes=20000-"]);
    expect(c.sourceSha256).toBe(sha256(files.clip));
    expect(ffprobe(c.rendition.path).width).toBe(96);
  });

  it("fetches file: URLs too", async () => {
    const c = await rig().pipeline.prepare({ id: "local", url: pathToFileURL(files.clip).href, sha256: sha256(files.clip), durationMs: 2000 });
    expect(ffprobe(c.rendition.path).width).toBe(96);
  });
});

describe("refusals, each with its reason", () => {
  const cases: [string, string, number, string][] = [
    ["a truncated MP4 (index lost)", "truncatedTail", 2000, "undecodable"],
    ["a truncated MP4 (frames lost)", "truncatedFront", 6000, "undecodable"],
    ["random bytes", "random", 2000, "undecodable"],
    ["a zero-length file", "empty", 2000, "empty"],
    ["a 10-minute file for a 15 s slot", "long", 15_000, "duration-mismatch"],
  ];
  for (const [what, id, durationMs, reason] of cases) {
    it(`refuses ${what}`, async () => {
      const { pipeline } = rig();
      const err = await refusal(pipeline.prepare(entry(id, files[id], durationMs)));
      expect(err.reason, err.message).toBe(reason);
      expect(readdirSync(pipeline.cache.renditionsDir)).toEqual([]);
      // Undecodable bytes are not kept; a good file of the wrong length is (the schedule may be fixed).
      expect(readdirSync(pipeline.cache.sourcesDir)).toEqual(reason === "duration-mismatch" ? [sha256(files[id])] : []);
    });
  }

  it("refuses a 404 without retrying it", async () => {
    const { pipeline } = rig();
    const err = await refusal(pipeline.prepare({ id: "gone", url: server.url("/gone"), sha256: "a".repeat(64), durationMs: 1000 }));
    expect(err.reason).toBe("not-found");
    expect(server.requests.filter((r) => r.path === "/gone")).toHaveLength(1);
  });

  it("refuses bytes that do not hash to the schedule's sha256, and keeps nothing", async () => {
    const { pipeline } = rig();
    const err = await refusal(pipeline.prepare({ ...entry("clip", files.clip, 2000), sha256: sha256(files.png) }));
    expect(err.reason).toBe("hash-mismatch");
    expect(readdirSync(pipeline.cache.sourcesDir)).toEqual([]);
    expect(readdirSync(pipeline.cache.stagingDir)).toEqual([]);
  });

  it("a storage failure is an io-error outcome, not a crash", async () => {
    const { pipeline } = rig();
    rmSync(pipeline.cache.sourcesDir, { recursive: true });
    writeFileSync(pipeline.cache.sourcesDir, "not a directory");
    const [outcome] = await pipeline.prepareSchedule([entry("clip", files.clip, 2000)]);
    expect(outcome).toMatchObject({ id: "clip", ok: false, reason: "io-error" });
  });

  it("prepareSchedule reports each creative, never fetches unapproved ones", async () => {
    const { pipeline } = rig();
    const before = server.requests.length;
    const outcomes = await pipeline.prepareSchedule([
      entry("clip", files.clip, 2000),
      entry("random", files.random, 2000),
      entry("png", files.png, 5000, { approved: false }),
    ]);
    expect(outcomes.map((o) => [o.id, o.ok ? "ok" : o.reason])).toEqual([["clip", "ok"], ["random", "undecodable"], ["png", "not-approved"]]);
    expect(server.requests.slice(before).map((r) => r.path)).toEqual(["/clip", "/random"]);
  });
});

describe("the rendition cache", () => {
  it("never fits the same source for the same panel twice, even when asked at once", async () => {
    const { pipeline } = rig();
    const e = entry("clip", files.clip, 2000);
    const [a, b] = await Promise.all([pipeline.prepare(e), pipeline.prepare({ ...e, id: "clip-again" })]);
    expect(a.rendition.path).toBe(b.rendition.path);
    expect(b.id).toBe("clip-again");
    const again = await pipeline.prepare(e);
    expect(again.cached).toBe(true);
    expect(again.rendition.sha256).toBe(a.rendition.sha256);
    expect(readdirSync(pipeline.cache.renditionsDir)).toHaveLength(1);
  });

  it("names files after hashes only", async () => {
    const { pipeline } = rig();
    const c = await pipeline.prepare(entry("clip", files.clip, 2000));
    expect(readdirSync(pipeline.cache.sourcesDir)).toEqual([c.sourceSha256]);
    expect(readdirSync(pipeline.cache.renditionsDir)[0]).toMatch(/^[0-9a-f]{64}-[0-9a-f]{16}\.mp4$/);
  });

  it("re-fits a rendition whose file changed on disk", async () => {
    const { pipeline } = rig();
    const c = await pipeline.prepare(entry("clip", files.clip, 2000));
    writeFileSync(c.rendition.path, "damaged");
    const again = await pipeline.prepare(entry("clip", files.clip, 2000));
    expect(again.cached).toBe(false);
    expect(sha256(again.rendition.path)).toBe(again.rendition.sha256);
  });

  it("evicts everything the schedule no longer references, and keeps what it does", async () => {
    const { pipeline } = rig();
    const kept = await pipeline.prepare(entry("clip", files.clip, 2000));
    const dropped = await pipeline.prepare(entry("png", files.png, 5000));
    // A stray left by a killed run, older than the age at which strays count as abandoned.
    const stray = join(pipeline.cache.stagingDir, "render-stray.mp4");
    writeFileSync(stray, "x");
    utimesSync(stray, new Date(Date.now() - 3 * 3600_000), new Date(Date.now() - 3 * 3600_000));
    const result = await pipeline.evict([kept.sourceSha256]);
    expect(result.removedFiles).toBe(3);
    expect(existsSync(kept.rendition.path) && existsSync(kept.sourcePath)).toBe(true);
    expect(existsSync(dropped.rendition.path) || existsSync(dropped.sourcePath)).toBe(false);
    expect((await pipeline.prepare(entry("clip", files.clip, 2000))).cached).toBe(true);
  });

  it("a new panel profile gets its own rendition from the cached source", async () => {
    const dataDir = join(tmp.dir, "profiles");
    const first = pipelineFor(testConfig(dataDir, { width: 96, height: 48 }));
    const a = await first.pipeline.prepare(entry("clip", files.clip, 2000));
    first.db.close();
    const before = server.requests.length;
    const second = pipelineFor(testConfig(dataDir, { width: 64, height: 64 }));
    const b = await second.pipeline.prepare(entry("clip", files.clip, 2000));
    expect(server.requests.length).toBe(before);
    expect(b.rendition.path).not.toBe(a.rendition.path);
    expect([ffprobe(b.rendition.path).width, ffprobe(b.rendition.path).height]).toEqual([64, 64]);
    second.db.close();
  });
});
