// Test media made on the spot with ffmpeg's lavfi sources: small and short, so tests stay fast.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { crc32, deflateSync } from "node:zlib";

export function ffmpeg(args: string[]): void {
  execFileSync("ffmpeg", ["-v", "error", "-y", ...args], { stdio: ["ignore", "ignore", "pipe"] });
}

/** A test video (testsrc2 + optional sine tone) of the given size and length. */
export function makeVideo(path: string, opts: { width: number; height: number; seconds: number; fps?: number; audio?: boolean; faststart?: boolean }): string {
  const fps = opts.fps ?? 10;
  const inputs = ["-f", "lavfi", "-i", `testsrc2=s=${opts.width}x${opts.height}:r=${fps}:d=${opts.seconds}`];
  if (opts.audio) inputs.push("-f", "lavfi", "-i", `sine=f=440:d=${opts.seconds}`);
  ffmpeg([...inputs, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", ...(opts.audio ? ["-c:a", "aac", "-shortest"] : []), ...(opts.faststart ? ["-movflags", "+faststart"] : []), path]);
  return path;
}

/** A still image; the format follows the extension (.png, .jpg). */
export function makeImage(path: string, width: number, height: number): string {
  ffmpeg(["-f", "lavfi", "-i", `testsrc2=s=${width}x${height}`, "-frames:v", "1", "-update", "1", path]);
  return path;
}

export function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

export interface Probed {
  width: number;
  height: number;
  codec: string;
  pixFmt: string;
  durationS: number | null;
  formatName: string;
  audioStreams: number;
}

/** What ffprobe says about a file, independently of the code under test. */
export function ffprobe(path: string): Probed {
  const out = execFileSync("ffprobe", ["-v", "error", "-show_format", "-show_streams", "-of", "json", path], { encoding: "utf8" });
  const json = JSON.parse(out) as { streams: { codec_type: string; codec_name: string; width?: number; height?: number; pix_fmt?: string }[]; format: { format_name: string; duration?: string } };
  const video = json.streams.find((s) => s.codec_type === "video");
  if (!video) throw new Error(`${path}: no video stream`);
  return {
    width: video.width ?? 0,
    height: video.height ?? 0,
    codec: video.codec_name,
    pixFmt: video.pix_fmt ?? "",
    durationS: json.format.duration ? Number(json.format.duration) : null,
    formatName: json.format.format_name,
    audioStreams: json.streams.filter((s) => s.codec_type === "audio").length,
  };
}

/** Decodes one frame of `path` to raw RGB24 bytes (row-major, 3 bytes a pixel). */
export function rgbFrame(path: string): Buffer {
  return execFileSync("ffmpeg", ["-v", "error", "-i", path, "-frames:v", "1", "-pix_fmt", "rgb24", "-f", "rawvideo", "-"], { maxBuffer: 64 * 1024 * 1024 });
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type, "latin1"), data])));
  return Buffer.concat([length, Buffer.from(type, "latin1"), data, crc]);
}

/**
 * A real, valid black PNG of any size, made in well under a second: 1-bit greyscale, so a
 * 16000×16000 frame is 32 MB of zeros before deflate and about 32 KB after.
 */
export function makeHugePng(path: string, width: number, height: number): string {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([1, 0, 0, 0, 0], 8); // bit depth 1, greyscale, deflate, no filter method, no interlace
  const row = 1 + Math.ceil(width / 8); // a filter byte (0: none), then the pixels
  const pixels = deflateSync(Buffer.alloc(row * height), { level: 1 });
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  writeFileSync(path, Buffer.concat([signature, pngChunk("IHDR", header), pngChunk("IDAT", pixels), pngChunk("IEND", Buffer.alloc(0))]));
  return path;
}
