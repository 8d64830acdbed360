// `ledagent schedule load F | show | plan` and `ledagent report delivery`.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import type { Config } from "../config.js";
import { loadPublicKey } from "../crypto/index.js";
import { agentPaths } from "../paths.js";
import { deliveryCsv, deliveryReport, countDelivered } from "../playback/delivery/delivery.js";
import { plan, type Plan, type PlanSchedule } from "../playback/planner/index.js";
import { applyEnvelope, ScheduleStore, validateDocument, type CurrentSchedule } from "../playback/schedule/index.js";
import { openLedger, openLedgerReader } from "../proofs/open.js";
import { action, CliError, cliConfig, intOption } from "./common.js";

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new CliError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliError(`${path} is not JSON: ${(err as Error).message}`);
  }
}

function timeOption(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const t = Date.parse(raw);
  if (!Number.isFinite(t)) throw new CliError(`${name}: ${JSON.stringify(raw)} is not a time (use RFC 3339, e.g. 2026-12-01T08:00:00+08:00)`, 2);
  return t;
}

function storedSchedule(config: Config): CurrentSchedule {
  const current = new ScheduleStore({ path: agentPaths(config).scheduleFile }).current();
  if (!current) throw new CliError("no schedule loaded yet (ledagent schedule load F, or wait for ops to publish one)");
  return current;
}

function appliedTimes(current: CurrentSchedule): Record<string, number> {
  return Object.fromEntries(Object.entries(current.campaignAppliedAt).map(([id, at]) => [id, Date.parse(at)]));
}

const pad = (text: string, width: number): string => text.padEnd(width);

function planTable(p: Plan, zone: string): string {
  const local = (iso: string): string => new Date(iso).toLocaleString("sv-SE", { timeZone: zone });
  const lines = [`plan ${p.from} .. ${p.to} (schedule v${p.scheduleVersion}, times in ${zone})`, `${pad("start", 20)} ${pad("len s", 6)} ${pad("campaign", 20)} ${pad("creative", 20)} note`];
  for (const i of p.items) {
    const note = i.blackout ? "blackout" : i.fill ? "fill" : i.makeGood ? "make-good" : "";
    lines.push(`${pad(local(i.at), 20)} ${pad((i.durationMs / 1000).toFixed(1), 6)} ${pad(i.campaign ?? "-", 20)} ${pad(i.creative ?? "-", 20)} ${note}`);
  }
  lines.push(p.shortfalls.length ? `shortfalls (${p.shortfalls.length}):` : "shortfalls: none");
  for (const s of p.shortfalls) lines.push(`  ${local(s.period)} ${s.periodKind} ${s.campaign}: contracted ${s.contracted}, planned ${s.planned}, short ${s.missing} — ${s.reason}`);
  if (p.bends.length) lines.push(`moved plays (${p.bends.length}):`);
  for (const b of p.bends) lines.push(`  ${local(b.at)} ${b.campaign}: window ${local(b.windowFrom)}–${local(b.windowTo)} — ${b.reason}`);
  for (const m of p.makeGoods) lines.push(`make-good ${m.campaign}: owed ${m.owed}, planned ${m.planned}`);
  return `${lines.join("\n")}\n`;
}

export function registerScheduleCommands(program: Command): void {
  const schedule = program.command("schedule").description("the signed schedule: load, show, plan");

  schedule
    .command("load <file>")
    .description("apply a signed schedule envelope from a file (same checks as MQTT delivery)")
    .action(
      action((file: string, _opts: unknown, cmd: Command) => {
        const config = cliConfig(cmd);
        const raw = readJson(file);
        const opsPublicKey = config.opsPublicKey ? loadPublicKey(config.opsPublicKey) : null;
        const { ledger, close } = openLedger(config);
        try {
          const store = new ScheduleStore({ path: agentPaths(config).scheduleFile });
          const result = applyEnvelope({ store, opsPublicKey, screenId: config.screenId, ledger, now: () => new Date() }, raw, `file:${file}`);
          if (result.state === "rejected") throw new CliError(`schedule rejected: ${result.reasons.join("; ")}`);
          if (result.state === "unchanged") process.stdout.write(`schedule v${result.version} is already in force; nothing changed\n`);
          else process.stdout.write(`schedule v${result.version} applied${result.previousVersion !== null ? ` (was v${result.previousVersion})` : ""}\n`);
        } finally {
          close();
        }
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
      action((opts: { schedule?: string; from?: string; hours: string; json?: boolean }, cmd: Command) => {
        const from = timeOption("--from", opts.from, Date.now());
        const to = from + intOption("--hours", opts.hours, 1, 744) * 3_600_000;
        let result: Plan;
        let zone: string;
        if (opts.schedule) {
          const raw = readJson(opts.schedule) as { schedule?: unknown };
          const validation = validateDocument(raw && typeof raw === "object" && "schedule" in raw ? raw.schedule : raw);
          if (!validation.ok) throw new CliError(`${opts.schedule}: ${validation.problems.join("; ")}`);
          zone = validation.document.timezone;
          result = plan({ schedule: validation.document, from, to });
        } else {
          const config = cliConfig(cmd);
          const current = storedSchedule(config);
          zone = current.document.timezone;
          if (from > Date.now()) {
            // The time between now and a future --from has not happened: nothing is owed for it.
            result = plan({ schedule: current.document as PlanSchedule, from, to });
            process.stdout.write(opts.json ? `${JSON.stringify(result, null, 2)}\n` : planTable(result, zone));
            return;
          }
          const { reader, close } = openLedgerReader(config);
          try {
            const delivered = countDelivered(reader.plays({ from: new Date(Math.min(...Object.values(appliedTimes(current)), from)).toISOString(), to: new Date(from).toISOString() }), {
              zone,
              controllerConfigured: config.controller.driver !== "none",
            });
            result = plan({ schedule: current.document as PlanSchedule, from, to, delivered, appliedAt: appliedTimes(current) });
          } finally {
            close();
          }
        }
        process.stdout.write(opts.json ? `${JSON.stringify(result, null, 2)}\n` : planTable(result, zone));
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
        const to = timeOption("--to", opts.to, Date.now());
        const from = timeOption("--from", opts.from, to - 7 * 24 * 3_600_000);
        if (to <= from) throw new CliError("--from must be before --to", 2);
        const current = storedSchedule(config);
        const { reader, close } = openLedgerReader(config);
        let rows;
        try {
          const takedowns = [...reader.events({ type: "takedown", to: new Date(to).toISOString() })].map((e) => ({
            at: Date.parse(e.at),
            campaign: typeof e.event.campaign === "string" ? e.event.campaign : undefined,
            creative: typeof e.event.creative === "string" ? e.event.creative : undefined,
          }));
          rows = deliveryReport({
            schedule: current.document as PlanSchedule,
            plays: reader.plays({ from: new Date(from).toISOString(), to: new Date(to).toISOString() }),
            from,
            to,
            controllerConfigured: config.controller.driver !== "none",
            appliedAt: appliedTimes(current),
            takedowns,
            customer: opts.customer,
          });
        } finally {
          close();
        }
        if (opts.format === "csv") {
          process.stdout.write(deliveryCsv(rows));
          return;
        }
        const lines = [`${pad("day", 12)} ${pad("customer", 16)} ${pad("campaign", 20)} contracted delivered make-goods short owed`];
        for (const r of rows) {
          const day = new Date(r.day).toLocaleDateString("sv-SE", { timeZone: current.document.timezone });
          lines.push(`${pad(day, 12)} ${pad(r.customer, 16)} ${pad(r.campaign, 20)} ${String(r.contracted).padStart(10)} ${String(r.delivered).padStart(9)} ${String(r.makeGoods).padStart(10)} ${String(r.shortfall).padStart(5)} ${String(r.owed).padStart(4)}`);
        }
        process.stdout.write(`${lines.join("\n")}\n`);
      }),
    );
}
