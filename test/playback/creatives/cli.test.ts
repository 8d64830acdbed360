import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { registerCreativesCommands, sourceUrl } from "../../../agent/cli/creatives.js";
import { runCliInProcess, type CliResult } from "../../helpers/cli.js";
import { tempDir } from "../../helpers/tmp.js";
import { ffprobe, makeVideo, sha256 } from "./media.js";

const tmp = tempDir("ledagent-cli-creatives-");
const configFile = join(tmp.dir, "config.yaml");
let clip: string;

/** Runs `ledagent --config … <args>` in-process; returns stdout, stderr and the exit code. */
function ledagent(...args: string[]): Promise<CliResult> {
  return runCliInProcess(registerCreativesCommands, ["--config", configFile, ...args]);
}

beforeAll(() => {
  writeFileSync(configFile, `screenId: cli-test\ndataDir: ${join(tmp.dir, "data")}\nrunDir: ${join(tmp.dir, "run")}\npanel: { width: 101, height: 40, fps: 10 }\n`);
  clip = makeVideo(join(tmp.dir, "clip.mp4"), { width: 160, height: 90, seconds: 1 });
});
afterEach(() => vi.restoreAllMocks());
afterAll(() => tmp.cleanup());

describe("ledagent creatives prepare", () => {
  it("--json prints the rendition's path, size, duration and SHA-256", async () => {
    const { stdout, code } = await ledagent("creatives", "prepare", clip, "--sha256", sha256(clip), "--json");
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as { rendition: { path: string; width: number; height: number; durationMs: number; sha256: string; bytes: number }; source: { sha256: string }; cached: boolean };
    expect([result.rendition.width, result.rendition.height]).toEqual([101, 40]);
    expect(result.rendition.sha256).toBe(sha256(result.rendition.path));
    expect(result.source.sha256).toBe(sha256(clip));
    expect(result.rendition.durationMs).toBeGreaterThan(800);
    expect(ffprobe(result.rendition.path).width).toBe(101);
    const again = JSON.parse((await ledagent("creatives", "prepare", clip, "--json")).stdout) as { cached: boolean };
    expect(again.cached).toBe(true);
  });

  it("prints a readable summary without --json (no bar when not on a terminal)", async () => {
    const { stdout, stderr, code } = await ledagent("creatives", "prepare", clip);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^rendition +\/.+\.mp4$/m);
    expect(stdout).toMatch(/^size +101×40, \d+ bytes$/m);
    expect(stdout).toMatch(/^sha256 +[0-9a-f]{64}$/m);
    expect(stderr).toBe("");
  });

  it("a hash mismatch exits 1 with the reason on one line", async () => {
    const { stderr, code } = await ledagent("creatives", "prepare", clip, "--sha256", "0".repeat(64));
    expect(code).toBe(1);
    expect(stderr).toMatch(/^ledagent: refused: hash-mismatch: the bytes hash to [0-9a-f]{64}, the schedule says 0{64}\n$/);
  });

  it("a broken ffprobe is not blamed on the file, and the verified source is kept", async () => {
    const fresh = makeVideo(join(tmp.dir, "fresh.mp4"), { width: 80, height: 40, seconds: 1 });
    vi.stubEnv("FFPROBE_PATH", "/bin/false");
    let result: Awaited<ReturnType<typeof ledagent>>;
    try {
      result = await ledagent("creatives", "prepare", fresh, "--sha256", sha256(fresh));
    } finally {
      vi.unstubAllEnvs();
    }
    expect(result.code).toBe(1);
    expect(result.stderr).not.toMatch(/refused|undecodable/);
    expect(result.stderr).toMatch(/^ledagent: ffprobe failed to run: \/bin\/false exited with code 1 and printed nothing \(the creative was not judged and is kept; ffprobe is \/bin\/false, from FFPROBE_PATH\)\n$/);
    expect(readdirSync(join(tmp.dir, "data", "creatives", "sources"))).toContain(sha256(fresh));
  });

  it("a missing file exits 1; a bad --sha256 is bad usage (2)", async () => {
    expect(await ledagent("creatives", "prepare", join(tmp.dir, "nope.mp4"))).toMatchObject({ code: 1, stderr: expect.stringMatching(/refused: not-found/) });
    expect((await ledagent("creatives", "prepare", clip, "--sha256", "abc")).code).toBe(2);
  });
});

describe("ledagent pattern", () => {
  it("renders at the panel's exact size and prints the path", async () => {
    const { stdout, code } = await ledagent("pattern", "grid", "--json");
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as { path: string; width: number; height: number };
    expect([ffprobe(result.path).width, ffprobe(result.path).height]).toEqual([101, 40]);
  });

  it("an unknown pattern is bad usage", async () => {
    const { stderr, code } = await ledagent("pattern", "plaid");
    expect(code).toBe(2);
    expect(stderr).toContain("bars, grid, white, red, green, blue, gradient");
  });
});

describe("sourceUrl", () => {
  it("keeps URLs and turns paths into file: URLs", () => {
    expect(sourceUrl("https://cdn.example/a.mp4")).toBe("https://cdn.example/a.mp4");
    expect(sourceUrl("file:///tmp/a.mp4")).toBe("file:///tmp/a.mp4");
    expect(sourceUrl("/tmp/a b.mp4")).toBe("file:///tmp/a%20b.mp4");
  });
});
