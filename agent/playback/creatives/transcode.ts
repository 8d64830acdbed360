// Runs a rendition plan through fluent-ffmpeg: one at a time, at low CPU priority (nice),
// reporting percent done from ffmpeg's progress lines.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { Logger } from "../../log.js";
import { CreativeRejected } from "./errors.js";
import type { FfmpegPlan } from "./fit.js";
import { SerialQueue } from "./queue.js";
import { checkTool } from "./tools.js";

const execFileAsync = promisify(execFile);

export interface TranscoderDeps {
  ffmpegPath: string;
  ffprobePath: string;
  log: Logger;
  /** 0 (normal) … 19 (lowest); a playing screen must never wait for an encode. */
  niceness?: number;
  /** ffmpeg is stopped after this long. */
  timeoutS?: number;
}

export type PercentListener = (percent: number) => void;

function timemarkSeconds(mark: string | undefined): number | null {
  const m = /^(-?)(\d+):(\d+):(\d+(?:\.\d+)?)$/.exec(mark ?? "");
  if (!m) return null;
  return Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
}

/** The last line ffmpeg wrote that says what went wrong, without the banner noise. */
function ffmpegProblem(err: Error, stderr: string | null): string {
  const lines = (stderr ?? "").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("frame=") && !/^(Input|Output|Stream|Duration|Metadata|built|configuration|lib|ffmpeg version|\[)/.test(l));
  return lines.pop() ?? err.message;
}

/**
 * ffmpeg's own failure rather than the input's: it could not be spawned (or `nice` could not
 * start it), was killed or stopped at its time limit, or exited without a word. Null otherwise.
 */
function toolProblem(err: Error & { code?: unknown }, stderr: string | null): string | null {
  if (typeof err.code === "string") return err.message;
  if (/killed with signal|ran into a timeout/.test(err.message)) return err.message;
  const lines = (stderr ?? "").split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const fromNice = lines.find((l) => l.startsWith("nice:"));
  if (fromNice) return fromNice;
  if (lines.length === 0) return `${err.message.replace(/:\s*$/, "")} and printed nothing`;
  return null;
}

/** A test pattern encoded to nowhere: a working ffmpeg does it in a fraction of a second. */
const KNOWN_GOOD = ["-v", "error", "-f", "lavfi", "-i", "testsrc2=s=64x36:r=10:d=1", "-c:v", "libx264", "-preset", "ultrafast", "-f", "null", "-"];
const KNOWN_GOOD_TIMEOUT_MS = 15_000;

export class Transcoder {
  private readonly queue = new SerialQueue();

  constructor(private readonly deps: TranscoderDeps) {}

  /** Transcodes queued or running. */
  get pending(): number {
    return this.queue.size;
  }

  /** Runs `plan` from `input` to `output`; waits its turn behind earlier transcodes. */
  run(plan: FfmpegPlan, input: string, output: string, durationMs: number | null, onPercent?: PercentListener): Promise<void> {
    return this.queue.run(() => this.runNow(plan, input, output, durationMs, onPercent));
  }

  /**
   * A transcode stopped at its time limit: the input's fault when ffmpeg encodes a known-good
   * pattern (so a refusal, not retried forever), the tool's when it cannot.
   */
  private async timedOut(problem: string): Promise<CreativeRejected> {
    try {
      await execFileAsync(this.deps.ffmpegPath, KNOWN_GOOD, { timeout: Math.min(KNOWN_GOOD_TIMEOUT_MS, (this.deps.timeoutS ?? 3600) * 1000) });
    } catch {
      return new CreativeRejected("tool-failed", `ffmpeg failed to run: ${problem}`);
    }
    const limit = this.deps.timeoutS ?? 3600;
    return new CreativeRejected("transcode-timeout", `fitting it took longer than ${limit} s (ffmpeg itself works: a test pattern encodes); the file costs too much to fit`);
  }

  private async runNow(plan: FfmpegPlan, input: string, output: string, durationMs: number | null, onPercent?: PercentListener): Promise<void> {
    const { log } = this.deps;
    // A broken ffmpeg must not pass for a creative ffmpeg cannot transcode.
    await checkTool(this.deps.ffmpegPath, "ffmpeg");
    // Loaded at the first transcode: a daemon playing from its cache never needs it (some 10 MB).
    const { default: ffmpeg } = await import("fluent-ffmpeg");
    return new Promise<void>((resolve, reject) => {
      const command = ffmpeg({ niceness: this.deps.niceness ?? 19, timeout: this.deps.timeoutS ?? 3600 })
        .setFfmpegPath(this.deps.ffmpegPath)
        .setFfprobePath(this.deps.ffprobePath)
        .input(input);
      // Spread, not an array: fluent-ffmpeg would split an array item holding one space.
      if (plan.inputOptions.length > 0) command.inputOptions(...plan.inputOptions);
      command.output(output).outputOptions(...plan.outputOptions);
      command.on("start", (line: string) => log.debug({ command: line }, "transcode started"));
      if (onPercent && durationMs !== null && durationMs > 0) {
        command.on("progress", (progress: { percent?: number; timemark?: string }) => {
          const seconds = timemarkSeconds(progress.timemark);
          const percent = seconds !== null ? (seconds * 1000 * 100) / durationMs : progress.percent;
          if (percent !== undefined && Number.isFinite(percent)) onPercent(Math.max(0, Math.min(100, percent)));
        });
      }
      command.on("error", (err: Error, _stdout: string | null, stderr: string | null) => {
        const broken = toolProblem(err, stderr);
        if (broken === null) reject(new CreativeRejected("transcode-failed", `ffmpeg: ${ffmpegProblem(err, stderr)}`));
        else if (/ran into a timeout/.test(err.message)) void this.timedOut(broken).then(reject, reject);
        else reject(new CreativeRejected("tool-failed", `ffmpeg failed to run: ${broken}`));
      });
      command.on("end", () => {
        onPercent?.(100);
        resolve();
      });
      command.run();
    });
  }
}
