// Pure: how a source of a given shape becomes exactly panel.width × panel.height, and the
// ffmpeg arguments that do it. No I/O, so the geometry is tested on its own and the bench
// can run the very same arguments without the pipeline around them.
import type { MediaInfo, RenditionProfile } from "./types.js";

/** Bump when the arguments below change: cached renditions of older recipes are re-fitted. */
export const RENDITION_RECIPE = 2;

export interface Placement {
  /** Size the source is scaled to (square pixels). */
  scaledWidth: number;
  scaledHeight: number;
  /** Where the scaled picture's top-left corner lands on the panel (negative: cropped off). */
  x: number;
  y: number;
}

type Shape = Pick<MediaInfo, "width" | "height" | "sampleAspect" | "rotation">;

/** The picture's shape as it should look: non-square pixels widened, quarter turns applied. */
export function displaySize(source: Shape): { width: number; height: number } {
  const width = source.width * (source.sampleAspect > 0 ? source.sampleAspect : 1);
  return source.rotation === 90 || source.rotation === 270 ? { width: source.height, height: width } : { width, height: source.height };
}

export function placeOnPanel(source: Shape, panel: Pick<RenditionProfile, "width" | "height" | "fit">): Placement {
  const shown = displaySize(source);
  if (panel.fit === "stretch") return { scaledWidth: panel.width, scaledHeight: panel.height, x: 0, y: 0 };
  const byWidth = panel.width / shown.width;
  const byHeight = panel.height / shown.height;
  const scale = panel.fit === "contain" ? Math.min(byWidth, byHeight) : Math.max(byWidth, byHeight);
  // The side that decides the scale matches the panel exactly; the other rounds.
  let scaledWidth = byWidth === scale ? panel.width : Math.max(1, Math.round(shown.width * scale));
  let scaledHeight = byHeight === scale ? panel.height : Math.max(1, Math.round(shown.height * scale));
  if (panel.fit === "contain") {
    scaledWidth = Math.min(scaledWidth, panel.width);
    scaledHeight = Math.min(scaledHeight, panel.height);
  } else {
    scaledWidth = Math.max(scaledWidth, panel.width);
    scaledHeight = Math.max(scaledHeight, panel.height);
  }
  return {
    scaledWidth,
    scaledHeight,
    x: Math.floor((panel.width - scaledWidth) / 2),
    y: Math.floor((panel.height - scaledHeight) / 2),
  };
}

export interface Crop {
  width: number;
  height: number;
  x: number;
  y: number;
}

/**
 * For `cover`: the part of the frame (in stored pixels, as the filters see it after ffmpeg's
 * automatic rotation) that will show on the panel, centred. Cropping it before scaling bounds
 * the scale's work by the panel and the source: scaling first would make a frame as large as
 * the panel's short side times the source's aspect (97920×384 for SAR 765:4).
 */
export function coverCrop(source: Shape, panel: Pick<RenditionProfile, "width" | "height">): Crop {
  const turned = source.rotation === 90 || source.rotation === 270;
  const frameWidth = turned ? source.height : source.width;
  const frameHeight = turned ? source.width : source.height;
  const sar = source.sampleAspect > 0 ? source.sampleAspect : 1;
  // ffmpeg's transpose inverts the sample aspect along with the frame.
  const pixelAspect = turned ? 1 / sar : sar;
  const panelAspect = panel.width / panel.height;
  let width = frameWidth;
  let height = frameHeight;
  if ((frameWidth * pixelAspect) / frameHeight > panelAspect) width = Math.min(frameWidth, Math.max(1, Math.round((frameHeight * panelAspect) / pixelAspect)));
  else height = Math.min(frameHeight, Math.max(1, Math.round((frameWidth * pixelAspect) / panelAspect)));
  return { width, height, x: Math.floor((frameWidth - width) / 2), y: Math.floor((frameHeight - height) / 2) };
}

function cropFilter(c: Crop): string {
  return `crop=${c.width}:${c.height}:${c.x}:${c.y}:exact=1`;
}

/** What a cover fit looks like once cropped: the panel exactly, nothing off its edges. */
function coveredPanel(profile: Pick<RenditionProfile, "width" | "height">): Placement {
  return { scaledWidth: profile.width, scaledHeight: profile.height, x: 0, y: 0 };
}

/**
 * H.264 4:2:0 stores colour at half resolution, so it cannot hold an odd width or height.
 * Odd panels get 4:4:4 (High 4:4:4 Predictive), which can: the rendition stays exactly the
 * panel's size, pixel for pixel what the sending card captures. Even panels keep 4:2:0,
 * which every decoder (hardware included) plays.
 */
export function videoPixelFormat(profile: Pick<RenditionProfile, "width" | "height">): "yuv420p" | "yuv444p" {
  return profile.width % 2 === 0 && profile.height % 2 === 0 ? "yuv420p" : "yuv444p";
}

function ffmpegColour(hex: string): string {
  return `0x${hex.replace(/^#/, "").toUpperCase()}`;
}

function scaleFilter(p: Placement, extra = ""): string {
  return `scale=${p.scaledWidth}:${p.scaledHeight}:flags=lanczos+accurate_rnd+full_chroma_int${extra}`;
}

/** The filter chain from decoded source to a panel-sized frame. */
export function videoFilter(source: Shape, profile: RenditionProfile): string {
  const cover = profile.fit === "cover";
  const place = cover ? coveredPanel(profile) : placeOnPanel(source, profile);
  const pixfmt = videoPixelFormat(profile);
  // Dropping frames to the panel rate first means less to scale; so does cropping first.
  const chain = [`fps=${profile.fps}`, ...(cover ? [cropFilter(coverCrop(source, profile))] : []), scaleFilter(place, ":out_color_matrix=bt709:out_range=tv"), "format=yuv444p"];
  if (place.x > 0 || place.y > 0) {
    chain.push(`pad=${profile.width}:${profile.height}:${place.x}:${place.y}:color=${ffmpegColour(profile.background)}`);
  }
  if (place.x < 0 || place.y < 0) chain.push(`crop=${profile.width}:${profile.height}:${-place.x}:${-place.y}:exact=1`);
  if (pixfmt !== "yuv444p") chain.push(`format=${pixfmt}`);
  chain.push("setsar=1");
  return chain.join(",");
}

/** Stills are composed over a background canvas: that also fills any transparency. */
export function imageFilter(source: Shape, profile: RenditionProfile): string {
  const cover = profile.fit === "cover";
  const place = cover ? coveredPanel(profile) : placeOnPanel(source, profile);
  const crop = cover ? `${cropFilter(coverCrop(source, profile))},` : "";
  const canvas = `color=c=${ffmpegColour(profile.background)}:s=${profile.width}x${profile.height},format=rgba[canvas]`;
  const picture = `[0:v]${crop}${scaleFilter(place)},format=rgba[picture]`;
  return `${canvas};${picture};[canvas][picture]overlay=${place.x}:${place.y}:format=auto,format=rgb24,setsar=1[out]`;
}

export interface FfmpegPlan {
  kind: MediaInfo["kind"];
  inputOptions: string[];
  /** Everything between the input and the output path. */
  outputOptions: string[];
  /** File extension of the rendition. */
  extension: "mp4" | "png";
}

export function renditionPlan(source: MediaInfo, profile: RenditionProfile): FfmpegPlan {
  if (source.kind === "image") {
    return {
      kind: "image",
      inputOptions: [],
      outputOptions: ["-filter_complex", imageFilter(source, profile), "-map", "[out]", "-frames:v", "1", "-c:v", "png", "-update", "1", "-f", "image2"],
      extension: "png",
    };
  }
  const pixfmt = videoPixelFormat(profile);
  const audio = profile.audio && source.hasAudio ? ["-map", "0:a:0", "-c:a", "aac", "-b:a", "160k", "-ac", "2"] : ["-an"];
  return {
    kind: "video",
    inputOptions: [],
    outputOptions: [
      "-map", "0:v:0",
      "-vf", videoFilter(source, profile),
      "-c:v", "libx264",
      "-preset", profile.preset,
      "-crf", "18",
      "-profile:v", pixfmt === "yuv420p" ? "high" : "high444",
      "-pix_fmt", pixfmt,
      "-g", String(profile.fps * 2),
      "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
      ...audio,
      "-sn", "-dn", "-map_metadata", "-1",
      "-movflags", "+faststart",
      "-f", "mp4",
    ],
    extension: "mp4",
  };
}
