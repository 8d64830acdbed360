import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findOnPath, resolveMediaTools } from "../../../agent/playback/creatives/tools.js";
import { tempDir } from "../../helpers/tmp.js";

const tmp = tempDir("ledagent-tools-");
afterAll(() => tmp.cleanup());

function fakeBinary(name: string): string {
  const path = join(tmp.dir, name);
  writeFileSync(path, "#!/bin/sh\n");
  chmodSync(path, 0o755);
  return path;
}

describe("resolveMediaTools", () => {
  it("FFMPEG_PATH and FFPROBE_PATH win", () => {
    const ffmpeg = fakeBinary("my-ffmpeg");
    const ffprobe = fakeBinary("my-ffprobe");
    const tools = resolveMediaTools({ env: { FFMPEG_PATH: ffmpeg, FFPROBE_PATH: ffprobe, PATH: "" }, ffmpegStaticPath: () => "/should/not/be/used" });
    expect(tools.ffmpeg).toEqual({ path: ffmpeg, source: "env", found: true });
    expect(tools.ffprobe).toEqual({ path: ffprobe, source: "env", found: true });
  });

  it("an env path that is not executable is reported as not found", () => {
    expect(resolveMediaTools({ env: { FFMPEG_PATH: join(tmp.dir, "missing") } }).ffmpeg.found).toBe(false);
  });

  it("then ffmpeg-static's binary, with ffprobe from the system", () => {
    const bin = fakeBinary("ffprobe");
    const tools = resolveMediaTools({ env: { PATH: tmp.dir }, ffmpegStaticPath: () => "/opt/static/ffmpeg" });
    expect(tools.ffmpeg).toEqual({ path: "/opt/static/ffmpeg", source: "ffmpeg-static", found: true });
    expect(tools.ffprobe).toEqual({ path: bin, source: "system", found: true });
  });

  it("else the system's, found on PATH, or reported missing", () => {
    const tools = resolveMediaTools({ env: { PATH: process.env.PATH }, ffmpegStaticPath: () => null });
    expect(tools.ffmpeg.source).toBe("system");
    expect(tools.ffmpeg.found).toBe(true);
    expect(tools.ffmpeg.path).toBe(findOnPath("ffmpeg", process.env.PATH));
    const none = resolveMediaTools({ env: { PATH: join(tmp.dir, "empty") }, ffmpegStaticPath: () => null });
    expect(none.ffmpeg).toEqual({ path: "ffmpeg", source: "system", found: false });
  });

  it("the real ffmpeg-static lookup fails soft when the package is absent", () => {
    expect(() => resolveMediaTools({ env: { PATH: "" } })).not.toThrow();
  });
});
