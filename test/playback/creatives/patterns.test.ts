import { lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PATTERN_NAMES, isPatternName } from "../../../agent/playback/creatives/index.js";
import { tempDir } from "../../helpers/tmp.js";
import { ffprobe, rgbFrame } from "./media.js";
import { pipelineFor, testConfig } from "./setup.js";

const tmp = tempDir("ledagent-patterns-");
afterAll(() => tmp.cleanup());

const W = 99;
const H = 37;
const { pipeline } = pipelineFor(testConfig(join(tmp.dir, "data"), { width: W, height: H }));
const pixel = (frame: Buffer, x: number, y: number): number[] => [...frame.subarray((y * W + x) * 3, (y * W + x) * 3 + 3)];

describe("test patterns", () => {
  it("renders every pattern as an RGB PNG at the exact (odd) panel size", async () => {
    for (const name of PATTERN_NAMES) {
      const path = await pipeline.renderPattern(name);
      const p = ffprobe(path);
      expect([name, p.width, p.height, p.codec, p.pixFmt]).toEqual([name, W, H, "png", "rgb24"]);
    }
  });

  it("solid colours are pure", async () => {
    const expected: Record<string, number[]> = { white: [255, 255, 255], red: [255, 0, 0], green: [0, 255, 0], blue: [0, 0, 255] };
    for (const [name, rgb] of Object.entries(expected)) {
      if (!isPatternName(name)) throw new Error(name);
      const frame = rgbFrame(await pipeline.renderPattern(name));
      expect([pixel(frame, 0, 0), pixel(frame, W - 1, H - 1)]).toEqual([rgb, rgb]);
    }
  });

  it("grid: 1 px white lines every 16 px from column and row 0, black between", async () => {
    const frame = rgbFrame(await pipeline.renderPattern("grid"));
    for (let x = 0; x < W; x++) {
      const onLine = x % 16 === 0;
      expect([x, pixel(frame, x, 5)]).toEqual([x, onLine ? [255, 255, 255] : [0, 0, 0]]);
    }
    for (let y = 0; y < H; y++) expect([y, pixel(frame, 5, y)]).toEqual([y, y % 16 === 0 ? [255, 255, 255] : [0, 0, 0]]);
  });

  it("gradient runs from black at the left edge to white at the right, never decreasing", async () => {
    const frame = rgbFrame(await pipeline.renderPattern("gradient"));
    const row = Array.from({ length: W }, (_, x) => pixel(frame, x, 10)[0]);
    expect([row[0], row[W - 1]]).toEqual([0, 255]);
    expect(row.every((v, i) => i === 0 || v >= row[i - 1])).toBe(true);
  });

  it("bars: the top row holds the seven colour bars (and the grey edges)", async () => {
    const frame = rgbFrame(await pipeline.renderPattern("bars"));
    const colours = new Set(Array.from({ length: W }, (_, x) => pixel(frame, x, 5).join(",")));
    expect(colours.size).toBeGreaterThanOrEqual(8);
  });

  it("knows its names", () => {
    expect(isPatternName("grid")).toBe(true);
    expect(isPatternName("plaid")).toBe(false);
  });

  it("a link planted under a pattern's name is replaced by the rendered file, its target untouched", async () => {
    const rig = pipelineFor(testConfig(join(tmp.dir, "planted"), { width: 16, height: 8 }));
    const victim = join(tmp.dir, "victim");
    writeFileSync(victim, "precious\n");
    const dir = join(tmp.dir, "planted", "creatives", "patterns");
    mkdirSync(dir, { recursive: true });
    symlinkSync(victim, join(dir, "red-16x8.png"));
    const path = await rig.pipeline.renderPattern("red");
    expect(lstatSync(path).isFile()).toBe(true);
    expect(ffprobe(path).width).toBe(16);
    expect(readFileSync(victim, "utf8")).toBe("precious\n");
  });
});
