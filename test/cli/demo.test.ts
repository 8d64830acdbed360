// `ledagent demo` (behind `npm start`) as a newcomer runs it: the built CLI in its own process,
// headless. It must reach real plays (fitted creatives on mpv, verified by the NovaStar
// simulator), have them proved at its collector, and stop cleanly with a summary whose claims
// match both databases.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEMO_SCREEN } from "../../agent/demo/demo.js";
import { CLI, runCli } from "../helpers/cli.js";
import { readRows } from "../helpers/db-rows.js";
import { tempDir } from "../helpers/tmp.js";

const tmp = tempDir("ledagent-demo-");
afterAll(() => tmp.cleanup());

const rows = (file: string, sql: string, ...params: string[]) => readRows<{ seq: number; hash: string }>(file, sql, ...params);

function runDemo(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [CLI, "demo", "--headless", "--dir", tmp.dir, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, DISPLAY: "" } });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, out, err })));
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

  it("bad usage exits 2 naming the flag", async () => {
    const { code, err } = await runDemo(["--plays", "0"]);
    expect(code).toBe(2);
    expect(err).toMatch(/--plays: "0" is not an integer in 1\.\.1000000/);
  });
});
