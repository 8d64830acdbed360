// `ledagent demo` (`npm start`): the whole agent on this machine (agent/demo/demo.ts), told as it
// happens: each play (time, customer, creative, status, screen state) and each verified proof
// batch; at Ctrl-C (or after --for seconds) a delivery summary and what the collector holds.
import { createWriteStream, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import type { BatchReport } from "../collector/index.js";
import { Demo, DemoStopped, type DemoSummary } from "../demo/demo.js";
import { createLogger } from "../log.js";
import { deliveryTable } from "../playback/delivery/from-ledger.js";
import { resolveMediaTools } from "../playback/creatives/tools.js";
import type { PlayEntry } from "../proofs/types.js";
import { action, CliError, intOption } from "./common.js";

interface DemoFlags {
  dir: string;
  headless?: boolean;
  for?: string;
  plays?: string;
}

const clock = (ms: number): string => new Date(ms).toLocaleTimeString("en-GB", { hour12: false });
const say = (line: string): void => void process.stdout.write(`${clock(Date.now())}  ${line}\n`);

function screenText(s: PlayEntry["play"]["screenState"]): string {
  if (!s.online) return "controller offline (not verified)";
  const state = s.blackout ? "blacked out" : `on ${s.brightness ?? "?"}%`;
  return `${state}${s.verified ? ", verified by the controller" : ""}`;
}

/** Printed when the play is recorded (at its end): when it started, for how long, and how it went. */
function playLine(e: PlayEntry): string {
  const p = e.play;
  const who = p.customer === "fill" ? "house" : p.customer;
  const when = `${clock(Date.parse(p.startedAt))} +${(p.durationMs / 1000).toFixed(1)} s`;
  return `play   #${String(e.seq).padEnd(4)} ${when.padEnd(16)} ${who.padEnd(13)} ${p.creative.padEnd(15)} ${p.status.padEnd(11)} ${screenText(p.screenState)}${p.makeGood ? "  (make-good)" : ""}`;
}

function batchLine(r: BatchReport): string {
  const range = r.fromSeq === null ? "" : ` #${r.fromSeq}–${r.throughSeq}`;
  const problems = r.problems.length === 0 ? "signatures and chain verified" : `${r.problems.length} problem(s): ${r.problems.map((p) => p.kind).join(", ")}`;
  return `proofs batch${range}: ${problems}, ${r.stored} stored, ${r.duplicates} duplicate(s), ${r.acked === null ? "not acked" : `acked through #${r.acked}`}`;
}

function summary(s: DemoSummary): string {
  const lines = ["", "Delivery since the demo began (contracted vs delivered, per campaign):", deliveryTable(s.delivery).trimEnd(), ""];
  const c = s.collector;
  if (c) {
    const gaps = c.gaps.length === 0 ? "no gaps" : `gaps ${c.gaps.map((g) => `${g.fromSeq}–${g.toSeq}`).join(", ")}`;
    lines.push(`Proofs: the device's ledger reached #${s.deviceHeadSeq ?? "?"} before its stop; the collector verified and holds ${c.entries} entries through #${c.headSeq}, ${gaps}, ${c.problems.length} problem(s).`);
  } else lines.push("Proofs: the collector holds nothing yet.");
  lines.push("The stop's own entries stay on the device (the link stops first).");
  if (s.config) {
    lines.push(
      "",
      "Look closer (the demo's state is kept until the next demo):",
      `  npx ledagent proofs export --config ${s.config} --format csv`,
      `  npx ledagent report delivery --config ${s.config}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

async function runDemo(o: DemoFlags): Promise<void> {
  const seconds = o.for === undefined ? null : intOption("--for", o.for, 1, 86_400);
  const maxPlays = o.plays === undefined ? null : intOption("--plays", o.plays, 1, 1_000_000);
  const dir = resolve(o.dir);
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, "demo.log");
  const log = createLogger({ level: "info", destination: createWriteStream(logFile, { flags: "w" }) });
  const headless = o.headless === true || !(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
  const timezone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const ffmpeg = resolveMediaTools().ffmpeg;
  if (!ffmpeg.found) throw new CliError("ffmpeg is not installed: apt-get install ffmpeg (npm start does it when run as root)");
  process.stdout.write(`ledagent demo: the whole agent on this machine. ${seconds === null ? "Ctrl-C stops it" : `It stops after ${seconds} s`} and prints what was delivered. Log: ${logFile}\n`);

  const demo = new Demo({ dir, headless, ffmpeg: ffmpeg.path, log, timezone });
  demo.on("step", (line) => say(line));
  let plays = 0;
  const began = Date.now();
  demo.on("play", (e) => {
    say(playLine(e));
    plays += 1;
    if (plays === 1) say(`first play on screen ${((Date.parse(e.play.startedAt) - began) / 1000).toFixed(1)} s after the demo started`);
    if (maxPlays !== null && plays >= maxPlays) stop.now();
  });
  demo.on("batch", (r) => say(batchLine(r)));
  const stop = stopSignal(seconds);
  let failure: Error | null = null;
  const starting = demo.start().then(
    (status) => say(status.state === "applied" ? "schedule v1 applied: on air" : `schedule v1 ${status.state}: ${status.reasons.join("; ")}`),
    (err: Error) => {
      if (err instanceof DemoStopped) return;
      failure = err;
      stop.now();
    },
  );
  // A signal, --for, --plays, or a start that failed: everything started is stopped again.
  await stop.promise;
  say(failure ? "stopping what had started" : "stopping: a last proof sync, then every part");
  const result = await demo.stop();
  await starting;
  log.flush();
  if (failure) throw new CliError(`the demo could not start: ${(failure as Error).message}`);
  process.stdout.write(summary(result));
}

/**
 * Resolves on SIGINT/SIGTERM, after `seconds`, or when told. A signal once the stop has begun
 * (for whatever reason) exits at once: the stop is taking too long for whoever sent it.
 */
function stopSignal(seconds: number | null): { promise: Promise<void>; now: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  let stopping = false;
  const done = (): void => {
    stopping = true;
    resolve();
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(signal === "SIGINT" ? 130 : 143);
    done();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  if (seconds !== null) setTimeout(done, seconds * 1000).unref();
  return { promise, now: () => done() };
}

export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description("everything on this machine: broker, NovaStar simulator, generated creatives, a signed schedule over MQTT, the agent playing, a collector verifying proofs")
    .option("--dir <dir>", "where the demo keeps its media and state", ".ledagent-demo")
    .option("--headless", "no mpv window even when a display exists")
    .option("--for <seconds>", "stop by itself after this many seconds")
    .option("--plays <n>", "stop by itself once this many plays are recorded")
    .action(action((o: DemoFlags) => runDemo(o)));
}
