// `ledagent demo` (behind `npm start`) as a newcomer runs it: the built CLI in its own process,
// headless. It must reach real plays (fitted creatives on mpv, verified by the NovaStar
// simulator), have them proved at its collector, and stop cleanly with a summary whose claims
// match both databases.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEMO_SCREEN } from "../../agent/demo/demo.js";
import { CLI, runCli } from "../helpers/cli.js";
import { readRows } from "../helpers/db-rows.js";
import { tempDir } from "../helpers/tmp.js";

const tmp = tempDir("ledagent-demo-");
afterAll(() => tmp.cleanup());

const rows = (file: string, sql: string, ...params: string[]) => readRows<{ seq: number; hash: string }>(file, sql, ...params);

interface DemoRun {
  child: ChildProcess;
  output: () => string;
  done: Promise<{ code: number | null; out: string; err: string }>;
}

function startDemo(args: string[], dir = tmp.dir): DemoRun {
  const child = spawn(process.execPath, [CLI, "demo", "--headless", "--dir", dir, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, DISPLAY: "" } });
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  return { child, output: () => out, done: new Promise((resolve) => child.on("exit", (code) => resolve({ code, out, err }))) };
}

const runDemo = (args: string[]): DemoRun["done"] => startDemo(args).done;

async function until(what: string, probe: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Processes whose command line names the demo's directory (an mpv or ffmpeg left behind). */
function leftovers(dir: string): string[] {
  const r = spawnSync("pgrep", ["-af", dir], { encoding: "utf8" });
  return r.stdout.split("\n").filter((l) => l.trim() !== "" && !l.includes("pgrep"));
}

describe("ledagent demo", () => {
  it("plays the signed schedule it pushed, proves every play at its collector, and stops with a true summary", async () => {
    const { code, out, err } = await runDemo(["--plays", "4"]);
    expect(code, out + err).toBe(0);
    expect(out).toMatch(/ops: pushing the signed schedule v1/);
    const plays = out.split("\n").filter((l) => /^\S+ {2}play {3}#/.test(l));
    expect(plays.length, out).toBeGreaterThanOrEqual(4);
    // Real plays: the simulator answered for the screen, so each is verified.
    expect(plays.filter((l) => / completed +on \d+%, verified by the controller/.test(l)).length, out).toBeGreaterThanOrEqual(3);
    expect(out).toMatch(/proofs batch #\d+–\d+: signatures and chain verified/);
    expect(out).not.toMatch(/problem\(s\): /);

    const summary = /the device's ledger reached #(\d+) before its stop; the collector verified and holds (\d+) entries through #(\d+), no gaps, 0 problem\(s\)/.exec(out);
    expect(summary, out).not.toBeNull();
    const [reached, held, through] = (summary ?? []).slice(1).map(Number);
    expect(held).toBe(through);
    expect(through).toBe(reached);

    // The summary's claim, checked in both databases: the collector holds the device's chain, entry for entry.
    const device = rows(join(tmp.dir, "state", "device", "ledagent.db"), "SELECT seq, hash FROM ledger_entries ORDER BY seq");
    const collector = rows(join(tmp.dir, "state", "collector.db"), "SELECT seq, hash FROM entries WHERE screen = ? ORDER BY seq", DEMO_SCREEN);
    expect(collector.length).toBe(through);
    expect(collector).toEqual(device.slice(0, through));
    // The device's ledger, exported and verified with its own key, holds the plays the demo printed.
    const config = join(tmp.dir, "state", "config.yaml");
    const exported = await runCli(["proofs", "export", "--config", config]);
    expect(exported.code, exported.stderr).toBe(0);
    const verify = await runCli(["proofs", "verify", "--key", join(tmp.dir, "state", "device", "keys", "device.pub.pem"), "-"], { input: exported.stdout });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(out).toMatch(/contracted delivered make-goods short owed/);
  }, 120_000);

  it("Ctrl-C while it starts stops it there, with nothing left running; a second demo on its directory is refused", async () => {
    const dir = join(tmp.dir, "second");
    const first = startDemo(["--for", "120"], dir);
    await until("the first demo's broker", () => /broker mqtt:/.test(first.output()), 60_000);
    const second = await startDemo(["--plays", "1"], dir).done;
    expect(second.code).toBe(1);
    expect(second.err).toMatch(/the demo could not start: another demo is running on .*second: stop it, or give this one another --dir/);
    first.child.kill("SIGINT");
    const stopped = await first.done;
    expect(stopped.code, stopped.out + stopped.err).toBe(0);
    expect(stopped.out).toMatch(/stopping/);
    expect(leftovers(dir)).toEqual([]);
    // Early: while its creatives are checked or the broker starts.
    const early = startDemo(["--for", "120"], dir);
    await until("the demo's first line", () => early.output().length > 0, 30_000);
    early.child.kill("SIGINT");
    const quick = await early.done;
    expect(quick.code, `${quick.out}\nstderr: ${quick.err}\nlog: ${readFileSync(join(dir, "demo.log"), "utf8").slice(-1500)}`).toBe(0);
    expect(quick.err).not.toMatch(/Error|rejection/);
    await new Promise((r) => setTimeout(r, 500));
    expect(leftovers(dir)).toEqual([]);
  }, 120_000);

  it("bad usage exits 2 naming the flag", async () => {
    const { code, err } = await runDemo(["--plays", "0"]);
    expect(code).toBe(2);
    expect(err).toMatch(/--plays: "0" is not an integer in 1\.\.1000000/);
  });
});
