// `ledagent creatives prepare` and `ledagent pattern`: the creatives pipeline by hand, for a
// technician checking a file on site before it is scheduled, or a screen's pixel mapping.
import { basename, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Command } from "commander";
import type { Config } from "../config.js";
import { commandLogger } from "../log.js";
import { agentPaths } from "../paths.js";
import {
  CreativePipeline,
  CreativeRejected,
  isPatternName,
  PATTERN_NAMES,
  resolveMediaTools,
  type PreparedCreative,
  type ToolChoice,
  type PrepareProgress,
} from "../playback/creatives/index.js";
import { openDatabase, type Db } from "../store/index.js";
import { action, CliError, cliConfig } from "./common.js";

interface PrepareOptions {
  sha256?: string;
  json?: boolean;
}

const STAGE_LABEL: Record<PrepareProgress["stage"], string> = { fetch: "fetching", probe: "inspecting", fit: "fitting" };

/** A URL as given, or a local path made into a file: URL. */
export function sourceUrl(source: string): string {
  return /^[a-z][a-z0-9+.-]*:/i.test(source) && !/^[a-z]:[\\/]/i.test(source) ? source : pathToFileURL(resolve(source)).href;
}

function toolOrigin(name: "ffmpeg" | "ffprobe", tool: ToolChoice): string {
  const from = tool.source === "env" ? `${name.toUpperCase()}_PATH` : tool.source === "ffmpeg-static" ? "the ffmpeg-static package" : "PATH";
  return `${tool.path}, from ${from}`;
}

async function withPipeline<T>(config: Config, work: (pipeline: CreativePipeline) => Promise<T>): Promise<T> {
  const tools = resolveMediaTools();
  for (const tool of [tools.ffmpeg, tools.ffprobe]) {
    if (!tool.found) throw new CliError(`${tool.path} not found (source: ${tool.source}); install ffmpeg or set FFMPEG_PATH / FFPROBE_PATH`);
  }
  const paths = agentPaths(config);
  let db: Db | null = null;
  try {
    db = openDatabase(paths.database);
    return await work(new CreativePipeline({ config, db, creativesDir: paths.creativesDir, tools, log: commandLogger(config.logLevel) }));
  } catch (err) {
    // A broken ffmpeg/ffprobe or disk is not the creative's fault: no "refused" for those.
    if (err instanceof CreativeRejected && err.reason === "tool-failed") {
      const name = err.detail.startsWith("ffprobe") ? "ffprobe" : "ffmpeg";
      throw new CliError(`${err.detail} (the creative was not judged and is kept; ${name} is ${toolOrigin(name, tools[name])})`);
    }
    if (err instanceof CreativeRejected) throw new CliError(`refused: ${err.message}`);
    throw err;
  } finally {
    db?.close();
  }
}

/** A bar on a terminal; nothing when stderr is a pipe or a log (or --json is asked). */
async function progressDisplay(enabled: boolean): Promise<{ update: (p: PrepareProgress) => void; stop: () => void }> {
  if (!enabled) return { update: () => undefined, stop: () => undefined };
  // Loaded only for a bar on a terminal: every other command, the daemon included, goes without.
  const { Presets, SingleBar } = await import("cli-progress");
  const bar = new SingleBar({ format: "{stage} [{bar}] {percentage}%", stream: process.stderr, hideCursor: true, clearOnComplete: true }, Presets.shades_classic);
  let started = false;
  return {
    update: (p) => {
      const value = Math.round(p.percent ?? 0);
      if (!started) {
        bar.start(100, value, { stage: STAGE_LABEL[p.stage] });
        started = true;
      } else bar.update(value, { stage: STAGE_LABEL[p.stage] });
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

export function preparedSummary(c: PreparedCreative): Record<string, unknown> {
  return {
    source: { sha256: c.sourceSha256, path: c.sourcePath, kind: c.source.kind, container: c.source.container, codec: c.source.videoCodec, width: c.source.width, height: c.source.height, durationMs: c.source.durationMs },
    rendition: { path: c.rendition.path, kind: c.rendition.kind, width: c.rendition.width, height: c.rendition.height, durationMs: c.rendition.durationMs, bytes: c.rendition.bytes, sha256: c.rendition.sha256 },
    cached: c.cached,
  };
}

function printPrepared(c: PreparedCreative): void {
  const r = c.rendition;
  const length = r.durationMs === null ? "still image (plays for its schedule's durationMs)" : `${(r.durationMs / 1000).toFixed(3)} s`;
  const lines = [
    ["rendition", r.path],
    ["size", `${r.width}×${r.height}, ${r.bytes} bytes`],
    ["duration", length],
    ["sha256", r.sha256],
    ["source", `${c.sourceSha256} (${c.source.videoCodec} ${c.source.width}×${c.source.height}, ${c.source.container})`],
    ["cached", c.cached ? "yes (no transcode ran)" : "no (fitted now)"],
  ];
  process.stdout.write(lines.map(([k, v]) => `${k.padEnd(10)}${v}\n`).join(""));
}

export function registerCreativesCommands(program: Command): void {
  const creatives = program.command("creatives").description("creatives cache: fetch, verify, inspect and fit to the panel");
  creatives
    .command("prepare <source>")
    .description("fetch, verify, inspect and fit one creative (a file or an https:, http: or file: URL) to the panel")
    .option("--sha256 <hex>", "the SHA-256 the bytes must have (as the schedule would name it)")
    .option("--json", "print the result as one JSON object")
    .action(
      action(async (source: string, opts: PrepareOptions, cmd: Command) => {
        if (opts.sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(opts.sha256)) {
          throw new CliError(`--sha256: ${JSON.stringify(opts.sha256)} is not 64 hex digits`, 2);
        }
        const config = cliConfig(cmd);
        const progress = await progressDisplay(!opts.json && process.stderr.isTTY === true);
        const prepared = await withPipeline(config, (pipeline) =>
          pipeline.prepare({ id: basename(source), url: sourceUrl(source), sha256: opts.sha256 ?? null, durationMs: null }, progress.update).finally(progress.stop),
        );
        if (opts.json) process.stdout.write(`${JSON.stringify(preparedSummary(prepared))}\n`);
        else printPrepared(prepared);
      }),
    );

  program
    .command("pattern <name>")
    .description(`render a test pattern at the panel's exact size (${PATTERN_NAMES.join(", ")}); prints the PNG's path`)
    .option("--json", "print the result as one JSON object")
    .action(
      action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
        if (!isPatternName(name)) throw new CliError(`pattern: ${JSON.stringify(name)} is not one of ${PATTERN_NAMES.join(", ")}`, 2);
        const config = cliConfig(cmd);
        const path = await withPipeline(config, (pipeline) => pipeline.renderPattern(name));
        const { width, height } = config.panel;
        process.stdout.write(opts.json ? `${JSON.stringify({ pattern: name, path, width, height })}\n` : `${path}\n`);
      }),
    );
}
