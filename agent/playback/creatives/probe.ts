// Inspects a file with ffprobe (JSON output, validated) and decides whether it can air:
// decodable, not empty, a picture in it, and as long as the schedule says.
import { execFile } from "node:child_process";
import { stat } from "node:fs/promises";
import { promisify } from "node:util";
import { z } from "zod";
import { CreativeRejected, errorLine } from "./errors.js";
import { checkTool, toolFailure } from "./tools.js";
import type { MediaInfo } from "./types.js";

const execFileAsync = promisify(execFile);

const ratio = z.string().regex(/^-?\d+(\.\d+)?[:/]\d+$/);
const numeric = z.union([z.number(), z.string()]).transform((v) => Number(v));

const streamSchema = z.object({
  codec_type: z.string().optional(),
  codec_name: z.string().optional(),
  width: z.number().int().optional(),
  height: z.number().int().optional(),
  sample_aspect_ratio: z.string().optional(),
  pix_fmt: z.string().optional(),
  r_frame_rate: z.string().optional(),
  avg_frame_rate: z.string().optional(),
  duration: numeric.optional(),
  nb_frames: numeric.optional(),
  tags: z.record(z.string(), z.string()).optional(),
  side_data_list: z.array(z.object({ rotation: z.number().optional() }).loose()).optional(),
  disposition: z.object({ attached_pic: z.number().optional() }).loose().optional(),
});

const probeSchema = z.object({
  streams: z.array(streamSchema.loose()).default([]),
  format: z.object({ format_name: z.string(), duration: numeric.optional() }).loose(),
});

type ProbeStream = z.infer<typeof streamSchema>;

/** ffprobe's container names for single still images. */
function isStillContainer(formatName: string): boolean {
  return formatName === "image2" || formatName.endsWith("_pipe");
}

function parseRatio(text: string | undefined): number | null {
  if (!text || !ratio.safeParse(text).success) return null;
  const [a, b] = text.split(/[:/]/).map(Number);
  return b > 0 && a > 0 ? a / b : null;
}

function rotationOf(stream: ProbeStream): number {
  const fromSideData = stream.side_data_list?.find((d) => typeof d.rotation === "number")?.rotation;
  const raw = fromSideData ?? Number(stream.tags?.rotate ?? 0);
  // Side data gives the counter-clockwise angle (negative for clockwise); normalise to 0..359.
  const degrees = fromSideData !== undefined ? -raw : raw;
  return (((Math.round(degrees / 90) * 90) % 360) + 360) % 360;
}

export interface ProbeDeps {
  ffprobePath: string;
  timeoutMs?: number;
}

/**
 * Runs ffprobe on `path`; refuses (with the reason) what is empty or cannot be decoded. When
 * ffprobe itself fails (cannot run, killed, silent, not ffprobe) the refusal is "tool-failed":
 * the input is only called undecodable by an ffprobe that works and says why.
 */
export async function probeMedia(deps: ProbeDeps, path: string): Promise<MediaInfo> {
  const size = (await stat(path)).size;
  if (size === 0) throw new CreativeRejected("empty", "the file has no bytes");
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync(deps.ffprobePath, ["-v", "error", "-show_format", "-show_streams", "-of", "json", path], {
      timeout: deps.timeoutMs ?? 60_000,
      maxBuffer: 16 * 1024 * 1024,
    }));
  } catch (err) {
    const broken = toolFailure(err, deps.ffprobePath);
    if (broken !== null) throw new CreativeRejected("tool-failed", `ffprobe failed to run: ${broken}`);
    await checkTool(deps.ffprobePath, "ffprobe");
    const stderr = (err as { stderr?: string }).stderr ?? "";
    // ffprobe's lines name the file and a demuxer instance; the reason is what follows.
    const lines = stderr.split("\n").map((l) => l.replace(/^\[[^\]]*\]\s*/, "").replace(`${path}: `, "").trim()).filter((l) => l !== "");
    const why = [...new Set(lines)].slice(-2).join("; ") || errorLine(err);
    throw new CreativeRejected("undecodable", `ffprobe cannot read it: ${why}`);
  }
  let parsed: z.infer<typeof probeSchema>;
  try {
    parsed = probeSchema.parse(JSON.parse(stdout));
  } catch (err) {
    // Output that is not ffprobe's JSON is first a question about the tool.
    await checkTool(deps.ffprobePath, "ffprobe");
    throw new CreativeRejected("undecodable", `ffprobe gave no usable description: ${errorLine(err)}`);
  }
  return describe(parsed);
}

function describe(parsed: z.infer<typeof probeSchema>): MediaInfo {
  const container = parsed.format.format_name;
  const pictures = parsed.streams.filter((s) => s.codec_type === "video" && s.disposition?.attached_pic !== 1);
  const video = pictures[0];
  if (!video) {
    const kinds = parsed.streams.map((s) => s.codec_type ?? "unknown");
    throw new CreativeRejected("no-video", `no picture in it (${container}; streams: ${kinds.join(", ") || "none"})`);
  }
  if (!video.width || !video.height) {
    throw new CreativeRejected("undecodable", `the ${video.codec_name ?? "unknown"} stream has no frame size`);
  }
  const still = isStillContainer(container);
  const fps = parseRatio(video.avg_frame_rate) ?? parseRatio(video.r_frame_rate);
  const seconds = [parsed.format.duration, video.duration].find((d) => d !== undefined && Number.isFinite(d) && d > 0);
  let durationMs: number | null = null;
  if (!still) {
    if (seconds === undefined) throw new CreativeRejected("empty", `the ${container} file has no duration`);
    durationMs = Math.round(seconds * 1000);
  }
  return {
    kind: still ? "image" : "video",
    container,
    videoCodec: video.codec_name ?? "unknown",
    width: video.width,
    height: video.height,
    sampleAspect: parseRatio(video.sample_aspect_ratio) ?? 1,
    rotation: rotationOf(video),
    fps: still ? null : fps,
    durationMs,
    hasAudio: parsed.streams.some((s) => s.codec_type === "audio"),
    pixelFormat: video.pix_fmt ?? "unknown",
  };
}

export interface SourceLimits {
  /** creatives.maxSourcePixels: width × height of one frame. */
  maxPixels: number;
  /** creatives.maxSourcePixelRate: width × height × fps. */
  maxPixelRate: number;
}

/**
 * Refuses a source too big to fit without hogging the box: decoding a 16000×16000 frame takes
 * gigabytes and minutes. Runs on the probe's answer, before any transcode is queued.
 */
export function checkSourceSize(info: MediaInfo, limits: SourceLimits): void {
  const pixels = info.width * info.height;
  const size = `${info.width}×${info.height}`;
  if (pixels > limits.maxPixels) {
    throw new CreativeRejected("too-many-pixels", `${size} is ${pixels} pixels a frame, over the ${limits.maxPixels} limit (creatives.maxSourcePixels)`);
  }
  if (info.kind === "video" && info.fps !== null && pixels * info.fps > limits.maxPixelRate) {
    const rate = Math.round(pixels * info.fps);
    throw new CreativeRejected("too-many-pixels", `${size} at ${+info.fps.toFixed(3)} fps is ${rate} pixels a second, over the ${limits.maxPixelRate} limit (creatives.maxSourcePixelRate)`);
  }
}

/** Refuses a video whose length disagrees with the schedule's by more than the tolerance. */
export function checkDuration(info: MediaInfo, scheduledMs: number | null, toleranceMs: number): void {
  if (info.kind !== "video" || info.durationMs === null || scheduledMs === null) return;
  const off = Math.abs(info.durationMs - scheduledMs);
  if (off > toleranceMs) {
    throw new CreativeRejected(
      "duration-mismatch",
      `the video lasts ${info.durationMs} ms, the schedule says ${scheduledMs} ms (tolerance ${toleranceMs} ms, creatives.durationToleranceMs)`,
    );
  }
}

// Real footage has pixels between 1:2 and 2:1 (anamorphic DV is 1.46:1, 2:1 at most) and
// pictures between 1:16 and 16:1 (LED banners and tickers). 1/8..8 for pixels and 1:32..32:1
// for the picture leave room for every delivery an operator would accept, while a file outside
// them (a remux with `-aspect 200000:1`) costs minutes of scaling for a picture nobody can air.
const MAX_SAMPLE_ASPECT = 8;
const MAX_DISPLAY_ASPECT = 32;

function ratioText(value: number): string {
  return value >= 1 ? `${+value.toFixed(2)}:1` : `1:${+(1 / value).toFixed(2)}`;
}

/** Refuses pixels or a picture too far from square to fit at a sane cost (bounds above). */
export function checkAspect(info: MediaInfo): void {
  const sar = info.sampleAspect;
  if (sar > MAX_SAMPLE_ASPECT || sar < 1 / MAX_SAMPLE_ASPECT) {
    throw new CreativeRejected("bad-aspect", `the pixels are ${ratioText(sar)} (sample aspect ratio), outside 1:${MAX_SAMPLE_ASPECT} … ${MAX_SAMPLE_ASPECT}:1`);
  }
  const display = (info.width * sar) / info.height;
  if (display > MAX_DISPLAY_ASPECT || display < 1 / MAX_DISPLAY_ASPECT) {
    const wide = display >= 1 ? "wide" : "tall";
    throw new CreativeRejected("bad-aspect", `the picture is ${ratioText(display)} ${wide} (display aspect ratio), outside 1:${MAX_DISPLAY_ASPECT} … ${MAX_DISPLAY_ASPECT}:1`);
  }
}
