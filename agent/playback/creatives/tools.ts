// Which ffmpeg and ffprobe the agent runs: FFMPEG_PATH / FFPROBE_PATH, else ffmpeg-static's
// binary when the optional package installed one, else the system's on PATH.
// `ledagent doctor` reports the choice, so a technician knows which build transcodes.
import { accessSync, constants, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, join } from "node:path";

export type ToolSource = "env" | "ffmpeg-static" | "system";

export interface ToolChoice {
  path: string;
  source: ToolSource;
  /** False when the system binary was not found on PATH (the bare name is kept). */
  found: boolean;
}

export interface MediaTools {
  ffmpeg: ToolChoice;
  ffprobe: ToolChoice;
}

export interface ToolDeps {
  env?: NodeJS.ProcessEnv;
  /** ffmpeg-static's binary path, or null when the package or its binary is missing. */
  ffmpegStaticPath?: () => string | null;
}

/** ffmpeg-static exports the path of the binary its installer downloaded (if it could). */
export function ffmpegStaticBinary(): string | null {
  try {
    const require = createRequire(import.meta.url);
    const exported: unknown = require("ffmpeg-static");
    return typeof exported === "string" && existsSync(exported) ? exported : null;
  } catch {
    return null;
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The absolute path of `name` on PATH, or null. */
export function findOnPath(name: string, pathVar: string | undefined): string | null {
  for (const dir of (pathVar ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

function systemTool(name: string, env: NodeJS.ProcessEnv): ToolChoice {
  const found = findOnPath(name, env.PATH);
  return { path: found ?? name, source: "system", found: found !== null };
}

export function resolveMediaTools(deps: ToolDeps = {}): MediaTools {
  const env = deps.env ?? process.env;
  const staticPath = deps.ffmpegStaticPath ?? ffmpegStaticBinary;
  let ffmpeg: ToolChoice;
  if (env.FFMPEG_PATH) ffmpeg = { path: env.FFMPEG_PATH, source: "env", found: isExecutable(env.FFMPEG_PATH) };
  else {
    const fromPackage = staticPath();
    ffmpeg = fromPackage ? { path: fromPackage, source: "ffmpeg-static", found: true } : systemTool("ffmpeg", env);
  }
  // ffmpeg-static ships ffmpeg only; ffprobe comes from the environment or the system.
  const ffprobe: ToolChoice = env.FFPROBE_PATH
    ? { path: env.FFPROBE_PATH, source: "env", found: isExecutable(env.FFPROBE_PATH) }
    : systemTool("ffprobe", env);
  return { ffmpeg, ffprobe };
}
