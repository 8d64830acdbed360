// `ledagent ops push-schedule | cmd`: the ops side of the MQTT API from a shell, for tests, demos
// and small fleets. The broker is named by flags (or LEDAGENT_OPS_* variables); the ops private
// key signs what is sent, exactly as a backend would.
import type { Command } from "commander";
import { KeyError, loadPrivateKey, signCanonical } from "../crypto/index.js";
import { newCommand, signCommand, type CommandEnvelope } from "../link/command-envelope.js";
import { connectOps, OpsClientError, type OpsClient, type OpsClientOptions } from "../link/ops-client.js";
import { readTrustedFile } from "../store/trusted-file.js";
import { action, CliError, intOption, readJsonFile, withOutput } from "./common.js";

export interface BrokerFlags {
  url?: string;
  username?: string;
  passwordFile?: string;
  ca?: string;
  cert?: string;
  tlsKey?: string;
}

/** The broker flags every ops command that talks MQTT takes. */
export function withBrokerFlags(cmd: Command): Command {
  return cmd
    .option("--url <url>", "the broker: mqtt://host:1883, mqtts://host:8883 (default $LEDAGENT_OPS_URL)")
    .option("--username <name>", "broker username (default $LEDAGENT_OPS_USERNAME)")
    .option("--password-file <file>", "file holding the broker password")
    .option("--ca <file>", "CA certificate that signed the broker's certificate (PEM)")
    .option("--cert <file>", "client certificate (PEM)")
    .option("--tls-key <file>", "client certificate's private key (PEM)");
}

function fileFlag(flag: string, path: string | undefined): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readTrustedFile(path, { maxBytes: 256 * 1024 });
  } catch (err) {
    throw new CliError(`--${flag} ${path}: ${(err as Error).message}`, 2);
  }
}

export function brokerOptions(flags: BrokerFlags, env: NodeJS.ProcessEnv = process.env): OpsClientOptions {
  const url = flags.url ?? env.LEDAGENT_OPS_URL;
  if (!url) throw new CliError("no broker: give --url mqtt://host:1883 (or set LEDAGENT_OPS_URL)", 2);
  if (!/^(mqtts?|wss?):\/\/.+/.test(url)) throw new CliError(`--url ${url}: expected an mqtt://, mqtts://, ws:// or wss:// URL`, 2);
  const password = fileFlag("password-file", flags.passwordFile);
  const username = flags.username ?? env.LEDAGENT_OPS_USERNAME;
  return {
    url,
    ...(username ? { username } : {}),
    ...(password ? { password: Buffer.from(password.toString("utf8").replace(/\r?\n$/, ""), "utf8") } : {}),
    ca: fileFlag("ca", flags.ca),
    cert: fileFlag("cert", flags.cert),
    key: fileFlag("tls-key", flags.tlsKey),
  };
}

export function opsPrivateKey(path: string): ReturnType<typeof loadPrivateKey>["privateKey"] {
  try {
    return loadPrivateKey(path).privateKey;
  } catch (err) {
    if (err instanceof KeyError) throw new CliError(err.message.replace(/device key/g, "ops key"), 2);
    throw err;
  }
}

export async function withOps<T>(flags: BrokerFlags, work: (client: OpsClient) => Promise<T>): Promise<T> {
  let client: OpsClient;
  try {
    client = await connectOps(brokerOptions(flags));
  } catch (err) {
    if (err instanceof OpsClientError) throw new CliError(err.message);
    throw err;
  }
  try {
    return await work(client);
  } catch (err) {
    if (err instanceof OpsClientError) throw new CliError(err.message);
    throw err;
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** An envelope from the file, or the document in it signed with --key. */
function envelopeOf(file: string, keyPath: string | undefined): { text: string; screen: string; version: number } {
  const raw = readJsonFile(file, "schedule") as { schedule?: { screen?: unknown; version?: unknown }; sig?: unknown; screen?: unknown; version?: unknown };
  const signed = typeof raw === "object" && raw !== null && "schedule" in raw && "sig" in raw;
  const doc = (signed ? raw.schedule : raw) as { screen?: unknown; version?: unknown } | undefined;
  if (typeof doc?.screen !== "string" || typeof doc.version !== "number") throw new CliError(`${file}: not a schedule envelope (schedule.screen and schedule.version are needed)`, 2);
  if (signed) return { text: JSON.stringify(raw), screen: doc.screen, version: doc.version };
  if (!keyPath) throw new CliError(`${file} is an unsigned schedule document: give --key to sign it, or sign it first with ops sign-schedule`, 2);
  return { text: JSON.stringify({ schedule: doc, sig: signCanonical(doc, opsPrivateKey(keyPath)) }), screen: doc.screen, version: doc.version };
}

/** `key=value` pairs: a value that parses as JSON is that (60, true, "x", [..]); anything else is a string. */
export function parseCommandArgs(pairs: readonly string[], json: string | undefined): Record<string, unknown> {
  let args: Record<string, unknown> = {};
  if (json !== undefined) {
    try {
      args = JSON.parse(json) as Record<string, unknown>;
    } catch (err) {
      throw new CliError(`--args: not JSON: ${(err as Error).message}`, 2);
    }
    if (typeof args !== "object" || args === null || Array.isArray(args)) throw new CliError("--args: expected a JSON object", 2);
  }
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq < 1) throw new CliError(`${pair}: expected key=value`, 2);
    const key = pair.slice(0, eq);
    if (key === "__proto__") throw new CliError(`${pair}: __proto__ is not an argument name`, 2);
    const value = pair.slice(eq + 1);
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = value;
    }
    if (typeof parsed === "number" && !Number.isFinite(parsed)) throw new CliError(`${key}: ${value} is not a finite number`, 2);
    args[key] = parsed;
  }
  return args;
}

type CmdFlags = BrokerFlags & { screen?: string; key?: string; args?: string; validFor: string; timeout?: string; id?: string; save?: string; envelope?: string };

function signedCommand(name: string, pairs: string[], o: CmdFlags): CommandEnvelope {
  if (!o.screen || !o.key) throw new CliError("--screen and --key are needed to sign a command (or --envelope F to send one signed before)", 2);
  const args = parseCommandArgs(pairs, o.args);
  let body;
  try {
    body = newCommand({ screen: o.screen, name, args, validForS: intOption("valid-for", o.validFor, 1, 7 * 86_400), ...(o.id ? { id: o.id } : {}) });
  } catch (err) {
    throw new CliError((err as Error).message, 2);
  }
  return signCommand(body, opsPrivateKey(o.key));
}

function savedEnvelope(file: string, name: string): CommandEnvelope {
  const raw = readJsonFile(file, "command envelope") as Partial<CommandEnvelope> | null;
  if (typeof raw?.command?.name !== "string" || typeof raw.sig !== "string") throw new CliError(`${file}: not a signed command envelope`, 2);
  if (raw.command.name !== name) throw new CliError(`${file} holds a ${raw.command.name} command, not ${name}`, 2);
  return raw as CommandEnvelope;
}

export function registerOpsLinkCommands(ops: Command): void {
  withBrokerFlags(ops.command("push-schedule"))
    .description("publish a signed schedule (retained) to the screen's schedule topic and wait until it is applied or rejected")
    .argument("<file>", "a signed envelope, or a document to sign with --key")
    .option("--key <file>", "the ops private key, to sign a document")
    .option("--timeout <s>", "how long to wait for the screen's answer", "600")
    .action(
      action(async (file: string, o: BrokerFlags & { key?: string; timeout: string }) => {
        const { text, screen, version } = envelopeOf(file, o.key);
        const timeoutMs = intOption("timeout", o.timeout, 1, 86_400) * 1000;
        const status = await withOps(o, (client) =>
          client.pushSchedule(text, screen, version, { timeoutMs, onPending: () => process.stderr.write(`${screen}: version ${version} pending-creatives (fetching and fitting; the old schedule plays)\n`) }),
        );
        process.stdout.write(`${JSON.stringify(status)}\n`);
        if (status.state === "rejected") throw new CliError(`${screen} rejected version ${version}: ${status.reasons.join("; ")}`);
        process.stderr.write(`${screen}: version ${status.version} applied\n`);
      }),
    );

  withBrokerFlags(ops.command("cmd"))
    .description("send a signed command to a screen and print its result (exit 1 when it was refused or failed)")
    .argument("<name>", "status, brightness.set, screen.blackout, suspend, resume, takedown, play.now, proofs.sync, screenshot, controller.status, agent.restart")
    .argument("[args...]", "key=value pairs (values read as JSON where they parse: percent=60 on=true)")
    .option("--screen <id>", "the screen's id (needed unless --envelope)")
    .option("--key <file>", "the ops private key (needed unless --envelope)")
    .option("--args <json>", "the args as one JSON object (key=value pairs are added to it)")
    .option("--valid-for <s>", "how long the command stays valid", "300")
    .option("--timeout <s>", "how long to wait for the result (default 60; proofs.sync 130, since it waits for the collector)")
    .option("--id <id>", "the command id (default a random UUID)")
    .option("--save <file>", "also write the signed envelope here (to send it again with --envelope)")
    .option("--envelope <file>", "send this signed envelope exactly as it is (a resend); NAME must be its name")
    .action(
      action(async (name: string, pairs: string[], o: CmdFlags) => {
        const envelope = o.envelope ? savedEnvelope(o.envelope, name) : signedCommand(name, pairs, o);
        if (o.save) await withOutput(o.save, (stream) => void stream.write(`${JSON.stringify(envelope)}\n`), 0o600);
        const timeoutMs = intOption("timeout", o.timeout ?? (name === "proofs.sync" ? "130" : "60"), 1, 86_400) * 1000;
        const reply = await withOps(o, (client) => client.command(envelope, { timeoutMs }));
        process.stdout.write(`${JSON.stringify(reply)}\n`);
        if (!reply.ok) throw new CliError(`${name} refused by ${envelope.command.screen}: ${reply.error.code}: ${reply.error.message}`);
      }),
    );
}
