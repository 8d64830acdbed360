// Figure 3: from spawning `ledagent run` (the built CLI, headless mpv, the `none` controller) to
// the first play's first frame, with the renditions already in the cache; the first frame is the
// first play entry's startedAt in the daemon's ledger (mpv's playback-restart, stamped by the
// player's reader thread). Cold is the first spawn after the cache was filled, warm the second.
// Baselines: spawning the same CLI for `--version` (node startup and every import, then exit),
// and the Player on its own reaching the first frame of the same rendition (mpv's spawn, IPC
// connection, load and decode).
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { silentLogger } from "../agent/log.js";
import { Player } from "../agent/playback/player/index.js";
import { openLedgerReader } from "../agent/proofs/open.js";
import type { PlayEntry } from "../agent/proofs/types.js";
import { AREA, met, progress } from "./playout-common.js";
import { benchSchedule, buildPlayoutRig, configYaml, fillCache, makeClip, PANEL } from "./playout-rig.js";
import type { BenchReport } from "./report.js";

const CLI = fileURLToPath(new URL("../../bin/ledagent.js", import.meta.url));
const TARGET_S = 3;
const FIRST_PLAY_TIMEOUT_MS = 60_000;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

type Reader = ReturnType<typeof openLedgerReader>["reader"];

interface DaemonStart {
  firstFrameMs: number;
  play: PlayEntry["play"];
}

/** The first play entry after seq `after`, polled every 50 ms; `gone` says why to give up. */
async function firstPlayAfter(reader: Reader, after: number, gone: () => string | null): Promise<PlayEntry> {
  const deadline = Date.now() + FIRST_PLAY_TIMEOUT_MS;
  for (;;) {
    for (const row of reader.rows(after + 1)) {
      after = row.seq;
      const entry = JSON.parse(row.body) as PlayEntry | { kind: string };
      if (entry.kind === "play") return entry as PlayEntry;
    }
    const why = gone() ?? (Date.now() > deadline ? `no play recorded within ${FIRST_PLAY_TIMEOUT_MS / 1000} s` : null);
    if (why) throw new Error(why);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Spawns the daemon, waits for its first play in the ledger, then stops it with SIGTERM. */
async function daemonStart(configFile: string, reader: Reader): Promise<DaemonStart> {
  const after = reader.head()?.seq ?? 0;
  const spawnedAt = Date.now();
  const child = spawn(process.execPath, [CLI, "run", "--config", configFile], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve((exitCode = code))));
  try {
    const first = await firstPlayAfter(reader, after, () => (exitCode === undefined ? null : `ledagent run exited (${exitCode}) before its first play:\n${output.slice(0, 2000)}`));
    return { firstFrameMs: Date.parse(first.play.startedAt) - spawnedAt, play: first.play };
  } finally {
    const stopping = Date.now();
    if (exitCode === undefined) child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const code = await exited;
    clearTimeout(killer);
    if (code !== 0) progress(`figure 3: ledagent run exited with ${code} after SIGTERM (${Date.now() - stopping} ms)`);
  }
}

/** Node's start and every import of the CLI: `ledagent --version`, spawn to exit. */
async function cliVersion(): Promise<number> {
  const began = performance.now();
  const child = spawn(process.execPath, [CLI, "--version"], { stdio: "ignore" });
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`ledagent --version exited with ${code}`);
  return performance.now() - began;
}

/** The Player alone: mpv spawned, connected, the rendition loaded and its first frame shown. */
async function playerFirstFrame(dir: string, file: string): Promise<number> {
  const player = new Player({ mpvPath: "mpv", runDir: dir, panel: PANEL, output: { x: 0, y: 0 }, headless: true, audio: false, log: silentLogger() });
  const began = Date.now();
  const started = new Promise<number>((resolve) => player.once("started", (e) => resolve(e.at.wallMs)));
  try {
    await player.start();
    await player.play({ id: "first", file, kind: "video" });
    return (await started) - began;
  } finally {
    await player.close();
  }
}

export async function startFigures(report: BenchReport, dir: string): Promise<void> {
  progress("figure 3: filling the cache (the daemon's preset, medium)");
  const clips = {
    paid: [makeClip(dir, "gamma", 2, "testsrc"), makeClip(dir, "delta", 2, "rgbtestsrc")],
    fill: [makeClip(dir, "lobby", 3, "smptebars"), makeClip(dir, "porch", 3, "testsrc2")],
  };
  const rig = buildPlayoutRig(join(dir, "start"), { preset: "medium" });
  let renditions: Map<string, string>;
  try {
    const applied = rig.apply(benchSchedule({ version: 1, ...clips, playsPerHour: 600 }));
    if (applied.state !== "applied") throw new Error(`schedule not applied: ${JSON.stringify(applied)}`);
    renditions = await fillCache(rig, [...clips.paid, ...clips.fill]);
  } finally {
    await rig.close();
  }
  const configFile = join(dir, "start-config.yaml");
  writeFileSync(configFile, configYaml(rig.config), { mode: 0o600 });
  const { reader, close } = openLedgerReader(rig.config);
  let cold: DaemonStart;
  let warm: DaemonStart;
  let third: DaemonStart;
  try {
    progress("figure 3: ledagent run, first spawn");
    cold = await daemonStart(configFile, reader);
    progress("figure 3: ledagent run, second spawn");
    warm = await daemonStart(configFile, reader);
    // Only to show how much one spawn varies on this machine.
    third = await daemonStart(configFile, reader);
  } finally {
    close();
  }
  progress("figure 3: baselines");
  const versions = [await cliVersion(), await cliVersion(), await cliVersion()];
  const file = renditions.get(warm.play.creative) ?? [...renditions.values()][0];
  const mpvFirst = [await playerFirstFrame(dir, file), await playerFirstFrame(dir, file), await playerFirstFrame(dir, file)];

  const used = "node bin/ledagent.js run --config F (player.headless, controller none), renditions fitted beforehand with the daemon's preset; first frame = the first play entry's startedAt in its ledger";
  const about = (s: DaemonStart): string => `first play ${s.play.creative} (${s.play.customer}), ${s.play.status}`;
  report.figure(AREA, "start → first frame, node startup + imports (ledagent --version)", median(versions) / 1000, "s", `the baseline: spawn to exit, median of 3 (${versions.map((v) => v.toFixed(0)).join(", ")} ms), after the daemon runs`);
  report.figure(AREA, "start → first frame, Player alone on the same rendition", median(mpvFirst) / 1000, "s", `the baseline: mpv spawned, IPC connected, loadfile, first frame; median of 3 (${mpvFirst.map((v) => v.toFixed(0)).join(", ")} ms)`);
  report.figure(AREA, "cold start → first frame from the cache (ledagent run, first spawn)", cold.firstFrameMs / 1000, "s", `${used}; ${about(cold)}; OS caches hold what the bench just wrote and loaded; target ≤ ${TARGET_S} s: ${met(cold.firstFrameMs <= TARGET_S * 1000)}`);
  report.figure(AREA, "warm start → first frame from the cache (ledagent run, second spawn)", warm.firstFrameMs / 1000, "s", `${about(warm)}; a third spawn took ${(third.firstFrameMs / 1000).toFixed(2)} s; target ≤ ${TARGET_S} s: ${met(warm.firstFrameMs <= TARGET_S * 1000)}`);
}
