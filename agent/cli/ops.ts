// `ledagent ops keys init | sign-schedule`: the ops side, for demos, tests and small fleets that
// sign schedules without a backend. The ops private key belongs on the ops machine, not a screen.
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { createKeyFiles, KeyError, loadPrivateKey, signCanonical } from "../crypto/index.js";
import { validateDocument } from "../playback/schedule/index.js";
import { action, CliError, readJsonFile, withOutput } from "./common.js";
import { registerCollectCommand } from "./collect.js";
import { registerOpsLinkCommands } from "./ops-link.js";

export function registerOpsCommands(program: Command): void {
  const ops = program.command("ops").description("the ops side: keys, signed schedules and commands over MQTT, the reference collector (demos, tests, small fleets)");
  const keys = ops.command("keys").description("the ops key that signs schedules and commands");
  keys
    .command("init")
    .description("create an ops key pair: ops.key (0600) and ops.pub.pem (for each screen's opsPublicKey)")
    .requiredOption("--dir <dir>", "where to write the two files")
    .option("--force", "replace an existing ops key (screens then refuse everything signed with the old one)")
    .action(
      action((o: { dir: string; force?: boolean }) => {
        const dir = resolve(o.dir);
        try {
          createKeyFiles(join(dir, "ops.key"), join(dir, "ops.pub.pem"), { force: o.force });
        } catch (err) {
          if (err instanceof KeyError) throw new CliError(err.message.replace("device key", "ops key"));
          throw err;
        }
        process.stdout.write(`ops key: ${join(dir, "ops.key")}\nops public key (opsPublicKey): ${join(dir, "ops.pub.pem")}\n`);
      }),
    );

  ops
    .command("sign-schedule")
    .description("check a schedule document and write it as a signed envelope")
    .argument("<file>", "the schedule document (JSON)")
    .requiredOption("--key <file>", "the ops private key")
    .option("--out <file>", "write the envelope here instead of stdout")
    .action(
      action(async (file: string, o: { key: string; out?: string }) => {
        const raw = readJsonFile(file, "schedule");
        // A document that carries an envelope already is a common slip: sign what is inside.
        const schedule = typeof raw === "object" && raw !== null && "schedule" in raw && "sig" in raw ? (raw as { schedule: unknown }).schedule : raw;
        const validation = validateDocument(schedule);
        if (!validation.ok) {
          throw new CliError(`refusing to sign ${file}: ${validation.problems.length} problem(s): ${validation.problems.join("; ")}`);
        }
        let privateKey;
        try {
          privateKey = loadPrivateKey(o.key).privateKey;
        } catch (err) {
          if (err instanceof KeyError) throw new CliError(err.message.replace(/device key/g, "ops key"));
          throw err;
        }
        const envelope = `${JSON.stringify({ schedule, sig: signCanonical(schedule, privateKey) }, null, 2)}\n`;
        await withOutput(o.out, (stream) => void stream.write(envelope), 0o644);
        if (o.out && o.out !== "-") {
          process.stderr.write(`signed ${file} (version ${validation.document.version}, screen ${validation.document.screen}) → ${o.out}\n`);
        }
      }),
    );
  registerOpsLinkCommands(ops);
  registerCollectCommand(ops);
}
