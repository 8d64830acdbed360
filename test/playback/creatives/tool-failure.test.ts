// A broken ffprobe or ffmpeg is the environment's fault: it must not be blamed on the creative,
// and the verified source must not be deleted for it.
import { chmodSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../../agent/log.js";
import { probeMedia, renditionPlan, RENDITION_RECIPE, resolveMediaTools, Transcoder, type MediaTools } from "../../../agent/playback/creatives/index.js";
import { findOnPath } from "../../../agent/playback/creatives/tools.js";
import { tempDir } from "../../helpers/tmp.js";
import { makeVideo, sha256 } from "./media.js";
import { pipelineFor, refusal, testConfig } from "./setup.js";

const tmp = tempDir("ledagent-tool-failure-");
let clip: string;
let random: string;
const realTools = (): MediaTools => resolveMediaTools({ env: { PATH: process.env.PATH }, ffmpegStaticPath: () => null });

/**
 * A stand-in tool that runs `body`. As "ffprobe" it answers `-version` as ffprobe; as "ffmpeg"
 * it hands `-version` and fluent-ffmpeg's capability queries (-formats, -encoders …) to the real
 * ffmpeg, whose answers fluent-ffmpeg caches for the whole process.
 */
function fakeTool(name: string, poseAs: "ffmpeg" | "ffprobe" | null, body: string): string {
  const path = join(tmp.dir, name);
  const realFfmpeg = findOnPath("ffmpeg", process.env.PATH) ?? "ffmpeg";
  const pose =
    poseAs === "ffprobe"
      ? 'if [ "$1" = "-version" ]; then echo "ffprobe version 0.0-fake"; exit 0; fi\n'
      : poseAs === "ffmpeg"
        ? `case "$1" in -version|-formats|-encoders|-codecs|-filters) exec "${realFfmpeg}" "$@";; esac\n`
        : "";
  writeFileSync(path, `#!/bin/sh\n${pose}${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

beforeAll(() => {
  clip = makeVideo(join(tmp.dir, "clip.mp4"), { width: 64, height: 36, seconds: 1 });
  random = join(tmp.dir, "random.mp4");
  writeFileSync(random, Buffer.alloc(4096, 7));
}, 60_000);
afterAll(() => tmp.cleanup());

describe("probeMedia when ffprobe itself fails", () => {
  it("a tool that exits without a word is tool-failed, not undecodable", async () => {
    const err = await refusal(probeMedia({ ffprobePath: "/bin/false" }, clip));
    expect(err.reason).toBe("tool-failed");
    expect(err.message).toBe("tool-failed: ffprobe failed to run: /bin/false exited with code 1 and printed nothing");
  });

  it("a tool that cannot be spawned is tool-failed", async () => {
    const err = await refusal(probeMedia({ ffprobePath: join(tmp.dir, "no-such-ffprobe") }, clip));
    expect(err.reason).toBe("tool-failed");
    expect(err.message).toMatch(/^tool-failed: ffprobe failed to run: .*ENOENT/);
  });

  it("a tool stopped at its time limit is tool-failed", async () => {
    const slow = fakeTool("slow-ffprobe", "ffprobe", "exec sleep 5");
    const err = await refusal(probeMedia({ ffprobePath: slow, timeoutMs: 300 }, clip));
    expect(err.reason).toBe("tool-failed");
    expect(err.message).toMatch(/ffprobe failed to run: .*slow-ffprobe was stopped \(SIGTERM\) after its time limit/);
  });

  it("a path that is not ffprobe (silent, or ffmpeg, or anything that talks) is tool-failed", async () => {
    const silent = await refusal(probeMedia({ ffprobePath: "/bin/true" }, clip));
    expect(silent.message).toBe('tool-failed: ffprobe failed to run: /bin/true is not ffprobe (-version printed nothing)');
    const ffmpeg = findOnPath("ffmpeg", process.env.PATH) ?? "ffmpeg";
    const wrong = await refusal(probeMedia({ ffprobePath: ffmpeg }, clip));
    expect(wrong.reason).toBe("tool-failed");
    expect(wrong.message).toMatch(/is not ffprobe \(-version printed "ffmpeg version/);
    const chatty = fakeTool("chatty", null, 'echo "chatty: bad option $1" >&2; exit 2');
    const other = await refusal(probeMedia({ ffprobePath: chatty }, clip));
    expect(other.reason).toBe("tool-failed");
    expect(other.message).toMatch(/chatty -version: chatty: bad option -version/);
  });

  it("a working ffprobe still calls unreadable bytes undecodable", async () => {
    const err = await refusal(probeMedia({ ffprobePath: realTools().ffprobe.path }, random));
    expect(err.reason).toBe("undecodable");
  });
});

describe("Transcoder when ffmpeg itself fails", () => {
  const profile = { width: 32, height: 16, fps: 10, fit: "contain" as const, background: "#000000", audio: false, preset: "ultrafast", recipe: RENDITION_RECIPE };
  const plan = async (): Promise<ReturnType<typeof renditionPlan>> => renditionPlan(await probeMedia({ ffprobePath: realTools().ffprobe.path }, clip), profile);
  const transcoder = (ffmpegPath: string, timeoutS?: number): Transcoder => new Transcoder({ ffmpegPath, ffprobePath: realTools().ffprobe.path, log: silentLogger(), timeoutS });

  it("a path that is not ffmpeg, or a silent exit, is tool-failed, not transcode-failed", async () => {
    const notFfmpeg = await refusal(transcoder("/bin/false").run(await plan(), clip, join(tmp.dir, "a.mp4"), 1000));
    expect(notFfmpeg.reason).toBe("tool-failed");
    expect(notFfmpeg.message).toMatch(/^tool-failed: ffmpeg failed to run: \/bin\/false -version exited with code 1 and printed nothing$/);
    const silent = fakeTool("silent-ffmpeg", "ffmpeg", "exit 1");
    const err = await refusal(transcoder(silent).run(await plan(), clip, join(tmp.dir, "b.mp4"), 1000));
    expect(err.reason).toBe("tool-failed");
    expect(err.message).toMatch(/ffmpeg failed to run: ffmpeg exited with code 1 and printed nothing/);
  });

  it("an ffmpeg stopped at its time limit is tool-failed", async () => {
    const slow = fakeTool("slow-ffmpeg", "ffmpeg", "exec sleep 5");
    const err = await refusal(transcoder(slow, 1).run(await plan(), clip, join(tmp.dir, "c.mp4"), 1000));
    expect(err.reason).toBe("tool-failed");
    expect(err.message).toMatch(/ffmpeg failed to run: process ran into a timeout/);
  });
});

describe("the pipeline keeps the verified source when a tool fails", () => {
  it("a broken ffprobe: tool-failed, the source stays, and a working ffprobe later needs no new fetch", async () => {
    const dataDir = join(tmp.dir, "data-probe");
    const hash = sha256(clip);
    const broken = pipelineFor(testConfig(dataDir), { tools: { ...realTools(), ffprobe: { path: "/bin/false", source: "env", found: true } } });
    const [outcome] = await broken.pipeline.prepareSchedule([{ id: "clip", url: pathToFileURL(clip).href, sha256: hash, durationMs: 1000, approved: true }]);
    expect(outcome).toMatchObject({ ok: false, reason: "tool-failed", message: expect.stringMatching(/^tool-failed: ffprobe failed to run: /) as unknown });
    expect(readdirSync(broken.pipeline.cache.sourcesDir)).toEqual([hash]);
    broken.db.close();
    // The URL names nothing now: only the kept bytes can make this succeed.
    const working = pipelineFor(testConfig(dataDir));
    const c = await working.pipeline.prepare({ id: "clip", url: pathToFileURL(join(tmp.dir, "gone.mp4")).href, sha256: hash, durationMs: 1000 });
    expect(c.sourceSha256).toBe(hash);
    expect(c.rendition.width).toBe(96);
    working.db.close();
  });

  it("kept bytes that do not hash right are fetched again", async () => {
    const dataDir = join(tmp.dir, "data-tampered");
    const hash = sha256(clip);
    const rig = pipelineFor(testConfig(dataDir));
    mkdirSync(rig.pipeline.cache.sourcesDir, { recursive: true });
    writeFileSync(join(rig.pipeline.cache.sourcesDir, hash), "not the clip");
    const c = await rig.pipeline.prepare({ id: "clip", url: pathToFileURL(clip).href, sha256: hash, durationMs: 1000 });
    expect(sha256(c.sourcePath)).toBe(hash);
    rig.db.close();
  });

  it("a broken ffmpeg: tool-failed, the source stays recorded, and a working ffmpeg fits it later", async () => {
    const dataDir = join(tmp.dir, "data-fit");
    const hash = sha256(clip);
    const broken = pipelineFor(testConfig(dataDir), { tools: { ...realTools(), ffmpeg: { path: "/bin/false", source: "env", found: true } } });
    const err = await refusal(broken.pipeline.prepare({ id: "clip", url: pathToFileURL(clip).href, sha256: hash, durationMs: 1000 }));
    expect(err.reason).toBe("tool-failed");
    expect(readdirSync(broken.pipeline.cache.sourcesDir)).toEqual([hash]);
    expect(broken.pipeline.cache.source(hash)).not.toBeNull();
    broken.db.close();
    const working = pipelineFor(testConfig(dataDir));
    const c = await working.pipeline.prepare({ id: "clip", url: pathToFileURL(join(tmp.dir, "never-there.mp4")).href, sha256: hash, durationMs: 1000 });
    expect(c.rendition.width).toBe(96);
    working.db.close();
  });
});
