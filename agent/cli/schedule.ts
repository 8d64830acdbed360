// `ledagent schedule load F | show | plan` and `ledagent report delivery`.
import type { Command } from "commander";
import { z } from "zod";
import { callDaemon, DaemonCallError, type DaemonCall } from "../commands/client.js";
import type { Config } from "../config.js";
import { agentPaths } from "../paths.js";
import { deliveryCsv } from "../playback/delivery/delivery.js";
import { deliveryFromLedger, deliveryTable } from "../playback/delivery/from-ledger.js";
import { plannerHistory, readLiveOrders, plannerOrders, type SkippedEntry } from "../playback/history/index.js";
import { plan, type Plan, type PlannerInput } from "../playback/planner/index.js";
import {
  applyEnvelopeText,
  capReasons,
  checkEnvelope,
  loadOpsPublicKey,
  MAX_ENVELOPE_BYTES,
  MAX_PLAN_ITEMS,
  planSizeEstimate,
  ScheduleStore,
  validateDocument,
  type ApplyResult,
  type CurrentSchedule,
  type ScheduleDocument,
  type Validation,
  type EnvelopeCheck,
} from "../playback/schedule/index.js";
import { openLedger, openLedgerReader } from "../proofs/open.js";
import { readTrustedFile, TrustedFileError } from "../store/index.js";
import { planJsonLines, planTableLines, writeLines } from "./plan-output.js";
import { action, CliError, cliConfig, intOption, timeOption } from "./common.js";

/**
 * A schedule file's bytes, at most MAX_ENVELOPE_BYTES + 1 of them: enough for the size check to
 * refuse a larger one without reading (or holding) the rest. A path that cannot be read (or is a
 * FIFO, a device, a directory) delivered nothing: an error, not a rejection.
 */
function readScheduleFile(path: string): Buffer {
  try {
    return readTrustedFile(path, { maxBytes: MAX_ENVELOPE_BYTES, truncate: true });
  } catch (err) {
    if (!(err instanceof TrustedFileError)) throw err;
    throw new CliError(`schedule ${err.message}`);
  }
}

/** A preview's file: bounded like a load, then parsed. */
function readScheduleJson(path: string): unknown {
  const bytes = readScheduleFile(path);
  if (bytes.length > MAX_ENVELOPE_BYTES) throw new CliError(`schedule ${path}: too large: more than the limit of ${MAX_ENVELOPE_BYTES} bytes`);
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new CliError(`schedule ${path}: not JSON`);
  }
}

/** The last version the ledger recorded as applied, when there is a ledger to ask. */
function lastAppliedVersion(config: Config): EnvelopeCheck["lastApplied"] {
  let opened;
  try {
    opened = openLedgerReader(config);
  } catch {
    return null; // no ledger yet: nothing was ever applied here
  }
  try {
    const version = opened.reader.lastEvent("schedule.applied")?.event.version;
    return Number.isSafeInteger(version) ? { version: version as number } : null;
  } finally {
    opened.close();
  }
}

function storedSchedule(config: Config): CurrentSchedule {
  const current = new ScheduleStore({ path: agentPaths(config).scheduleFile }).current();
  if (!current) throw new CliError("no schedule loaded yet (ledagent schedule load F, or wait for ops to publish one)");
  return current;
}

/**
 * Why `schedule load` would refuse the envelope (or bare document) in `plan --schedule F`, which
 * still plans from it: a preview. Checked against this agent's config, key and stored version.
 */
function loadWarnings(file: string, raw: unknown, validation: Validation, cmd: Command): string[] {
  let check: EnvelopeCheck;
  try {
    const config = cliConfig(cmd);
    let currentVersion: number | null = null;
    try {
      currentVersion = new ScheduleStore({ path: agentPaths(config).scheduleFile }).current()?.document.version ?? null;
    } catch {
      currentVersion = null; // a damaged store does not block a load either
    }
    check = {
      opsPublicKey: loadOpsPublicKey(config),
      screenId: config.screenId,
      currentVersion,
      lastApplied: lastAppliedVersion(config),
      now: Date.now(),
      origin: "local",
      validate: () => validation, // judged once already, by the preview itself
    };
  } catch (err) {
    return [`${file} was not checked against \`schedule load\`: ${(err as Error).message.split("\n")[0]}`];
  }
  const bare = !(raw && typeof raw === "object" && "schedule" in raw);
  const decision = checkEnvelope(bare ? { schedule: raw } : raw, check);
  if (decision.outcome !== "reject") return [];
  const reasons = decision.reasons.map((r) => (bare && r.startsWith("unsigned:") ? "unsigned: a bare document, not a signed envelope" : r));
  return [`${file} would be rejected by \`schedule load\`: ${reasons.join("; ")}`];
}

const pad = (text: string, width: number): string => text.padEnd(width);

interface PlanOptions {
  schedule?: string;
  from?: string;
  hours: string;
  json?: boolean;
}

interface PlanOutcome {
  result: Plan;
  zone: string;
  warnings: string[];
}

/** The window to plan: --from (offset-less times read in the schedule's own zone, as its dayparts are), or now. */
function planWindow(opts: PlanOptions, hours: number, zone: string): { from: number; to: number } {
  const from = opts.from === undefined ? Date.now() : timeOption("--from", opts.from, zone);
  return { from, to: from + hours * 3_600_000 };
}

/** Refuses, before planning, a plan that would hold more items than MAX_PLAN_ITEMS. */
function checkPlanSize(doc: ScheduleDocument, hours: number): void {
  const estimate = planSizeEstimate(doc, hours);
  if (estimate <= MAX_PLAN_ITEMS) return;
  const fits = Math.max(1, Math.floor((hours * MAX_PLAN_ITEMS) / estimate));
  throw new CliError(`--hours ${hours}: this schedule may need up to ${estimate} items in ${hours} hours, more than the ${MAX_PLAN_ITEMS} a plan holds; plan at most ${fits} hours at a time`, 2);
}

/** `plan --schedule F`: a preview of a file, owing nothing, with what `load` would say of it. */
function planFile(file: string, opts: PlanOptions, hours: number, cmd: Command): PlanOutcome {
  const raw = readScheduleJson(file) as { schedule?: unknown };
  const validation = validateDocument(raw && typeof raw === "object" && "schedule" in raw ? raw.schedule : raw);
  if (!validation.ok) {
    const { reasons, moreReasons } = capReasons(validation.problems);
    throw new CliError(`${file}: ${reasons.join("; ")}${moreReasons ? `; and ${moreReasons} more` : ""}`);
  }
  const doc = validation.document;
  checkPlanSize(doc, hours);
  const result = plan({ schedule: doc, ...planWindow(opts, hours, doc.timezone) });
  return { result, zone: doc.timezone, warnings: loadWarnings(file, raw, validation, cmd) };
}

/** A ledger entry the history could not read: said, never fatal. */
const skippedWarning = (e: SkippedEntry): string => `ledger entry ${e.seq} (${e.type}) was not read: ${e.reason}`;

type HistoryInputs = Pick<PlannerInput, "delivered" | "appliedAt" | "suspensions" | "takedowns"> & { skipped: SkippedEntry[] };

/** The planner's inputs from the ledger for a plan from `from`, as of then (or of now, for a future `from`). */
function historyInputs(config: Config, current: CurrentSchedule, from: number): HistoryInputs {
  const now = Date.now();
  const { reader, close } = openLedgerReader(config);
  try {
    if (from > now) {
      // The time between now and a future --from has not happened: nothing is owed for it, but
      // the orders in force now still hold then.
      const orders = readLiveOrders(reader, { scheduleVersion: current.document.version, now });
      return { ...plannerOrders(orders), skipped: orders.skipped };
    }
    const history = plannerHistory(reader, current, { controllerConfigured: config.controller.driver !== "none", now: from });
    const { delivered, appliedAt, suspensions, takedowns } = history;
    return { delivered: delivered.counts(), appliedAt, suspensions, takedowns, skipped: history.orders.skipped };
  } finally {
    close();
  }
}

/**
 * `plan`: the stored schedule under the live orders (a suspension, standing takedowns), owing
 * what the ledger says is short since it was applied.
 */
function planStored(opts: PlanOptions, hours: number, cmd: Command): PlanOutcome {
  const config = cliConfig(cmd);
  const current = storedSchedule(config);
  const doc = current.document;
  checkPlanSize(doc, hours);
  const { from, to } = planWindow(opts, hours, doc.timezone);
  const { skipped, ...history } = historyInputs(config, current, from);
  return { result: plan({ schedule: doc, from, to, ...history }), zone: doc.timezone, warnings: skipped.map(skippedWarning) };
}

/** What a daemon answered schedule.load with, checked: it crossed a socket. */
const applyResultSchema = z.discriminatedUnion("state", [
  z.object({ state: z.literal("applied"), version: z.number(), previousVersion: z.number().nullable(), completed: z.literal(true).optional() }),
  z.object({ state: z.literal("unchanged"), version: z.number() }),
  z.object({ state: z.literal("rejected"), version: z.number().nullable(), reasons: z.array(z.string()), moreReasons: z.number() }),
]);

/**
 * `schedule load` through the running daemon, so that it applies the schedule itself (never two
 * appliers at once) and replans at once. null when no daemon runs: the CLI applies it directly.
 */
async function loadThroughDaemon(config: Config, file: string, bytes: Buffer): Promise<ApplyResult | null> {
  let call: DaemonCall;
  try {
    call = await callDaemon(config.runDir, "schedule.load", { envelope: bytes.toString("utf8"), source: `file:${file}` }, { timeoutMs: 60_000 });
  } catch (err) {
    if (!(err instanceof DaemonCallError)) throw err;
    const still = err.code === "timeout" ? "; it may still apply it (see `ledagent schedule show`)" : "";
    throw new CliError(`schedule load: ${err.message}${still}`);
  }
  if (call.daemon === "absent") return null;
  if (!call.outcome.ok) throw new CliError(call.outcome.error.message);
  const result = applyResultSchema.safeParse(call.outcome.result);
  if (!result.success) throw new CliError("schedule load: the daemon answered with something that is not a schedule outcome");
  return result.data;
}

/** `schedule load` without a daemon: this process applies it, exactly as the daemon would. */
function loadDirectly(config: Config, file: string, bytes: Buffer): ApplyResult {
  const opsPublicKey = loadOpsPublicKey(config);
  const { ledger, close } = openLedger(config);
  try {
    const store = new ScheduleStore({ path: agentPaths(config).scheduleFile });
    return applyEnvelopeText({ store, opsPublicKey, screenId: config.screenId, ledger, now: () => new Date() }, bytes, `file:${file}`, "local");
  } finally {
    close();
  }
}

/** What `schedule load` says of an outcome, whoever applied it; a rejection fails the command. */
function printApplyResult(result: ApplyResult): void {
  if (result.state === "rejected") {
    const more = result.moreReasons > 0 ? `; and ${result.moreReasons} more` : "";
    throw new CliError(`schedule rejected: ${result.reasons.join("; ")}${more}`);
  }
  if (result.state === "unchanged") {
    process.stdout.write(`schedule v${result.version} is already in force; nothing changed\n`);
    return;
  }
  const was = result.previousVersion !== null ? ` (was v${result.previousVersion})` : "";
  const completed = result.completed ? "; the ledger had recorded it already, the stored schedule was behind and is now complete" : "";
  process.stdout.write(`schedule v${result.version} applied${was}${completed}\n`);
}

export function registerScheduleCommands(program: Command): void {
  const schedule = program.command("schedule").description("the signed schedule: load, show, plan");

  schedule
    .command("load <file>")
    .description("apply a signed schedule envelope from a file (same checks as MQTT delivery)")
    .action(
      action(async (file: string, _opts: unknown, cmd: Command) => {
        const config = cliConfig(cmd);
        // A path that cannot be read delivered nothing; bytes that did arrive are judged (and a
        // rejection recorded) by whoever applies them, JSON or not, too large or not.
        const bytes = readScheduleFile(file);
        printApplyResult((await loadThroughDaemon(config, file, bytes)) ?? loadDirectly(config, file, bytes));
      }),
    );

  schedule
    .command("show")
    .description("the schedule in force")
    .option("--json", "the whole document as JSON")
    .action(
      action((opts: { json?: boolean }, cmd: Command) => {
        const current = storedSchedule(cliConfig(cmd));
        const doc = current.document;
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
          return;
        }
        const lines = [`schedule v${doc.version} for ${doc.screen}, issued ${doc.issuedAt}, applied ${current.appliedAt}, zone ${doc.timezone}`];
        for (const c of doc.campaigns) {
          const rate = c.exclusive ? "exclusive" : c.playsPerHour ? `${c.playsPerHour}/hour` : `${c.playsPerDay}/day`;
          lines.push(`  ${pad(c.id, 20)} ${pad(c.customer, 16)} ${pad(rate, 10)} p${c.priority} ${c.start} .. ${c.end}${c.category ? ` [${c.category}]` : ""}`);
        }
        lines.push(`  fill: ${doc.fill.join(", ")}; suspensions: ${doc.suspensions.length}`);
        process.stdout.write(`${lines.join("\n")}\n`);
      }),
    );

  schedule
    .command("plan")
    .description("the planner's timeline and shortfalls")
    .option("--schedule <file>", "plan this envelope (or bare document) instead of the stored schedule; owes nothing")
    .option("--from <time>", "start (default: now)")
    .option("--hours <n>", "hours to plan", "24")
    .option("--json", "the plan as JSON")
    .action(
      action(async (opts: PlanOptions, cmd: Command) => {
        const hours = intOption("--hours", opts.hours, 1, 744);
        const { result, zone, warnings } = opts.schedule ? planFile(opts.schedule, opts, hours, cmd) : planStored(opts, hours, cmd);
        for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
        await writeLines(process.stdout, opts.json ? planJsonLines(result, warnings) : planTableLines(result, zone));
      }),
    );

  const report = program.command("report").description("reports from the ledger");
  report
    .command("delivery")
    .description("contracted vs delivered per campaign and day, shortfall, make-goods owed")
    .option("--from <time>", "start (default: 7 days ago)")
    .option("--to <time>", "end (default: now)")
    .option("--customer <id>", "only this customer's campaigns")
    .option("--format <table|csv>", "output format", "table")
    .action(
      action((opts: { from?: string; to?: string; customer?: string; format: string }, cmd: Command) => {
        if (opts.format !== "table" && opts.format !== "csv") throw new CliError(`--format: ${JSON.stringify(opts.format)} is not table or csv`, 2);
        const config = cliConfig(cmd);
        const current = storedSchedule(config);
        // Times without an offset are read in the schedule's zone, whose days the report counts.
        const zone = current.document.timezone;
        const now = Date.now();
        const until = opts.to === undefined ? now : timeOption("--to", opts.to, zone);
        const from = opts.from === undefined ? until - 7 * 24 * 3_600_000 : timeOption("--from", opts.from, zone);
        if (until <= from) throw new CliError("--from must be before --to", 2);
        // What has not happened yet is neither short nor owed: the report stops at now.
        const to = Math.min(until, now);
        const rows = to > from ? deliveryFromLedger(config, current, { from, to, customer: opts.customer }, (e) => process.stderr.write(`warning: ${skippedWarning(e)}\n`)) : [];
        process.stdout.write(opts.format === "csv" ? deliveryCsv(rows) : deliveryTable(rows));
      }),
    );
}

