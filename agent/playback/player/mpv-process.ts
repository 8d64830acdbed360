// Starting the one long-lived mpv: its command line, and a connection to its IPC socket.
import { createConnection } from "node:net";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { SocketTransport } from "./transport.js";

export interface MpvOptions {
  socketPath: string;
  panel: { width: number; height: number };
  output: { x: number; y: number };
  /** --vo=null --ao=null: no window, no sound device, still decoding in real time. */
  headless: boolean;
  audio: boolean;
  /** More options, appended last (a site's --vo=drm, --drm-connector=…). */
  extraArgs?: readonly string[];
}

/** mpv's command line for a screen. Pure, so the choices are tested without starting mpv. */
export function mpvArgs(o: MpvOptions): string[] {
  const args = [
    // A site's mpv.conf or scripts must not change what airs.
    "--no-config",
    `--input-ipc-server=${o.socketPath}`,
    // Stays up between items; the playlist is fed over IPC.
    "--idle=yes",
    // Ends each file at its end and moves on; never holds the last frame of a finished ad.
    "--keep-open=no",
    // Opens the next queued file while the current one plays: part of what keeps the
    // transition within a frame or two.
    "--prefetch-playlist=yes",
    // Nothing drawn over the ad, no key or mouse can change what plays.
    "--osd-level=0",
    "--no-osd-bar",
    "--no-osc",
    "--no-input-default-bindings",
    "--input-vo-keyboard=no",
    "--no-input-cursor",
    "--no-terminal",
    "--border=no",
    `--geometry=${o.panel.width}x${o.panel.height}${signed(o.output.x)}${signed(o.output.y)}`,
    "--no-keepaspect-window",
    "--cursor-autohide=always",
    // Stills stay until their item's own image-display-duration ends them.
    "--image-display-duration=inf",
  ];
  if (!o.audio) args.push("--no-audio");
  if (o.headless) args.push("--vo=null", "--ao=null");
  else args.push("--force-window=yes", "--stop-screensaver=yes");
  return [...args, ...(o.extraArgs ?? [])];
}

/** X geometry offsets: "+0", "+1920", "-10". */
function signed(n: number): string {
  return n < 0 ? String(n) : `+${n}`;
}

export interface StartedMpv {
  child: ChildProcess;
  transport: SocketTransport;
}

/**
 * Spawns mpv and connects to its socket, which it creates a few ms to a second after start.
 * A stale socket from a killed mpv is removed first, so a connect never reaches a dead one.
 */
export async function startMpv(mpvPath: string, o: MpvOptions, timeoutMs = 10_000): Promise<StartedMpv> {
  await quitOrphan(o.socketPath);
  rmSync(o.socketPath, { force: true });
  const child = spawn(mpvPath, mpvArgs(o), { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (s: string) => {
    stderr = (stderr + s).slice(-2000);
  });
  const exited = new Promise<string>((resolve) => {
    child.once("error", (err) => resolve(err.message));
    child.once("exit", (code, signal) => resolve(`exited (${signal ?? `code ${code}`})${stderr ? `: ${stderr.trim()}` : ""}`));
  });
  let early: string | null = null;
  void exited.then((why) => (early = why));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (early !== null) throw new Error(`mpv ${early}`);
    if (existsSync(o.socketPath)) {
      try {
        return { child, transport: await SocketTransport.connect(o.socketPath) };
      } catch {
        // The file exists before mpv listens on it: try again shortly.
      }
    }
    await sleep(20);
  }
  child.kill("SIGKILL");
  throw new Error(`mpv did not open ${o.socketPath} within ${timeoutMs} ms`);
}

/**
 * An mpv left running by an agent killed with -9 (outside systemd, which kills the whole cgroup)
 * still listens on the socket and would go on showing its last frames over ours: it is told to
 * quit before a new one starts. Nothing listening (the usual case) costs one refused connect.
 */
export async function quitOrphan(socketPath: string, waitMs = 2000): Promise<boolean> {
  if (!existsSync(socketPath)) return false;
  return new Promise((resolve) => {
    const socket = createConnection(socketPath);
    const done = (quit: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(quit);
    };
    const timer = setTimeout(() => done(true), waitMs);
    socket.once("connect", () => {
      socket.write(`${JSON.stringify({ command: ["quit"] })}\n`);
      socket.once("close", () => done(true));
    });
    socket.once("error", () => done(false));
    socket.resume();
  });
}
