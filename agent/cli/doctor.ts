// `ledagent doctor`: one line per check (ok / warn / fail), the fix to try under each warn and
// fail, the running agent's status under the daemon line; exit 1 when anything failed. The checks
// themselves live in agent/doctor/.
import type { Command } from "commander";
import { runDoctor, type CheckResult, type DoctorReport } from "../doctor/index.js";
import { action, globalOptions } from "./common.js";
import { statusText } from "./status-output.js";

const LEVEL_WIDTH = 5;
const NAME_WIDTH = 13;
const INDENT = " ".repeat(LEVEL_WIDTH + NAME_WIDTH);

function line(c: CheckResult): string {
  const head = `${c.level.padEnd(LEVEL_WIDTH)}${c.name.padEnd(NAME_WIDTH - 1)} ${c.detail}`;
  return c.fix ? `${head}\n${INDENT}→ fix: ${c.fix}` : head;
}

/** The report as people read it, without a trailing newline. */
export function doctorText(report: DoctorReport): string {
  const lines: string[] = [];
  for (const c of report.checks) {
    lines.push(line(c));
    // What `ledagent status` prints, under the line that says the agent runs.
    if (c.name === "daemon" && report.daemon) lines.push(...statusText(report.daemon, report.timezone).split("\n").map((l) => `${INDENT}${l}`));
  }
  if (report.skipped.length > 0) lines.push(`${INDENT}not checked without a usable config: ${report.skipped.join(", ")}`);
  const fails = report.checks.filter((c) => c.level === "fail").length;
  const warns = report.checks.filter((c) => c.level === "warn").length;
  lines.push("", fails + warns === 0 ? "all checks ok" : `${fails} failed, ${warns} to look at`);
  return lines.join("\n");
}

export function registerDoctorCommand(program: Command): void {
  program
    .command("doctor")
    .description("checks config, keys, ledger, ffmpeg/ffprobe, mpv, controller, broker, clock, disk, permissions and the running agent; one line each, with the fix to try; exit 1 on any fail")
    .option("--json", "the report as one JSON object: { ok, checks: [{ name, level, detail, fix? }], daemon, skipped }")
    .action(
      action(async (opts: { json?: boolean }, cmd: Command) => {
        const report = await runDoctor({ configFile: globalOptions(cmd).config, becomeAgent: true });
        process.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : `${doctorText(report)}\n`);
        // A check left running past its time limit (a hung tool) must not keep the command alive.
        process.exit(report.ok ? 0 : 1);
      }),
    );
}
