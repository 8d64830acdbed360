// The box: how soon `ledagent demo` shows its first play (cold: its creatives made with ffmpeg and
// fitted; warm: made before, fitted afresh), how soon `ledagent run` tells systemd READY, and how
// regularly it feeds the watchdog. Baseline: a bare `ledagent --version`, in the same run.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI } from "./link-rig.js";
import { percentile } from "./player.js";
import type { BenchReport } from "./report.js";

const AREA = "box";

function versionMs(): number {
  const began = performance.now();
  spawnSync(process.execPath, [CLI, "--version"]);
  return performance.now() - began;
}

/** `ledagent doctor` on a device set up by `init` (no controller, no broker): the checks' own cost. */
function doctorMs(config: string): number {
  const began = performance.now();
  spawnSync(process.execPath, [CLI, "doctor", "--config", config]);
  return performance.now() - began;
}

/** Spawns the demo and resolves with ms from spawn to its first play line, then lets it stop. */
function demoFirstPlayMs(dir: string): Promise<number> {
  const began = performance.now();
  const child = spawn(process.execPath, [CLI, "demo", "--headless", "--dir", dir, "--plays", "1"], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, DISPLAY: "" } });
  let out = "";
  let firstPlay: number | null = null;
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    if (firstPlay === null && /\d {2}play {3}#/.test(out)) firstPlay = performance.now() - began;
  });
  return new Promise((resolve, reject) =>
    child.on("exit", (code) => (code === 0 && firstPlay !== null ? resolve(firstPlay) : reject(new Error(`demo exited ${code}: ${out.slice(-2000)}`)))),
  );
}

interface ListeningSocket {
  bind(path: string): void;
  close(): void;
}

/** `ledagent run` under a stand-in systemd: ms to READY=1, and the gaps between watchdog pings. */
async function notifyFigures(dir: string): Promise<{ readyMs: number; gaps: number[] }> {
  const unixDgram = createRequire(import.meta.url)("unix-dgram") as { createSocket(type: "unix_dgram", onMessage: (msg: Buffer) => void): ListeningSocket };
  const config = join(dir, "config.yaml");
  spawnSync(process.execPath, [CLI, "init", "--screen", "bench-box", "--data-dir", join(dir, "data"), "--run-dir", join(dir, "run"), "--panel", "64x32", "--headless", "--config", config]);
  const socketPath = join(dir, "notify.sock");
  const pings: number[] = [];
  let readyAt: number | null = null;
  const began = performance.now();
  const systemd = unixDgram.createSocket("unix_dgram", (msg) => {
    const text = msg.toString();
    if (readyAt === null && /^READY=1$/m.test(text)) readyAt = performance.now() - began;
    if (/^WATCHDOG=1$/m.test(text)) pings.push(performance.now());
  });
  systemd.bind(socketPath);
  const child = spawn(process.execPath, [CLI, "run", "--config", config], { stdio: "ignore", env: { ...process.env, NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: "3000000" } });
  await new Promise((r) => setTimeout(r, 20_000));
  child.kill("SIGTERM");
  await new Promise((r) => child.on("exit", r));
  systemd.close();
  if (readyAt === null) throw new Error("the agent never said READY=1");
  return { readyMs: readyAt, gaps: pings.slice(1).map((t, i) => t - pings[i]) };
}

export async function bench(report: BenchReport): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "ledagent-bench-box-"));
  try {
    const baseline = versionMs();
    report.figure(AREA, "cli start (ledagent --version), baseline", baseline, "ms");
    const cold = await demoFirstPlayMs(join(dir, "demo"));
    report.figure(AREA, "demo: spawn to first play, cold", cold / 1000, "s", `${(cold / baseline).toFixed(0)}× the baseline; creatives made with ffmpeg, then fitted; target < 60 s`);
    const warm = await demoFirstPlayMs(join(dir, "demo"));
    report.figure(AREA, "demo: spawn to first play, warm", warm / 1000, "s", `${(warm / baseline).toFixed(0)}× the baseline; creatives kept, fitted afresh`);
    const notify = await notifyFigures(join(dir, "notify"));
    report.figure(AREA, "run: spawn to systemd READY=1", notify.readyMs, "ms", `${(notify.readyMs / baseline).toFixed(1)}× the baseline`);
    report.figure(AREA, "watchdog ping gap p50", percentile(notify.gaps, 50), "ms", `WatchdogSec 3 s asks a check every 1000 ms; ${notify.gaps.length} gaps`);
    report.figure(AREA, "watchdog ping gap max", Math.max(...notify.gaps), "ms", "systemd kills at 3000 ms");
    const doctor = doctorMs(join(dir, "notify", "config.yaml"));
    report.figure(AREA, "doctor: every check, no agent running", doctor, "ms", `${(doctor / baseline).toFixed(1)}× the baseline; bounded at 10 s`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
