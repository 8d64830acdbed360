// `ledagent ops collect`: the reference collector from a shell. It runs until SIGINT/SIGTERM and
// prints a line per batch (stored, duplicates, acked, every problem), or with --report prints
// what its database holds per screen (count, head, gaps, problems) and exits.
import { readdirSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { Collector, CollectorStore, proofsSubscription, ScreenKeys, type BatchReport } from "../collector/index.js";
import { createLogger } from "../log.js";
import { action, CliError } from "./common.js";
import { brokerOptions, withBrokerFlags, type BrokerFlags } from "./ops-link.js";

type CollectFlags = BrokerFlags & { keys?: string; db: string; group?: string; clientId?: string; report?: boolean; json?: boolean };

function batchLine(r: BatchReport): string {
  const range = r.fromSeq === null ? "" : ` seq ${r.fromSeq}–${r.throughSeq}`;
  const acked = r.acked === null ? "not acked" : `acked through ${r.acked}`;
  const head = `${r.screen} batch ${r.batch ?? "?"}:${range} stored ${r.stored}, duplicates ${r.duplicates}, ${acked}`;
  return [head, ...r.problems.map((p) => `  ${p.kind}${p.seq === null ? "" : ` at seq ${p.seq}${p.toSeq !== undefined ? `–${p.toSeq}` : ""}`}: ${p.detail}`)].join("\n");
}

function printReport(store: CollectorStore, json: boolean): void {
  const reports = store.screens().map((s) => store.report(s.screen));
  if (json) {
    for (const r of reports) process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  if (reports.length === 0) process.stdout.write("no entries stored yet\n");
  for (const r of reports) {
    if (!r) continue;
    const gaps = r.gaps.length === 0 ? "no gaps" : `gaps ${r.gaps.map((g) => `${g.fromSeq}–${g.toSeq}`).join(", ")}`;
    process.stdout.write(`${r.screen}: ${r.entries} entries, head seq ${r.headSeq} (${r.headHash.slice(0, 16)}…), ${gaps}, ${r.problems.length} problem(s)\n`);
    for (const p of r.problems) process.stdout.write(`  ${p.at} ${p.kind}${p.seq === null ? "" : ` at seq ${p.seq}`}: ${p.detail}\n`);
  }
}

/** Resolves on the first SIGINT or SIGTERM. */
function untilSignalled(): Promise<NodeJS.Signals> {
  return new Promise((done) => {
    process.once("SIGINT", () => done("SIGINT"));
    process.once("SIGTERM", () => done("SIGTERM"));
  });
}

async function collect(o: CollectFlags): Promise<void> {
  if (!o.keys) throw new CliError("--keys DIR is needed: the screens' public keys, one <screenId>.pub.pem each", 2);
  checkKeysDir(resolve(o.keys));
  // Each member of a group keeps a persistent session of its own: two under one id would take it from each other.
  if (o.group && !o.clientId) throw new CliError("--group needs --client-id: a stable id of this member's own (collector-1, collector-2 …)", 2);
  const broker = brokerOptions(o);
  try {
    proofsSubscription(o.group);
  } catch (err) {
    throw new CliError(`--group: ${(err as Error).message}`, 2);
  }
  const store = openStore(o.db);
  const log = createLogger({ level: "warn", stderr: true });
  const collector = new Collector({
    options: { ...broker, password: broker.password?.toString("utf8"), ...(o.group ? { group: o.group } : {}), ...(o.clientId ? { clientId: o.clientId } : {}) },
    store,
    keys: new ScreenKeys(resolve(o.keys)),
    log,
    onBatch: (r) => process.stdout.write(`${o.json ? JSON.stringify(r) : batchLine(r)}\n`),
  });
  // Listening before the start: Ctrl-C must stop a collector still trying to reach its broker.
  const signalled = untilSignalled();
  try {
    const started = await Promise.race([collector.start(), signalled.then(() => null)]);
    if (started) {
      process.stderr.write(`collecting ${proofsSubscription(o.group)} from ${broker.url} (MQTT ${started.protocolVersion === 5 ? "5" : "3.1.1"}) into ${resolve(o.db)}; Ctrl-C stops\n`);
      await signalled;
    }
  } catch (err) {
    throw new CliError(`the collector could not start: ${(err as Error).message}`);
  } finally {
    await collector.stop();
    store.close();
  }
}

/** A keys directory that is missing or not one would make every batch unregistered: said now. */
function checkKeysDir(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new CliError(`--keys ${dir}: ${(err as NodeJS.ErrnoException).code === "ENOTDIR" ? "not a directory" : (err as Error).message}`, 2);
  }
  if (!names.some((n) => n.endsWith(".pub.pem"))) process.stderr.write(`warning: --keys ${dir} holds no <screenId>.pub.pem yet: every batch is refused until a screen's key is put there\n`);
}

function openStore(path: string): CollectorStore {
  try {
    return CollectorStore.open(resolve(path));
  } catch (err) {
    throw new CliError(`--db ${path}: ${(err as Error).message}`);
  }
}

export function registerCollectCommand(ops: Command): void {
  withBrokerFlags(ops.command("collect"))
    .description("the reference collector: verify every screen's proof batches, store them once, ack; --report prints what is stored")
    .requiredOption("--db <file>", "the collector's own SQLite file (collectors of one group share it)")
    .option("--keys <dir>", "the screens' public keys, <screenId>.pub.pem each")
    .option("--group <name>", "a shared subscription group: collectors of one group share the fleet")
    .option("--client-id <id>", "the MQTT client id (default ledagent-collector-<host>[-group]); keep it stable")
    .option("--report", "print each screen's entries, head, gaps and problems from --db and exit")
    .option("--json", "JSON lines instead of text")
    .action(
      action(async (o: CollectFlags) => {
        if (o.report) {
          const store = openStore(o.db);
          try {
            printReport(store, o.json ?? false);
          } finally {
            store.close();
          }
          return;
        }
        await collect(o);
      }),
    );
}
