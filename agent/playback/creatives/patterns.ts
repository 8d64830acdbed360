// Test patterns rendered at the panel's exact size as lossless RGB PNGs, so what the sending
// card maps is pixel for pixel what was drawn (a 4:2:0 video would smear 1 px grid lines).
import { mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { cacheEntry } from "./files.js";
import type { FfmpegPlan } from "./fit.js";
import type { Transcoder } from "./transcode.js";

export const PATTERN_NAMES = ["bars", "grid", "white", "red", "green", "blue", "gradient"] as const;
export type PatternName = (typeof PATTERN_NAMES)[number];

/** Grid pitch: 1 px lines every 16 px, starting at column and row 0. */
export const GRID_PITCH = 16;

export function isPatternName(name: string): name is PatternName {
  return (PATTERN_NAMES as readonly string[]).includes(name);
}

const SOLID: Record<"white" | "red" | "green" | "blue", string> = {
  white: "0xFFFFFF",
  red: "0xFF0000",
  green: "0x00FF00",
  blue: "0x0000FF",
};

/** The lavfi source graph drawing `name` at width × height. */
export function patternSource(name: PatternName, width: number, height: number): string {
  const size = `s=${width}x${height}`;
  switch (name) {
    case "bars":
      return `smptehdbars=${size},format=rgb24`;
    case "grid":
      return `color=c=black:${size},format=rgb24,drawgrid=w=${GRID_PITCH}:h=${GRID_PITCH}:t=1:c=white`;
    case "gradient": {
      // A left-to-right grey ramp, 0 at the first column and 255 at the last.
      const ramp = `round(X*255/max(W-1\\,1))`;
      return `color=c=black:${size},format=gbrp,geq=r='${ramp}':g='${ramp}':b='${ramp}',format=rgb24`;
    }
    default:
      return `color=c=${SOLID[name]}:${size},format=rgb24`;
  }
}

export function patternPlan(): FfmpegPlan {
  return { kind: "image", inputOptions: ["-f", "lavfi"], outputOptions: ["-frames:v", "1", "-c:v", "png", "-pix_fmt", "rgb24", "-update", "1", "-f", "image2"], extension: "png" };
}

export interface PatternDeps {
  transcoder: Transcoder;
  /** Where rendered patterns are kept (under the creatives directory). */
  dir: string;
}

/** Renders (or reuses) the pattern PNG for a panel and returns its path. */
export async function renderPattern(deps: PatternDeps, name: PatternName, width: number, height: number): Promise<string> {
  await mkdir(deps.dir, { recursive: true });
  const path = join(deps.dir, `${name}-${width}x${height}.png`);
  const existing = cacheEntry(path);
  if (existing.kind === "file" && existing.size > 0) return path;
  // ffmpeg follows a link at its output name: it writes into a directory made for it alone,
  // and the rename replaces whatever held the pattern's name (a link included) without following it.
  const scratchDir = await mkdtemp(join(deps.dir, "render-"));
  try {
    const scratch = join(scratchDir, "out.png");
    await deps.transcoder.run(patternPlan(), patternSource(name, width, height), scratch, null);
    await rename(scratch, path);
  } finally {
    await rm(scratchDir, { force: true, recursive: true });
  }
  return path;
}
