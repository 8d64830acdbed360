// Which ffmpeg and ffprobe the agent runs: FFMPEG_PATH / FFPROBE_PATH, else ffmpeg-static's
// binary when the optional package installed one, else the system's on PATH. The choice is
// exposed (resolveMediaTools) for a doctor command to come, so a technician can see which build
// transcodes. Also here: telling a failing tool apart from an input the tool cannot read.
import { execFile } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import { CreativeRejected, errorLine } from "./errors.js";

const execFileAsync = promisify(execFile);

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

export type ToolName = "ffmpeg" | "ffprobe";

/** What execFile / spawn rejects with (the fields this module reads). */
interface ChildFailure {
  /** A string for a spawn failure (ENOENT, EACCES …), the exit code for a non-zero exit. */
  code?: string | number | null;
  killed?: boolean;
  signal?: NodeJS.Signals | null;
  stderr?: string;
}

/**
 * Why running a tool failed when the fault is the tool's, not the input's: it could not be
 * spawned, was killed, or exited non-zero without a word. Null when it did say something
 * (then the words decide, and the tool must still pass checkTool before the input is blamed).
 */
export function toolFailure(err: unknown, path: string): string | null {
  const failure = (typeof err === "object" && err !== null ? err : {}) as ChildFailure;
  if (typeof failure.code === "string") return errorLine(err);
  if (failure.killed === true || (failure.signal ?? null) !== null) {
    return `${path} was ${failure.killed === true ? "stopped" : "killed"} (${failure.signal ?? "signal"})${failure.killed === true ? " after its time limit" : ""}`;
  }
  if ((failure.stderr ?? "").trim() === "") return `${path} exited with code ${String(failure.code ?? "?")} and printed nothing`;
  return null;
}

/** Tools that answered `-version` as themselves in this process (path per name). */
const verified = new Set<string>();

/**
 * Checks that `path` runs and is `name` (`<name> -version` prints "<name> version …"), once per
 * process and path; throws a tool-failed CreativeRejected otherwise. A failure is not remembered:
 * a tool fixed while the agent runs is used at the next attempt.
 */
export async function checkTool(path: string, name: ToolName): Promise<void> {
  const key = `${name}\0${path}`;
  if (verified.has(key)) return;
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync(path, ["-version"], { timeout: 15_000, maxBuffer: 1024 * 1024 }));
  } catch (err) {
    const stderr = ((err as ChildFailure).stderr ?? "").trim().split("\n")[0];
    throw new CreativeRejected("tool-failed", `${name} failed to run: ${toolFailure(err, `${path} -version`) ?? `${path} -version: ${stderr}`}`);
  }
  if (!stdout.startsWith(`${name} version`)) {
    const first = stdout.split("\n")[0].trim();
    throw new CreativeRejected("tool-failed", `${name} failed to run: ${path} is not ${name} (-version printed ${first === "" ? "nothing" : JSON.stringify(first.slice(0, 80))})`);
  }
  verified.add(key);
}
