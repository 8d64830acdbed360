// The link bench's parts: a real mosquitto, a device with a playing schedule and a ledger backlog
// written beforehand, `ledagent run` with the MQTT link, and `ledagent ops collect` in its own
// process, as a fleet runs them.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createKeyFiles, signCanonical, loadPrivateKey } from "../agent/crypto/index.js";
import { agentPaths } from "../agent/paths.js";
import { openLedger } from "../agent/proofs/open.js";
import { samplePlay } from "./ledger.js";
import { startMosquitto, type Mosquitto } from "./mosquitto.js";
import { benchConfig, benchSchedule, makeClip, PANEL, SCREEN } from "./playout-rig.js";

// From dist/bench/ when built, from bench/ when a test imports the source.
export const CLI = fileURLToPath(new URL(import.meta.url.includes("/dist/bench/") ? "../../bin/ledagent.js" : "../bin/ledagent.js", import.meta.url));

export interface LinkRig {
  broker: Mosquitto;
  dataDir: string;
  configFile: string;
  opsKey: string;
  keysDir: string;
  collectorDb: string;
}

export interface Child {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

export function startChild(args: string[], onLine?: (line: string) => void): Child {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let partial = "";
  child.stdout?.on("data", (d: Buffer) => {
    output = (output + d.toString()).slice(-50_000);
    const lines = (partial + d.toString()).split("\n");
    partial = lines.pop() ?? "";
    if (onLine) for (const l of lines) onLine(l);
  });
  child.stderr?.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-50_000)));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

function cli(args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ledagent ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** A device playing two paid clips between fill, its ops key, and the collector's key directory. */
export async function buildLinkRig(dir: string): Promise<LinkRig> {
  const broker = await startMosquitto({ globalLines: ["allow_anonymous true", "max_queued_messages 10000"] });
  const dataDir = join(dir, "device");
  const config = benchConfig(dataDir);
  const paths = agentPaths(config);
  mkdirSync(config.runDir, { recursive: true });
  createKeyFiles(paths.deviceKey, paths.devicePublicKey);
  const opsKey = join(dir, "ops.key");
  createKeyFiles(opsKey, join(dir, "ops.pub.pem"));
  const keysDir = join(dir, "screens");
  mkdirSync(keysDir);
  const configFile = writeConfig(dir, dataDir, broker, join(dir, "ops.pub.pem"));
  writeFileSync(join(keysDir, `${SCREEN}.pub.pem`), cli(["keys", "show", "--config", configFile]));
  const clips = { paid: [makeClip(dir, "alpha", 2, "testsrc"), makeClip(dir, "beta", 2, "rgbtestsrc")], fill: [makeClip(dir, "lobby", 3, "smptebars")] };
  const schedule = benchSchedule({ version: 1, ...clips, playsPerHour: 600 });
  const envelope = join(dir, "schedule.signed.json");
  writeFileSync(envelope, JSON.stringify({ schedule, sig: signCanonical(schedule, loadPrivateKey(opsKey).privateKey) }));
  cli(["schedule", "load", envelope, "--config", configFile]);
  return { broker, dataDir, configFile, opsKey, keysDir, collectorDb: join(dir, "collector.db") };
}

function writeConfig(dir: string, dataDir: string, broker: Mosquitto, opsPub: string): string {
  const file = join(dir, "config.yaml");
  const config = {
    screenId: SCREEN, dataDir, runDir: join(dataDir, "run"), logLevel: "warn", panel: PANEL,
    player: { headless: true }, controller: { driver: "none" }, mqtt: { url: broker.url }, opsPublicKey: opsPub, telemetryIntervalS: 60,
  };
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return file;
}

/** `count` play entries appended in one transaction, as weeks offline leave them. */
export function writeBacklog(rig: LinkRig, count: number): number {
  const opened = openLedger(benchConfig(rig.dataDir), { longLived: true });
  const began = performance.now();
  try {
    opened.ledger.db.transaction(() => {
      for (let i = 0; i < count; i++) opened.ledger.append({ kind: "play", play: samplePlay(i) });
    })();
  } finally {
    opened.close();
  }
  return performance.now() - began;
}
