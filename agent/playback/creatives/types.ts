// Shapes shared by the creatives pipeline: what the schedule names, what ffprobe finds,
// and what the cache hands to the player.
import type { Config } from "../../config.js";

/** A creative entry as spec/schedule-format.md defines it. */
export interface CreativeEntry {
  id: string;
  url: string;
  sha256: string;
  durationMs: number;
  approved: boolean;
}

export type Panel = Config["panel"];

/** Everything that changes a rendition's bytes; the cache keys renditions by it. */
export interface RenditionProfile {
  width: number;
  height: number;
  fps: number;
  fit: Panel["fit"];
  background: string;
  audio: boolean;
  /** x264 preset: slower presets give smaller files of equal quality. */
  preset: string;
  /** Bumped whenever the ffmpeg recipe changes, so older renditions are re-fitted. */
  recipe: number;
}

export type MediaKind = "video" | "image";

/** What ffprobe found in a source or a rendition. */
export interface MediaInfo {
  kind: MediaKind;
  container: string;
  videoCodec: string;
  /** Stored frame size. */
  width: number;
  height: number;
  /** Sample (pixel) aspect ratio, 1 for square pixels. */
  sampleAspect: number;
  /** Clockwise rotation the player must apply (0, 90, 180, 270). */
  rotation: number;
  fps: number | null;
  /** null for still images. */
  durationMs: number | null;
  hasAudio: boolean;
  pixelFormat: string;
}

export interface Rendition {
  kind: MediaKind;
  path: string;
  sha256: string;
  bytes: number;
  width: number;
  height: number;
  /** Length of the video; null for a still (it plays for the creative's durationMs). */
  durationMs: number | null;
}

/** A creative ready to air: the source as delivered and its rendition for this panel. */
export interface PreparedCreative {
  id: string;
  sourceSha256: string;
  sourcePath: string;
  source: MediaInfo;
  rendition: Rendition;
  /** How long it plays: the video's length, or the schedule's durationMs for a still. */
  playMs: number;
  /** The rendition came from the cache (no transcode ran). */
  cached: boolean;
}

export type PrepareStage = "fetch" | "probe" | "fit";

export interface PrepareProgress {
  stage: PrepareStage;
  /** 0..100 when known. */
  percent: number | null;
}
