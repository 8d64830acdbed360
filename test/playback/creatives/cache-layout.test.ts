// A technician may symlink the cache onto a bigger disk. A link in place of sources/,
// renditions/ or staging/ must never let eviction reach into the directory it points at.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentPaths } from "../../../agent/paths.js";
import { CreativeRejected } from "../../../agent/playback/creatives/index.js";
import { tempDir } from "../../helpers/tmp.js";
import { makeVideo, sha256 } from "./media.js";
import { pipelineFor, testConfig } from "./setup.js";

const tmp = tempDir("ledagent-cache-layout-");
let clip: string;
let count = 0;

beforeAll(() => {
  clip = makeVideo(join(tmp.dir, "clip.mp4"), { width: 64, height: 36, seconds: 1 });
}, 60_000);
afterAll(() => tmp.cleanup());

/** A directory of someone else's that must come out untouched. */
function victimDir(): string {
  const dir = join(tmp.dir, `victim-${++count}`);
  mkdirSync(join(dir, "sub"), { recursive: true });
  writeFileSync(join(dir, "important.doc"), "quarterly figures");
  writeFileSync(join(dir, "sub", "file"), "more");
  return dir;
}

function expectUntouched(dir: string): void {
  expect(readdirSync(dir).sort()).toEqual(["important.doc", "sub"]);
  expect(readFileSync(join(dir, "important.doc"), "utf8")).toBe("quarterly figures");
  expect(readFileSync(join(dir, "sub", "file"), "utf8")).toBe("more");
}

function thrown(work: () => unknown): CreativeRejected {
  try {
    work();
  } catch (err) {
    expect(err).toBeInstanceOf(CreativeRejected);
    return err as CreativeRejected;
  }
  throw new Error("expected a refusal");
}

describe("the cache's own directories", () => {
  for (const sub of ["sources", "renditions", "staging"]) {
    it(`refuses to open when ${sub}/ is a symbolic link, and leaves its target alone`, () => {
      const config = testConfig(join(tmp.dir, `open-${sub}`));
      const creatives = agentPaths(config).creativesDir;
      const victim = victimDir();
      mkdirSync(creatives, { recursive: true });
      symlinkSync(victim, join(creatives, sub));
      const err = thrown(() => pipelineFor(config));
      expect(err.reason).toBe("io-error");
      expect(err.message).toBe(
        `io-error: ${join(creatives, sub)} is a symbolic link, not a directory: the cache removes files in it and does not follow links out of its own directories (to move the cache to another disk, link the creatives directory itself)`,
      );
      expectUntouched(victim);
    });
  }

  it("eviction refuses when sources/ was swapped for a link after the cache opened; the victim survives", async () => {
    const config = testConfig(join(tmp.dir, "evict"));
    const { pipeline, db } = pipelineFor(config);
    await pipeline.prepare({ id: "clip", url: `file://${clip}`, sha256: sha256(clip), durationMs: 1000 });
    const victim = victimDir();
    rmSync(pipeline.cache.sourcesDir, { recursive: true });
    symlinkSync(victim, pipeline.cache.sourcesDir);
    const err = await pipeline.evict([]).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CreativeRejected);
    expect((err as CreativeRejected).message).toMatch(/^io-error: .*sources is a symbolic link, not a directory/);
    expectUntouched(victim);
    db.close();
  });

  it("eviction never removes recursively: a directory under a source or rendition name keeps its contents", async () => {
    const config = testConfig(join(tmp.dir, "dirs"));
    const { pipeline, db } = pipelineFor(config);
    const planted = join(pipeline.cache.sourcesDir, "e".repeat(64));
    mkdirSync(join(planted, "sub"), { recursive: true });
    writeFileSync(join(planted, "important.doc"), "x");
    const stray = join(pipeline.cache.renditionsDir, "notes");
    writeFileSync(stray, "not the cache's");
    await pipeline.evict([]);
    expect(existsSync(join(planted, "important.doc")) && existsSync(join(planted, "sub"))).toBe(true);
    expect(existsSync(stray)).toBe(true);
    db.close();
  });
});
