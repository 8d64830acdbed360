// The demo's creatives, made with ffmpeg from its own test sources: a few ads from different
// customers and categories (one competing pair), at sizes other than the panel's so the agent's
// fitting shows, and house content (a loop and a still). Made once and kept: a later demo run
// checks each file's hash and remakes only what is missing or changed.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface DemoCreativeSpec {
  id: string;
  /** The ffmpeg lavfi source and the size it is made at. */
  source: string;
  size: string;
  /** 0 for a still (PNG). */
  seconds: number;
}

export interface DemoAd {
  creative: string;
  campaign: string;
  customer: string;
  category: string;
  /** Categories it must never play next to (competitor separation). */
  separateFrom: string[];
  playsPerHour: number;
}

/** The ads on sale in the demo; the two coffee brands compete and are kept apart. */
export const DEMO_ADS: readonly DemoAd[] = [
  { creative: "acme-coffee-6s", campaign: "acme-coffee-winter", customer: "acme-coffee", category: "coffee", separateFrom: ["coffee"], playsPerHour: 60 },
  { creative: "brewhouse-6s", campaign: "brewhouse-launch", customer: "brewhouse", category: "coffee", separateFrom: ["coffee"], playsPerHour: 60 },
  { creative: "metro-bank-8s", campaign: "metro-bank-savings", customer: "metro-bank", category: "finance", separateFrom: [], playsPerHour: 40 },
  { creative: "city-fest-5s", campaign: "city-fest-weekend", customer: "city-council", category: "events", separateFrom: [], playsPerHour: 30 },
];

/** House content: plays between paid items, recorded under the `fill` customer. */
export const DEMO_FILL = ["house-loop-4s", "house-welcome"] as const;

export const DEMO_CREATIVES: readonly DemoCreativeSpec[] = [
  { id: "acme-coffee-6s", source: "testsrc2", size: "640x360", seconds: 6 },
  { id: "brewhouse-6s", source: "rgbtestsrc", size: "480x480", seconds: 6 },
  { id: "metro-bank-8s", source: "smptehdbars", size: "640x360", seconds: 8 },
  { id: "city-fest-5s", source: "mandelbrot", size: "320x240", seconds: 5 },
  { id: "house-loop-4s", source: "cellauto", size: "640x320", seconds: 4 },
  { id: "house-welcome", source: "testsrc", size: "768x384", seconds: 0 },
];

export interface DemoMedia {
  id: string;
  file: string;
  sha256: string;
  /** The still's play time, else the clip's length. */
  durationMs: number;
}

/** A still shows this long each time it plays. */
const STILL_MS = 5000;

const recipeOf = (c: DemoCreativeSpec): string => `${c.source}:${c.size}:${c.seconds}`;

export interface MediaProgress {
  /** Hears of each creative made now. */
  onMade?: (id: string) => void;
  /** True once the demo is stopping: no more are made. */
  stopped?: () => boolean;
}

/** Makes (or finds) every demo creative in `dir`. */
export async function demoMedia(ffmpeg: string, dir: string, progress: MediaProgress = {}): Promise<DemoMedia[]> {
  mkdirSync(dir, { recursive: true });
  const manifestPath = join(dir, "manifest.json");
  const manifest = readManifest(manifestPath);
  const media: DemoMedia[] = [];
  for (const spec of DEMO_CREATIVES) {
    const file = join(dir, `${spec.id}.${spec.seconds === 0 ? "png" : "mp4"}`);
    const known = manifest[spec.id];
    let sha256 = known?.recipe === recipeOf(spec) && existsSync(file) ? sha256Of(file) : null;
    if (sha256 === null || sha256 !== known?.sha256) {
      if (progress.stopped?.()) break;
      await make(ffmpeg, spec, file);
      sha256 = sha256Of(file);
      manifest[spec.id] = { recipe: recipeOf(spec), sha256 };
      progress.onMade?.(spec.id);
    }
    media.push({ id: spec.id, file, sha256, durationMs: spec.seconds === 0 ? STILL_MS : spec.seconds * 1000 });
  }
  writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  return media;
}

async function make(ffmpeg: string, spec: DemoCreativeSpec, file: string): Promise<void> {
  const input = `${spec.source}=size=${spec.size}:rate=30`;
  const part = `${file}.part${spec.seconds === 0 ? ".png" : ".mp4"}`;
  const output = spec.seconds === 0 ? ["-frames:v", "1"] : ["-t", String(spec.seconds), "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"];
  try {
    await run(ffmpeg, ["-loglevel", "error", "-y", "-f", "lavfi", "-i", input, ...output, part]);
  } catch (err) {
    rmSync(part, { force: true });
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`ffmpeg could not make the demo creative ${spec.id}: ${stderr || (err as Error).message}`);
  }
  renameSync(part, file);
}

type Manifest = Record<string, { recipe?: unknown; sha256?: unknown } | undefined>;

/** What was made before; anything unreadable or of the wrong shape is as if nothing was. */
function readManifest(path: string): Manifest {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, "utf8"));
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Manifest) : {};
  } catch {
    return {};
  }
}

function sha256Of(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}
