// ffmpeg and ffprobe (found the way the agent finds them: agent/playback/creatives/tools.ts), mpv
// (as the daemon starts it), and, for a screen with a real output, something to show it on.
import { readdirSync } from "node:fs";
import { isAbsolute } from "node:path";
import { mpvPath } from "../daemon/playback-services.js";
import { findOnPath, resolveMediaTools, type ToolChoice } from "../playback/creatives/tools.js";
import { fail, ok, warn, type CheckResult, type RunProgram } from "./types.js";

export interface MediaDeps {
  env: NodeJS.ProcessEnv;
  run: RunProgram;
  /** ffmpeg-static's binary, or null (tests pin it; default: whatever the package installed). */
  ffmpegStaticPath?: () => string | null;
}

const VERSION_TIMEOUT_MS = 4000;

function sourceWords(name: "ffmpeg" | "ffprobe", choice: ToolChoice): string {
  if (choice.source === "env") return `from $${name.toUpperCase()}_PATH`;
  return choice.source === "ffmpeg-static" ? "ffmpeg-static" : "the system's";
}

/** `<name> -version` (or --version) as a version string, or why not. */
async function versionOf(run: RunProgram, path: string, args: string[], pattern: RegExp): Promise<{ version: string } | { problem: string }> {
  const r = await run(path, args, VERSION_TIMEOUT_MS);
  if (r === null) return { problem: `${path} cannot be started` };
  if (r.status !== 0) return { problem: `${path} ${args.join(" ")} ${r.status === null ? "did not finish" : `exited with ${r.status}`}${r.stderr.trim() ? `: ${r.stderr.trim().split("\n")[0]}` : ""}` };
  const m = pattern.exec(r.stdout);
  if (!m) return { problem: `${path} is not what it should be (${args.join(" ")} printed ${JSON.stringify(r.stdout.split("\n")[0].slice(0, 60))})` };
  return { version: m[1] };
}

export async function checkMediaTool(name: "ffmpeg" | "ffprobe", deps: MediaDeps): Promise<CheckResult> {
  const tools = resolveMediaTools({ env: deps.env, ...(deps.ffmpegStaticPath ? { ffmpegStaticPath: deps.ffmpegStaticPath } : {}) });
  const choice = tools[name];
  const variable = `${name.toUpperCase()}_PATH`;
  if (!choice.found) {
    if (choice.source === "env") return fail(name, `${variable}=${choice.path} is not an executable file`, `point ${variable} at ${name}, or unset it to use the system's`);
    return fail(name, `${name} is not on PATH`, `apt-get install ffmpeg (or set ${variable}); creatives cannot be fitted without it`);
  }
  const found = await versionOf(deps.run, choice.path, ["-version"], new RegExp(`^${name} version (\\S+)`));
  if ("problem" in found) return fail(name, found.problem, choice.source === "system" ? "apt-get install --reinstall ffmpeg" : `point ${variable} at a working ${name}, or unset it`);
  return ok(name, `${choice.path} (${sourceWords(name, choice)}), version ${found.version}`);
}

export async function checkMpv(deps: Pick<MediaDeps, "env" | "run">): Promise<CheckResult> {
  const configured = mpvPath(deps.env);
  const path = isAbsolute(configured) ? configured : findOnPath(configured, deps.env.PATH);
  if (path === null) return fail("mpv", `${configured} is not on PATH`, "apt-get install mpv (or set MPV_PATH); nothing plays without it");
  const found = await versionOf(deps.run, path, ["--version"], /^mpv v?(\S+)/);
  if ("problem" in found) return fail("mpv", found.problem, deps.env.MPV_PATH ? "point MPV_PATH at a working mpv, or unset it" : "apt-get install --reinstall mpv");
  return ok("mpv", `${path}${deps.env.MPV_PATH ? " (from $MPV_PATH)" : ""}, version ${found.version}`);
}

/** DRM card devices (/dev/dri/card0 …): mpv --vo=drm, or the desktop that mpv's window is on. */
export function drmCards(dir = "/dev/dri"): string[] {
  try {
    return readdirSync(dir)
      .filter((n) => /^card\d+$/.test(n))
      .map((n) => `${dir}/${n}`);
  } catch {
    return [];
  }
}

export function checkDisplay(deps: { headless: boolean; env: NodeJS.ProcessEnv; cards?: () => string[] }): CheckResult {
  if (deps.headless) return ok("display", "none needed (player.headless: true: mpv plays with --vo=null)");
  const found: string[] = [];
  if (deps.env.DISPLAY) found.push(`DISPLAY=${deps.env.DISPLAY}`);
  if (deps.env.WAYLAND_DISPLAY) found.push(`WAYLAND_DISPLAY=${deps.env.WAYLAND_DISPLAY}`);
  found.push(...(deps.cards ?? drmCards)());
  if (found.length === 0) {
    return warn(
      "display",
      "no display: neither $DISPLAY, $WAYLAND_DISPLAY nor a DRM device (/dev/dri/card*) is there for mpv's window",
      "connect the output that feeds the sending card and start the desktop (or the graphics driver); on a box with no screen output set player.headless: true",
    );
  }
  return ok("display", found.join(", "));
}
