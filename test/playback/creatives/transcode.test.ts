import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../../agent/log.js";
import { CreativeRejected, probeMedia, renditionPlan, RENDITION_RECIPE, Transcoder } from "../../../agent/playback/creatives/index.js";
import { SerialQueue } from "../../../agent/playback/creatives/queue.js";
import type { MediaInfo, RenditionProfile } from "../../../agent/playback/creatives/types.js";
import { tempDir } from "../../helpers/tmp.js";
import { ffprobe, makeVideo } from "./media.js";

const tmp = tempDir("ledagent-transcode-");
const profile: RenditionProfile = { width: 64, height: 32, fps: 10, fit: "contain", background: "#000000", audio: false, preset: "ultrafast", recipe: RENDITION_RECIPE };
let clip: string;
let info: MediaInfo;

beforeAll(async () => {
  clip = makeVideo(join(tmp.dir, "clip.mp4"), { width: 320, height: 180, seconds: 4, fps: 25 });
  info = await probeMedia({ ffprobePath: "ffprobe" }, clip);
});
afterAll(() => tmp.cleanup());

const transcoder = (): Transcoder => new Transcoder({ ffmpegPath: "ffmpeg", ffprobePath: "ffprobe", log: silentLogger() });

describe("Transcoder", () => {
  it("reports percent from ffmpeg's progress, rising to 100", async () => {
    const seen: number[] = [];
    await transcoder().run(renditionPlan(info, profile), clip, join(tmp.dir, "progress.mp4"), info.durationMs, (p) => seen.push(p));
    expect(seen.at(-1)).toBe(100);
    expect(seen.every((p, i) => p >= 0 && p <= 100 && (i === 0 || p >= seen[i - 1]))).toBe(true);
  });

  it("runs ffmpeg at nice 19", async () => {
    const out = join(tmp.dir, "niced.mp4");
    const slow = { ...profile, width: 640, height: 360, preset: "veryslow" };
    const work = transcoder().run(renditionPlan(info, slow), clip, out, info.durationMs, () => undefined);
    let niceness: string | null = null;
    for (let i = 0; i < 100 && niceness === null; i++) {
      const rows = execFileSync("ps", ["-eo", "ni=,args="], { encoding: "utf8" }).split("\n");
      const row = rows.find((r) => r.includes(out) && /\bffmpeg\b/.test(r) && !/\bnice\b/.test(r));
      if (row) niceness = row.trim().split(/\s+/)[0];
      else await new Promise((r) => setTimeout(r, 20));
    }
    await work;
    expect(niceness).toBe("19");
  });

  it("runs one transcode at a time, in order", async () => {
    const t = transcoder();
    const order: string[] = [];
    const laterStarted: string[] = [];
    const out = (name: string): string => join(tmp.dir, `serial-${name}.mp4`);
    const job = (name: string, next: string | null): Promise<void> =>
      t.run(renditionPlan(info, profile), clip, out(name), info.durationMs, (p) => {
        if (order.at(-1) !== name) order.push(name);
        // When one finishes, ffmpeg for the next one must not have opened its output yet.
        if (p === 100 && next && existsSync(out(next))) laterStarted.push(next);
      });
    const all = Promise.all([job("a", "b"), job("b", "c"), job("c", null)]);
    expect(t.pending).toBe(3);
    await all;
    expect(order).toEqual(["a", "b", "c"]);
    expect(laterStarted).toEqual([]);
    expect(t.pending).toBe(0);
    expect(ffprobe(out("c")).width).toBe(64);
  });

  it("an ffmpeg failure is a transcode-failed refusal naming ffmpeg's reason", async () => {
    const err = await transcoder()
      .run(renditionPlan(info, profile), join(tmp.dir, "missing.mp4"), join(tmp.dir, "never.mp4"), 1000)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CreativeRejected);
    expect((err as CreativeRejected).reason).toBe("transcode-failed");
    expect((err as CreativeRejected).message).toMatch(/No such file or directory/);
  });
});

describe("SerialQueue", () => {
  it("never overlaps tasks and survives a failing one", async () => {
    const q = new SerialQueue();
    let running = 0;
    let most = 0;
    const task = (fail: boolean) => async (): Promise<string> => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      if (fail) throw new Error("boom");
      return "ok";
    };
    const results = await Promise.allSettled([q.run(task(false)), q.run(task(true)), q.run(task(false))]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(most).toBe(1);
    expect(q.size).toBe(0);
  });
});
