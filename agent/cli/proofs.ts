// `ledagent proofs export | verify | head | at`: the ledger for customers, auditors and technicians.
import type { Command } from "commander";
import { KeyError, loadPublicKey } from "../crypto/index.js";
import {
  exportCsv,
  exportJsonl,
  openLedger,
  openLedgerReader,
  verifyFile,
  type Entry,
  type ExportFilter,
} from "../proofs/index.js";
import { action, cliConfig, CliError, readJsonText, timeOption, withOutput } from "./common.js";

/** A time option as the UTC ISO string the ledger stores. */
function isoTimeOption(option: string, raw: string, timezone: string): string {
  return new Date(timeOption(option, raw, timezone)).toISOString();
}

interface ExportOptions {
  customer?: string;
  campaign?: string;
  from?: string;
  to?: string;
  format: string;
  out?: string;
}

function describeEntry(e: Entry): string {
  if (e.kind === "play") {
    const p = e.play;
    return `seq ${e.seq}: ${p.customer}/${p.campaign} creative ${p.creative} ${p.startedAt} → ${p.endedAt} (${p.status}${p.makeGood ? ", make-good" : ""}, screen ${p.screenState.verified ? "verified" : "not verified"})`;
  }
  const { type, ...detail } = e.event;
  return `seq ${e.seq}: ${type} at ${e.at} ${JSON.stringify(detail)}`;
}

export function registerProofsCommands(program: Command): void {
  const proofs = program.command("proofs").description("the signed, hash-chained proof-of-play ledger");

  proofs
    .command("export")
    .description("write the ledger as JSON Lines (verifiable) or CSV play detail")
    .option("--customer <id>", "only this customer's entries (others appear as { seq, hash } stubs)")
    .option("--campaign <id>", "only this campaign's entries")
    .option("--from <time>", "from this time (plays by start), inclusive")
    .option("--to <time>", "to this time, exclusive")
    .option("--format <fmt>", "jsonl | csv", "jsonl")
    .option("--out <file>", "write here instead of stdout")
    .action(
      action(async (o: ExportOptions, cmd: Command) => {
        if (o.format !== "jsonl" && o.format !== "csv") throw new CliError(`--format: ${JSON.stringify(o.format)} is not jsonl or csv`, 2);
        const config = cliConfig(cmd);
        const filter: ExportFilter = {
          customer: o.customer,
          campaign: o.campaign,
          from: o.from === undefined ? undefined : isoTimeOption("--from", o.from, config.timezone),
          to: o.to === undefined ? undefined : isoTimeOption("--to", o.to, config.timezone),
        };
        const { reader, close } = openLedgerReader(config);
        try {
          await withOutput(o.out, async (stream) => {
            const r = o.format === "csv" ? await exportCsv(reader, filter, config.timezone, stream) : await exportJsonl(reader, filter, stream);
            if (o.out) process.stderr.write(`exported ${r.entries} entries${r.stubs ? ` and ${r.stubs} stubs` : ""} to ${o.out}\n`);
          });
        } finally {
          close();
        }
      }),
    );

  proofs
    .command("verify")
    .description("verify an export with the device's public key; exit 1 naming the first bad seq")
    .requiredOption("--key <pem>", "the device's public key (PEM)")
    .option("--head <file>", "a signed head checkpoint (JSON): detects truncation")
    .argument("[file]", "the export, or - for stdin", "-")
    .action(
      action(async (file: string, o: { key: string; head?: string }) => {
        let publicKey;
        try {
          publicKey = loadPublicKey(o.key);
        } catch (err) {
          if (!(err instanceof KeyError)) throw err;
          const hint = /PRIVATE key/.test(err.message) ? " (on the device, `ledagent keys show` prints the public key)" : "";
          throw new CliError(err.message + hint);
        }
        // The head's text goes to the verifier, which parses it as strictly as an export line.
        const headText = o.head === undefined ? undefined : readJsonText(o.head, "--head");
        let result;
        try {
          result = await verifyFile(file, { publicKey, headText });
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === undefined) throw err;
          throw new CliError(`cannot read ${file}: ${code}`);
        }
        if (!result.ok) throw new CliError(result.message);
        process.stdout.write(`${result.summary}\n`);
      }),
    );

  proofs
    .command("head")
    .description("sign and print a head checkpoint of the ledger as it stands")
    .option("--out <file>", "write it here instead of stdout")
    .action(
      action(async (o: { out?: string }, cmd: Command) => {
        const { ledger, close } = openLedger(cliConfig(cmd));
        try {
          const cp = ledger.checkpoint();
          await withOutput(o.out, async (s) => {
            s.write(JSON.stringify(cp) + "\n");
          });
        } finally {
          close();
        }
      }),
    );

  proofs
    .command("at")
    .description("what was on the screen at that instant (the play, or the last event before it)")
    .argument("<time>", "RFC 3339, or a local time in the configured timezone")
    .option("--json", "print the entry as JSON")
    .action(
      action((raw: string, o: { json?: boolean }, cmd: Command) => {
        const config = cliConfig(cmd);
        const at = isoTimeOption("time", raw, config.timezone);
        const { reader, close } = openLedgerReader(config);
        try {
          const found = reader.onScreenAt(at);
          if (!found) throw new CliError(`the ledger holds nothing at or before ${at}`);
          if (o.json) process.stdout.write(JSON.stringify(found) + "\n");
          else process.stdout.write(`${found.kind === "play" ? "playing" : "nothing playing; last event"}: ${describeEntry(found)}\n`);
        } finally {
          close();
        }
      }),
    );
}
