// `ledagent doctor` against real pieces: a config and key made by `ledagent init`, the system's
// ffmpeg and mpv, a real mosquitto, the NovaStar simulator in its own process (`ledagent simulate
// novastar`), and a running agent. Then each piece is taken away in turn, and the doctor must name
// it, with a fix, and exit 1.
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callDaemon, type AgentStatus } from "../../agent/commands/index.js";
import { AgentProcesses } from "../daemon/agent-process.js";
import { CLI, runCli, type CliResult } from "../helpers/cli.js";
import { startMosquitto, type Mosquitto } from "../helpers/mosquitto.js";
import { tempDir } from "../helpers/tmp.js";

const SCREEN = "sz-doctor-001";
const tmp = tempDir("ledagent-doctor-");
const config = join(tmp.dir, "config.yaml");
const dataDir = join(tmp.dir, "data");
const runDir = join(tmp.dir, "run");
const agents = new AgentProcesses({ config, runDir });

let broker: Mosquitto;
let simulator: ChildProcess;
let simulatorUrl = "";

interface Line {
  name: string;
  level: "ok" | "warn" | "fail";
  detail: string;
  fix?: string;
}

interface Report {
  ok: boolean;
  checks: Line[];
  daemon: AgentStatus | null;
  skipped: string[];
}

function startSimulator(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [CLI, "simulate", "novastar", "--tcp", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const url = /^(tcp:\/\/\S+)$/m.exec(out)?.[1];
      if (url) resolve({ child, url });
    });
    child.once("exit", (code) => reject(new Error(`the simulator exited with ${code}`)));
  });
}

function stopSimulator(): Promise<void> {
  if (simulator.exitCode !== null || simulator.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    simulator.once("exit", () => resolve());
    simulator.kill("SIGTERM");
  });
}

const doctor = (args: string[] = [], configFile = config): Promise<CliResult> => runCli(["--config", configFile, "doctor", ...args], { timeoutMs: 20_000 });

async function doctorJson(configFile = config): Promise<{ run: CliResult; report: Report; by: (name: string) => Line }> {
  const run = await doctor(["--json"], configFile);
  expect(run.stderr).toBe("");
  const report = JSON.parse(run.stdout) as Report;
  const by = (name: string): Line => {
    const found = report.checks.find((c) => c.name === name);
    if (!found) throw new Error(`no ${name} line in ${run.stdout}`);
    return found;
  };
  return { run, report, by };
}

async function agentStatus(): Promise<AgentStatus | null> {
  const call = await callDaemon(runDir, "status", {}, { timeoutMs: 3000 }).catch(() => null);
  return call?.daemon === "answered" && call.outcome.ok ? (call.outcome.result as AgentStatus) : null;
}

async function until<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const got = await probe();
    if (got !== null) return got;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Fails this machine's own state may cause (its clock, its disk), which the test cannot arrange. */
const HOST_DEPENDENT = new Set(["clock", "disk"]);

beforeAll(async () => {
  broker = await startMosquitto({ persistence: false });
  ({ child: simulator, url: simulatorUrl } = await startSimulator());
  const ops = join(tmp.dir, "ops.pub.pem");
  writeFileSync(ops, generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }), { mode: 0o644 });
  const init = await runCli([
    "init", "--config", config, "--screen", SCREEN, "--data-dir", dataDir, "--run-dir", runDir, "--panel", "64x32", "--headless",
    "--controller", simulatorUrl, "--mqtt-url", broker.url, "--ops-public-key", ops,
  ]);
  expect(init.code, init.stderr).toBe(0);
});

afterAll(async () => {
  await agents.killAll();
  await stopSimulator();
  await broker.close();
  tmp.cleanup();
});

describe("ledagent doctor", () => {
  it("reports every piece there, one aligned line each, and exits 0 when nothing failed", async () => {
    // Text and JSON side by side: the checks only read, so two doctors at once see the same.
    const [text, { run, report, by }] = await Promise.all([doctor(), doctorJson()]);
    expect(text.stdout).toMatch(new RegExp(`^ok {3}config {7}${config} \\(screen ${SCREEN}; from --config\\)$`, "m"));
    expect(text.stdout).toMatch(/^warn daemon {7}not running: nothing answers on .*control\.sock$/m);
    expect(text.stdout).toMatch(/^ {18}→ fix: systemctl status ledagent; journalctl -u ledagent -n 50/m);
    expect(report.checks.filter((c) => c.level === "fail" && !HOST_DEPENDENT.has(c.name))).toEqual([]);
    expect(run.code).toBe(report.checks.some((c) => c.level === "fail") ? 1 : 0);
    expect(report.ok).toBe(run.code === 0);
    expect(by("device key")).toMatchObject({ level: "ok", detail: expect.stringContaining(join(dataDir, "keys", "device.key")) });
    expect(by("ops key").level).toBe("ok");
    expect(by("ffmpeg")).toMatchObject({ level: "ok", detail: expect.stringMatching(/version \S+/) });
    expect(by("ffprobe").level).toBe("ok");
    expect(by("mpv")).toMatchObject({ level: "ok", detail: expect.stringMatching(/version \S+/) });
    expect(by("controller")).toMatchObject({ level: "ok", detail: expect.stringContaining("probed directly") });
    expect(by("controller").detail).toContain(simulatorUrl);
    expect(by("broker")).toMatchObject({ level: "ok", detail: expect.stringContaining(`as ${SCREEN}-doctor-`) });
    expect(by("daemon").level).toBe("warn");
    expect(report.daemon).toBeNull();
  });

  it("with the agent running: shows its status, asks it for the controller, and leaves its broker session alone", async () => {
    const agent = agents.start();
    try {
      await agents.reachable(agent);
      // The link comes up after the control socket: wait for it, so that "still connected" below means something.
      await until("the agent's MQTT link", async () => ((await agentStatus())?.host?.linkConnected ? true : null));
      const [text, { report, by }] = await Promise.all([doctor(), doctorJson()]);
      expect(text.stdout).toMatch(/^ok {3}daemon {7}running, up .* answers on .*control\.sock/m);
      // `ledagent status` under the daemon line.
      expect(text.stdout).toMatch(/^ {18}controller {2}online/m);
      expect(text.stdout).toMatch(/^ {18}ledger {6}head seq \d+/m);
      expect(by("controller")).toMatchObject({ level: "ok", detail: expect.stringContaining("asked the running agent") });
      expect(by("ledger")).toMatchObject({ level: "ok", detail: expect.stringMatching(/^head seq \d+, written .*chained and signed by the device key/) });
      expect(by("run dir")).toMatchObject({ level: "ok", detail: expect.stringContaining("control.sock") });
      expect(by("broker")).toMatchObject({ level: "ok" });
      expect(report.daemon?.ledger?.headSeq).toBeGreaterThan(0);
      // The doctor's CONNECT used its own client id: the broker never closed the agent's session for it.
      expect((await agentStatus())?.host?.linkConnected).toBe(true);
      expect(broker.output()).not.toMatch(/already connected, closing old connection/);
      expect(broker.output()).toMatch(new RegExp(`New client connected from .* as ${SCREEN}-doctor-\\d+ \\(p5, c1`));
    } finally {
      await agents.terminate(agent);
    }
  });

  it("a broker and a controller that are gone: each a fail naming it, with the fix, exit 1", async () => {
    await Promise.all([broker.kill(), stopSimulator()]);
    const { run, by } = await doctorJson();
    expect(run.code).toBe(1);
    expect(by("broker")).toMatchObject({ level: "fail", detail: expect.stringMatching(new RegExp(`^${broker.url}: connection refused`)) });
    expect(by("broker").fix).toMatch(/start the broker/);
    expect(by("controller")).toMatchObject({ level: "fail", detail: expect.stringContaining(simulatorUrl) });
    expect(by("controller").fix).toMatch(/is the controller powered/);
  });

  it("a config error (fail naming the key) and a deleted device key (fail naming the key)", async () => {
    const bad = join(tmp.dir, "bad.yaml");
    writeFileSync(bad, readFileSync(config, "utf8").replace(/width: 64/, "width: 4"), { mode: 0o600 });
    const key = join(dataDir, "keys", "device.key");
    rmSync(key);
    // Two doctors at once: the bad config's skips everything that would read the data directory.
    const [text, { run, by }] = await Promise.all([doctor([], bad), doctorJson()]);

    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^fail config {7}bad config: panel\.width: 4: expected >=8$/m);
    expect(text.stdout).toMatch(/^ {18}→ fix: edit .*bad\.yaml/m);
    expect(text.stdout).toMatch(/not checked without a usable config: device key, .*controller, broker/);
    expect(text.stdout).toMatch(/^ok {3}ffmpeg /m);

    expect(run.code).toBe(1);
    expect(by("device key")).toMatchObject({ level: "fail", detail: `no device key at ${key}` });
    // The agent began a ledger under it: a new key is not the fix, the backup is.
    expect(by("device key").fix).toMatch(/^restore .*device\.key .*from the backup/);
  });
});
