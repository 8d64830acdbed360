// Builds a pipeline on a temp data directory with the system's ffmpeg, as the daemon would.
import { join } from "node:path";
import { expect } from "vitest";
import { validateConfig, type Config, type ConfigInput } from "../../../agent/config.js";
import { silentLogger } from "../../../agent/log.js";
import { agentPaths } from "../../../agent/paths.js";
import { CreativePipeline, CreativeRejected, resolveMediaTools, type PipelineDeps } from "../../../agent/playback/creatives/index.js";
import { openDatabase, type Db } from "../../../agent/store/index.js";

export function testConfig(dataDir: string, panel: Partial<Config["panel"]> = {}, creatives: Partial<Config["creatives"]> = {}): Config {
  const input: ConfigInput = { screenId: "test-screen", dataDir, runDir: join(dataDir, "run"), panel: { width: 96, height: 48, fps: 10, ...panel }, creatives };
  return validateConfig(input);
}

export interface Rig {
  pipeline: CreativePipeline;
  db: Db;
  config: Config;
}

export function pipelineFor(config: Config, extra: Partial<PipelineDeps> = {}): Rig {
  const db = openDatabase(agentPaths(config).database);
  const pipeline = new CreativePipeline({
    config,
    db,
    creativesDir: agentPaths(config).creativesDir,
    tools: resolveMediaTools({ env: { PATH: process.env.PATH }, ffmpegStaticPath: () => null }),
    log: silentLogger(),
    preset: "ultrafast",
    fetch: { attempts: 3, backoffMs: () => 20, stallMs: 5000 },
    ...extra,
  });
  return { pipeline, db, config };
}

/** The CreativeRejected that `work` fails with (the test fails if it succeeds or throws something else). */
export async function refusal(work: Promise<unknown>): Promise<CreativeRejected> {
  const err = await work.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CreativeRejected);
  return err as CreativeRejected;
}
