// Live orders through the running daemon (spec/cli.md): suspend, resume, takedown, and the
// technician's test play and test pattern. Only the daemon can carry them out (it holds the player
// and records them), so with no daemon they exit 1 saying so.
import { resolve } from "node:path";
import type { Command } from "commander";
import type { LiveSuspension, LiveTakedown } from "../commands/index.js";
import { PATTERN_NAMES } from "../playback/creatives/patterns.js";
import { action, cliConfig, CliError, intOption, localTime, timeOption } from "./common.js";
import { callRunningDaemon } from "./daemon-client.js";

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

interface SuspendOptions {
  reason: string;
  until?: string;
  campaign?: string[];
  blackout?: boolean;
}

async function suspend(opts: SuspendOptions, cmd: Command): Promise<void> {
  const config = cliConfig(cmd);
  const until = opts.until === undefined ? undefined : new Date(timeOption("--until", opts.until, config.timezone)).toISOString();
  const args = { reason: opts.reason, ...(until ? { until } : {}), ...(opts.campaign ? { campaigns: opts.campaign } : {}), ...(opts.blackout ? { blackout: true } : {}) };
  const s = (await callRunningDaemon(config, "suspend", args)) as LiveSuspension;
  const scope = s.campaigns === null ? "the whole screen" : `campaigns ${s.campaigns.join(", ")}`;
  const end = s.until === null ? "until `ledagent resume`" : `until ${localTime(s.until, config.timezone)}`;
  process.stdout.write(`suspended ${scope} ${end}${s.blackout ? ", screen blacked out" : ""}\n`);
}

async function resume(cmd: Command): Promise<void> {
  const config = cliConfig(cmd);
  const { suspendedFor } = (await callRunningDaemon(config, "resume", {})) as { suspendedFor: number };
  process.stdout.write(`resumed after ${Math.round(suspendedFor / 1000)} s suspended\n`);
}

interface TakedownOptions {
  campaign?: string;
  creative?: string;
  lift?: boolean;
  /** false with --no-immediate. */
  immediate: boolean;
}

async function takedown(opts: TakedownOptions, cmd: Command): Promise<void> {
  if ((opts.campaign === undefined) === (opts.creative === undefined)) throw new CliError("takedown: give exactly one of --campaign K or --creative C", 2);
  if (opts.lift && !opts.immediate) throw new CliError("takedown: --no-immediate does not go with --lift (a lift only ends the order)", 2);
  const config = cliConfig(cmd);
  const target = opts.campaign !== undefined ? { campaign: opts.campaign } : { creative: opts.creative as string };
  const what = opts.campaign !== undefined ? `campaign ${opts.campaign}` : `creative ${opts.creative}`;
  if (opts.lift) {
    await callRunningDaemon(config, "takedown", { ...target, lift: true });
    process.stdout.write(`takedown of ${what} lifted: it may air again\n`);
    return;
  }
  const t = (await callRunningDaemon(config, "takedown", { ...target, ...(opts.immediate ? {} : { immediate: false }) })) as LiveTakedown;
  const when = opts.immediate ? "now" : "once what is on screen ends";
  process.stdout.write(`${what} taken off air ${when} (order since ${localTime(t.since, config.timezone)})\n`);
}

async function testPlay(file: string, opts: { times?: string }, cmd: Command): Promise<void> {
  const times = opts.times === undefined ? undefined : intOption("--times", opts.times, 1, 100);
  const config = cliConfig(cmd);
  // The daemon's working directory is not the technician's.
  const { queued } = (await callRunningDaemon(config, "play", { file: resolve(file), ...(times ? { times } : {}) })) as { queued: number };
  process.stdout.write(`test play of ${resolve(file)} queued ${queued} time${queued === 1 ? "" : "s"} (recorded as events, never as paid plays)\n`);
}

async function pattern(name: string, opts: { seconds?: string }, cmd: Command): Promise<void> {
  if (!(PATTERN_NAMES as readonly string[]).includes(name)) throw new CliError(`pattern: ${JSON.stringify(name)} is not one of ${PATTERN_NAMES.join(", ")}`, 2);
  const seconds = opts.seconds === undefined ? undefined : intOption("--seconds", opts.seconds, 1, 3600);
  const config = cliConfig(cmd);
  const shown = (await callRunningDaemon(config, "pattern", { name, ...(seconds ? { seconds } : {}) })) as { pattern: string; seconds: number };
  process.stdout.write(`test pattern ${shown.pattern} on screen for ${shown.seconds} s\n`);
}

export function registerOrderCommands(program: Command): void {
  program
    .command("suspend")
    .description("suspend the whole screen (or some campaigns) now, through the running agent")
    .requiredOption("--reason <text>", "why (recorded in the ledger)")
    .option("--until <time>", "expected resume time (RFC 3339, or a local time in the configured timezone)")
    .option("--campaign <id>", "only this campaign (repeatable)", collect)
    .option("--blackout", "black the screen out at the controller while suspended")
    .action(action((opts: SuspendOptions, cmd: Command) => suspend(opts, cmd)));

  program
    .command("resume")
    .description("end the live suspension; the plays it cost are owed as make-goods")
    .action(action((_opts: unknown, cmd: Command) => resume(cmd)));

  program
    .command("takedown")
    .description("take a campaign or a creative off air now (or, with --lift, let it air again)")
    .option("--campaign <id>", "the campaign")
    .option("--creative <id>", "the creative")
    .option("--lift", "end the standing takedown of that campaign or creative")
    .option("--no-immediate", "let what is on screen finish first")
    .action(action((opts: TakedownOptions, cmd: Command) => takedown(opts, cmd)));

  program
    .command("play <file>")
    .description("a technician's test play of a local file (ledger events, never a paid play)")
    .option("--times <n>", "how many times in a row (1–100)")
    .action(action((file: string, opts: { times?: string }, cmd: Command) => testPlay(file, opts, cmd)));

  program
    .command("pattern <name>")
    .description(`show a test pattern rendered at the panel's exact size: ${PATTERN_NAMES.join(" | ")}`)
    .option("--seconds <n>", "how long (1–3600, default 60)")
    .action(action((name: string, opts: { seconds?: string }, cmd: Command) => pattern(name, opts, cmd)));
}
