// Sources too big to fit are refused on the probe's answer, before any transcode is started:
// a frame over creatives.maxSourcePixels, or a pixel rate over creatives.maxSourcePixelRate.
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../../../agent/config.js";
import { resolveMediaTools, type MediaTools, type PrepareProgress } from "../../../agent/playback/creatives/index.js";
import { findOnPath } from "../../../agent/playback/creatives/tools.js";
import { tempDir } from "../../helpers/tmp.js";
import { makeHugePng, makeVideo, sha256 } from "./media.js";
import { pipelineFor, refusal, testConfig } from "./setup.js";

const tmp = tempDir("ledagent-limits-");
const ffmpegLog = join(tmp.dir, "ffmpeg-runs.log");
let clip: string;
let huge: string;
let tools: MediaTools;
let rigCount = 0;

/** The real ffmpeg behind a wrapper that notes every run: no line, no transcode started. */
function loggingFfmpeg(): MediaTools {
  const real = resolveMediaTools({ env: { PATH: process.env.PATH }, ffmpegStaticPath: () => null });
  const wrapper = join(tmp.dir, "ffmpeg");
  writeFileSync(wrapper, `#!/bin/sh\necho "$*" >> '${ffmpegLog}'\nexec '${findOnPath("ffmpeg", process.env.PATH) ?? "ffmpeg"}' "$@"\n`);
  chmodSync(wrapper, 0o755);
  return { ...real, ffmpeg: { path: wrapper, source: "env", found: true } };
}

const transcodes = (): string[] => (existsSync(ffmpegLog) ? readFileSync(ffmpegLog, "utf8").split("\n").filter((l) => l.includes("-i ")) : []);

async function prepare(file: string, limits: Partial<Config["creatives"]>, durationMs: number | null = 1000): Promise<{ stages: PrepareProgress["stage"][]; work: Promise<unknown>; rendered: () => string[] }> {
  const { pipeline } = pipelineFor(testConfig(join(tmp.dir, `data-${++rigCount}`), {}, limits), { tools });
  const stages: PrepareProgress["stage"][] = [];
  const work = pipeline.prepare({ id: "c", url: pathToFileURL(file).href, sha256: sha256(file), durationMs }, (p) => stages.push(p.stage));
  return { stages, work, rendered: () => readdirSync(pipeline.cache.renditionsDir) };
}

beforeAll(() => {
  mkdirSync(join(tmp.dir, "media"));
  clip = makeVideo(join(tmp.dir, "media", "clip.mp4"), { width: 160, height: 90, seconds: 1, fps: 10 });
  huge = makeHugePng(join(tmp.dir, "media", "huge.png"), 16000, 16000);
  tools = loggingFfmpeg();
}, 60_000);

afterAll(() => tmp.cleanup());

describe("source size limits", () => {
  it("a real 16000×16000 image under the default limits: too-many-pixels, no transcode started", async () => {
    const before = transcodes().length;
    const { stages, work, rendered } = await prepare(huge, {}, null);
    const err = await refusal(work);
    expect(err.reason).toBe("too-many-pixels");
    expect(err.message).toBe("too-many-pixels: 16000×16000 is 256000000 pixels a frame, over the 33177600 limit (creatives.maxSourcePixels)");
    expect(stages).not.toContain("fit");
    expect(transcodes().length).toBe(before);
    expect(rendered()).toEqual([]);
  });

  it("a frame one pixel over maxSourcePixels: too-many-pixels naming the size", async () => {
    const before = transcodes().length;
    const { stages, work } = await prepare(clip, { maxSourcePixels: 160 * 90 - 1 });
    const err = await refusal(work);
    expect(err.reason).toBe("too-many-pixels");
    expect(err.message).toMatch(/160×90 is 14400 pixels a frame, over the 14399 limit \(creatives\.maxSourcePixels\)/);
    expect(stages).toContain("probe");
    expect(stages).not.toContain("fit");
    expect(transcodes().length).toBe(before);
  });

  it("a pixel rate one over maxSourcePixelRate: too-many-pixels naming the rate", async () => {
    const before = transcodes().length;
    const { stages, work } = await prepare(clip, { maxSourcePixelRate: 160 * 90 * 10 - 1 });
    const err = await refusal(work);
    expect(err.reason).toBe("too-many-pixels");
    expect(err.message).toMatch(/160×90 at 10 fps is 144000 pixels a second, over the 143999 limit \(creatives\.maxSourcePixelRate\)/);
    expect(stages).not.toContain("fit");
    expect(transcodes().length).toBe(before);
  });

  it("a source exactly at both limits is fitted", async () => {
    const before = transcodes().length;
    const { work, rendered } = await prepare(clip, { maxSourcePixels: 160 * 90, maxSourcePixelRate: 160 * 90 * 10 });
    await work;
    expect(transcodes().length).toBe(before + 1);
    expect(rendered()).toHaveLength(1);
  });
});
