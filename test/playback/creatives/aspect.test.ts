// Extreme pixel or picture aspect ratios: a tiny clip remuxed with `-aspect 200000:1` passed
// the pixel limits, then `cover` scaled it to tens of thousands of pixels wide every frame.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../../agent/log.js";
import { probeMedia, RENDITION_RECIPE, renditionPlan, resolveMediaTools, Transcoder, type RenditionProfile } from "../../../agent/playback/creatives/index.js";
import { tempDir } from "../../helpers/tmp.js";
import { ffmpeg, ffprobe, makeVideo, sha256 } from "./media.js";
import { pipelineFor, refusal, testConfig } from "./setup.js";

const tmp = tempDir("ledagent-aspect-");
let small: string;
const tools = resolveMediaTools({ env: { PATH: process.env.PATH }, ffmpegStaticPath: () => null });

/** `small` remuxed (no re-encode) with a display aspect of `aspect`: only the SAR changes. */
function withAspect(name: string, aspect: string): string {
  const out = join(tmp.dir, name);
  ffmpeg(["-i", small, "-c", "copy", "-aspect", aspect, out]);
  return out;
}

const request = (path: string) => ({ id: "odd", url: `file://${path}`, sha256: sha256(path), durationMs: null });

beforeAll(() => {
  small = makeVideo(join(tmp.dir, "small.mp4"), { width: 32, height: 24, seconds: 1 });
}, 60_000);
afterAll(() => tmp.cleanup());

describe("absurd aspect ratios are refused after the probe", () => {
  it("a sample aspect ratio of 765:4 (-aspect 200000:1 on 32×24) is bad-aspect, before any transcode", async () => {
    const { pipeline, db } = pipelineFor(testConfig(join(tmp.dir, "sar"), { fit: "cover" }));
    const err = await refusal(pipeline.prepare(request(withAspect("dar.mkv", "200000:1"))));
    expect(err.reason).toBe("bad-aspect");
    expect(err.message).toBe("bad-aspect: the pixels are 191.25:1 (sample aspect ratio), outside 1:8 … 8:1");
    db.close();
  }, 20_000);

  it("a picture 40 times wider than high (square pixels) is bad-aspect", async () => {
    const wide = makeVideo(join(tmp.dir, "wide.mp4"), { width: 400, height: 10, seconds: 1 });
    const { pipeline, db } = pipelineFor(testConfig(join(tmp.dir, "dar"), { fit: "cover" }));
    const err = await refusal(pipeline.prepare(request(wide)));
    expect(err.reason).toBe("bad-aspect");
    expect(err.message).toBe("bad-aspect: the picture is 40:1 wide (display aspect ratio), outside 1:32 … 32:1");
    db.close();
  });
});

describe("cover never scales beyond the panel", () => {
  it("a wide-pixel source (SAR 8) is cropped first, scaled to exactly the panel, and fits", async () => {
    const eight = withAspect("sar8.mkv", "32:3");
    const { pipeline, db } = pipelineFor(testConfig(join(tmp.dir, "cover"), { fit: "cover" }));
    const plan = renditionPlan(await probeMedia({ ffprobePath: tools.ffprobe.path }, eight), pipeline.profile);
    const filter = plan.outputOptions[plan.outputOptions.indexOf("-vf") + 1];
    expect(filter).toMatch(/^fps=10,crop=\d+:24:\d+:0:exact=1,scale=96:48:/);
    const c = await pipeline.prepare(request(eight));
    expect([ffprobe(c.rendition.path).width, ffprobe(c.rendition.path).height]).toEqual([96, 48]);
    db.close();
  });
});

describe("a transcode that runs out of time", () => {
  it("counts against the creative (transcode-timeout) when ffmpeg itself works", async () => {
    const long = makeVideo(join(tmp.dir, "long.mp4"), { width: 320, height: 240, seconds: 20 });
    const profile: RenditionProfile = { width: 640, height: 480, fps: 30, fit: "contain", background: "#000000", audio: false, preset: "veryslow", recipe: RENDITION_RECIPE };
    const plan = renditionPlan(await probeMedia({ ffprobePath: tools.ffprobe.path }, long), profile);
    const transcoder = new Transcoder({ ffmpegPath: tools.ffmpeg.path, ffprobePath: tools.ffprobe.path, log: silentLogger(), timeoutS: 0.5 });
    const err = await refusal(transcoder.run(plan, long, join(tmp.dir, "long-out.mp4"), 20_000));
    expect(err.reason).toBe("transcode-timeout");
    expect(err.message).toBe("transcode-timeout: fitting it took longer than 0.5 s (ffmpeg itself works: a test pattern encodes); the file costs too much to fit");
  }, 30_000);
});
