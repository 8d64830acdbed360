// `ledagent init`, `keys init|show`, `note`: setting a device up and the technician's log.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { configPath, parseConfig } from "../config.js";
import { createKeyFiles, KeyError, loadPrivateKey, publicKeyPem } from "../crypto/index.js";
import { agentPaths } from "../paths.js";
import { archiveLedger, ledgerInUse, openLedger, retireSigningRecord, type ArchivedLedger } from "../proofs/index.js";
import { writeFileDurably } from "../store/index.js";
import { action, cliConfig, CliError, globalOptions } from "./common.js";

interface InitOptions {
  screen: string;
  dataDir: string;
  runDir: string;
  timezone: string;
  panel: string;
  fps: string;
  fit: string;
  mqttUrl?: string;
  opsPublicKey?: string;
  controller: string;
  headless?: boolean;
  force?: boolean;
  newKey?: boolean;
  archiveLedger?: boolean;
  root?: string;
}

// "key: value" with its comment aligned, as a person would write it.
function kv(indent: number, key: string, value: string, comment?: string): string {
  const text = `${" ".repeat(indent)}${key}: ${value}`;
  return comment ? `${text.padEnd(40)} # ${comment}` : text;
}

function configText(o: InitOptions, width: number, height: number): string {
  const driver = o.controller === "none" ? "none" : "novastar";
  const q = (s: string): string => JSON.stringify(s);
  const off = (on: boolean): string => (on ? "" : "# ");
  return [
    "# ledagent config. Every key can be overridden by an environment variable: LEDAGENT_ and the",
    "# key's path in upper case, words joined by _ (panel.width: LEDAGENT_PANEL_WIDTH).",
    kv(0, "screenId", q(o.screen), "this screen's id, as ops know it"),
    kv(0, "dataDir", q(o.dataDir), "ledger, creatives cache, keys, last schedule"),
    kv(0, "runDir", q(o.runDir), "control socket"),
    kv(0, "timezone", q(o.timezone), "for reports; the schedule's own timezone rules plans"),
    kv(0, "logLevel", "info", "fatal | error | warn | info | debug | trace"),
    "",
    "# The LED panel's exact pixel size: every creative is fitted to it.",
    "panel:",
    kv(2, "width", String(width)),
    kv(2, "height", String(height)),
    kv(2, "fps", String(Number(o.fps))),
    kv(2, "fit", o.fit, "contain (pad with background) | cover (crop) | stretch"),
    kv(2, "background", q("#000000")),
    "",
    `${off(!!o.mqttUrl)}mqtt:`,
    `${off(!!o.mqttUrl)}${kv(2, "url", q(o.mqttUrl ?? "mqtts://broker.example:8883"))}`,
    `#${kv(2, "username", "screen-user")}`,
    `#${kv(2, "passwordFile", "/etc/ledagent/mqtt.password")}`,
    `#${kv(2, "ca", "/etc/ledagent/ca.pem", "TLS: broker CA")}`,
    `#${kv(2, "cert", "/etc/ledagent/client.pem", "TLS client certificate")}`,
    `#${kv(2, "key", "/etc/ledagent/client.key")}`,
    `${off(!!o.opsPublicKey)}${kv(0, "opsPublicKey", q(o.opsPublicKey ?? "/etc/ledagent/ops.pub.pem"), "verifies schedules and commands")}`,
    "",
    "controller:",
    kv(2, "driver", driver, "novastar | none"),
    driver === "none" ? `#${kv(2, "port", q("serial:///dev/ttyUSB0?baud=115200"), "or tcp://192.168.0.10:5200")}` : kv(2, "port", q(o.controller)),
    kv(2, "pollIntervalS", "10", "status read every N seconds"),
    kv(2, "timeoutMs", "1000", "per request"),
    kv(2, "unit", "0", "sending unit in the daisy chain"),
    kv(2, "monitoredCards", "[{ port: 0, board: 0 }]", "receiving cards read for status"),
    kv(2, "temperatureLimitC", "75", "above this a card raises temperature.high"),
    "",
    "player:",
    kv(2, "backend", "mpv"),
    kv(2, "output", "{ x: 0, y: 0 }", "where the sending card captures on the HDMI desktop"),
    kv(2, "headless", o.headless ? "true" : "false", "true: no display (tests, servers)"),
    "",
    "creatives:",
    kv(2, "maxBytes", String(2 * 1024 ** 3), "largest creative fetched"),
    kv(2, "fetchTimeoutS", "1800"),
    kv(2, "durationToleranceMs", "1000", "refuse files whose length disagrees with the schedule"),
    kv(2, "audio", "false", "keep audio in renditions"),
    kv(2, "maxSourcePixels", String(7680 * 4320), "larger source frames are refused before any transcode (8K)"),
    kv(2, "maxSourcePixelRate", String(7680 * 4320 * 60), "width × height × fps above this is refused (8K at 60 fps)"),
    kv(2, "minRateBytesPerS", String(16 * 1024), "a download slower than this over minRateWindowS is cut"),
    kv(2, "minRateWindowS", "30"),
    "",
    kv(0, "telemetryIntervalS", "60"),
    kv(0, "checkpointIntervalS", "3600", "signed ledger head at least this often"),
    "",
  ].join("\n");
}

function runInit(o: InitOptions, cmd: Command): void {
  const file = resolve(configPath(globalOptions(cmd).config));
  // --root: staging a root filesystem (an installer's destination, an image). The config names the
  // paths the agent will see; every file this command reads or writes is that path under the root.
  const root = o.root === undefined ? null : resolve(o.root);
  const under = (path: string): string => (root ? join(root, path) : path);
  const panel = /^(\d+)x(\d+)$/.exec(o.panel);
  if (!panel) throw new CliError(`--panel: ${JSON.stringify(o.panel)} is not WIDTHxHEIGHT, e.g. 768x384`, 2);
  const text = configText({ ...o, dataDir: resolve(o.dataDir), runDir: resolve(o.runDir) }, Number(panel[1]), Number(panel[2]));
  let config;
  try {
    config = parseConfig(text, {}, file); // what we write must load, and be checked now
  } catch (err) {
    // Every value in it came from this command's options: a bad one is bad usage.
    throw new CliError(`init: ${(err as Error).message.replace(/^bad config: /, "")}`, 2);
  }
  const target = under(file);
  if (existsSync(target) && !o.force) throw new CliError(`${target} already exists; use --force to replace it`);
  const local = root ? { ...config, dataDir: under(config.dataDir), runDir: under(config.runDir) } : config;
  const paths = agentPaths(local);
  const keyExists = existsSync(paths.deviceKey);
  if (keyExists && !o.force) {
    throw new CliError(`a device key already exists at ${paths.deviceKey}; replacing it orphans every proof it signed (--force keeps it and rewrites the config; --force --new-key replaces it)`);
  }
  if (o.archiveLedger && !o.newKey && keyExists) throw new CliError("--archive-ledger goes with --new-key: it retires the ledger of the key being replaced", 2);
  // --force alone is for redoing the config: the key, and every proof it signed, stays valid.
  const keepKey = keyExists && !o.newKey;
  const archived = keepKey ? null : retireLedgerFor(local, "init --force --new-key", o.archiveLedger ?? false);
  const pub = keepKey ? publicKeyPem(loadPrivateKey(paths.deviceKey).publicKey) : publicKeyPem(createKeyFiles(paths.deviceKey, paths.devicePublicKey, { force: true }).publicKey);
  if (archived) retireSigningRecord(local, archived);
  writeFileDurably(target, text, 0o640);
  process.stdout.write(`config: ${target}\ndevice key: ${paths.deviceKey} (${keepKey ? "kept" : "new"})\n${archived ? archiveReport(archived) : ""}\n${pub}`);
}

/**
 * Before a new key: a ledger the old key began must not be continued by the new one (its entries
 * would verify under neither key). Refused unless the old ledger is archived, deliberately.
 */
function retireLedgerFor(config: Parameters<typeof ledgerInUse>[0] & { screenId: string }, command: string, archive: boolean): ArchivedLedger | null {
  const use = ledgerInUse(config);
  if (use.entries === 0 && !use.recorded) return null;
  if (!archive) {
    const what = use.entries > 0 ? `the ledger holds ${use.entries} entries` : "the device key has already begun a ledger";
    throw new CliError(
      `${command}: ${what}; a new key would sign onto a chain whose entries no single key verifies. ` +
        "To change the key, `ledagent init --force --new-key --archive-ledger` closes the ledger under the old key and moves it, with the old " +
        "public key and a final signed head, to a dated directory under the archive, then starts a new ledger under the new key; or keep the key",
    );
  }
  return archiveLedger(config, { reason: "the device key is being replaced" });
}

function archiveReport(a: ArchivedLedger): string {
  const head = a.head ? `closed at seq ${a.head.seq} with a signed head` : `not closed (${a.unclosed ?? "it was empty"})`;
  const key = a.publicKey ? "verify it with the device.pub.pem there" : "its public key was not found: verify it with the key you published for this device";
  return `old ledger: ${a.dir} (${head}; ${key})\n`;
}

export function registerInitCommands(program: Command): void {
  program
    .command("init")
    .description("write a config and create the device key (never overwrites without --force)")
    .requiredOption("--screen <id>", "this screen's id, as ops know it")
    .option("--data-dir <dir>", "ledger, creatives cache, keys", "/var/lib/ledagent")
    .option("--run-dir <dir>", "control socket", "/run/ledagent")
    .option("--timezone <tz>", "IANA time zone for reports", "UTC")
    .option("--panel <WxH>", "the panel's exact pixel size", "768x384")
    .option("--fps <n>", "panel frame rate", "30")
    .option("--fit <mode>", "contain | cover | stretch", "contain")
    .option("--mqtt-url <url>", "broker URL, e.g. mqtts://broker:8883")
    .option("--ops-public-key <file>", "PEM public key that signs schedules and commands")
    .option("--controller <url|none>", "serial:///dev/ttyUSB0?baud=115200, tcp://host:5200 or none", "none")
    .option("--headless", "play without a display (tests, servers)")
    .option("--force", "replace an existing config (the device key is kept)")
    .option("--new-key", "with --force: also replace the device key; refused while the ledger holds entries, unless --archive-ledger")
    .option(
      "--archive-ledger",
      "with --new-key: close the ledger under the old key (a last entry and a signed head), move it with the old public key to <dataDir>/archive/<date>/, and start a new ledger under the new key",
    )
    .option("--root <dir>", "write under DIR as if it were / (an installer's destination, an image); the config names the paths as seen from inside it")
    .action(action((o: InitOptions, cmd: Command) => runInit(o, cmd)));

  const keys = program.command("keys").description("the device key that signs every proof");
  keys
    .command("init")
    .description("create the device key pair (0600 private key under the data directory)")
    .option("--force", "replace an existing key (every proof it signed is then orphaned)")
    .action(
      action((o: { force?: boolean }, cmd: Command) => {
        const config = cliConfig(cmd);
        const paths = agentPaths(config);
        if (o.force && existsSync(paths.deviceKey)) retireLedgerFor(config, "keys init --force", false);
        createKeyFiles(paths.deviceKey, paths.devicePublicKey, { force: o.force });
        process.stdout.write(`device key created: ${paths.deviceKey}\n`);
      }),
    );
  keys
    .command("show")
    .description("print the device public key (PEM, SubjectPublicKeyInfo)")
    .action(
      action((_o: unknown, cmd: Command) => {
        const paths = agentPaths(cliConfig(cmd));
        try {
          process.stdout.write(publicKeyPem(loadPrivateKey(paths.deviceKey).publicKey));
        } catch (err) {
          if (err instanceof KeyError) throw new CliError(err.message);
          throw err;
        }
      }),
    );

  program
    .command("note")
    .description("append a technician.note event to the ledger (exits 0 once it is committed)")
    .argument("<text...>", "what was done on site, and why")
    .option("--by <name>", "who did it")
    .action(
      action((words: string[], o: { by?: string }, cmd: Command) => {
        const text = words.join(" ").trim();
        if (!text) throw new CliError("note: the text is empty", 2);
        const { ledger, close } = openLedger(cliConfig(cmd));
        try {
          const entry = ledger.event("technician.note", { text, ...(o.by ? { by: o.by } : {}) });
          process.stdout.write(`noted as seq ${entry.seq}\n`);
        } finally {
          close();
        }
      }),
    );
}
