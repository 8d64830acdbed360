// Schedule loads at once, through a running agent that is playing: four `ledagent schedule load`
// processes started together with versions 2..5 (and v1 playing). Each is applied or refused as
// stale, never half; the store, the ledger and the plays on screen end on v5; the chain verifies.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Entry } from "../../agent/proofs/types.js";
import { runCli, type CliResult } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";
import { AgentProcesses } from "./agent-process.js";

const tmp = tempDir("ledagent-loads-");
const config = join(tmp.dir, "config.yaml");
const dataDir = join(tmp.dir, "data");
const runDir = join(tmp.dir, "run");
const env: NodeJS.ProcessEnv = { LEDAGENT_CONFIG: config };
const cli = (args: string[]): Promise<CliResult> => runCli(args, { env });
const agents = new AgentProcesses({ config, runDir });

function clip(name: string, source: string): { id: string; url: string; sha256: string; durationMs: number; approved: boolean } {
  const file = join(tmp.dir, `${name}.mp4`);
  execFileSync("ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i", `${source}=size=64x32:rate=10`, "-t", "2", "-pix_fmt", "yuv420p", file]);
  return { id: name, url: pathToFileURL(file).href, sha256: createHash("sha256").update(readFileSync(file)).digest("hex"), durationMs: 2000, approved: true };
}

async function signed(version: number, creatives: ReturnType<typeof clip>[]): Promise<string> {
  const now = Date.now();
  const doc = {
    kind: "ledagent.schedule/v1", screen: "sz-loads-001", version, issuedAt: new Date(now - 60_000).toISOString(), timezone: "UTC",
    creatives,
    campaigns: [{ id: `c${version}`, customer: "x", creatives: [creatives[1]!.id], start: new Date(now).toISOString(), end: new Date(now + 3_600_000).toISOString(), playsPerHour: 600 }],
    fill: [creatives[0]!.id],
  };
  const file = join(tmp.dir, `v${version}.json`);
  writeFileSync(file, JSON.stringify(doc));
  const out = join(tmp.dir, `v${version}.signed.json`);
  const sign = await cli(["ops", "sign-schedule", file, "--key", join(tmp.dir, "ops", "ops.key"), "--out", out]);
  expect(sign.code, sign.stderr).toBe(0);
  return out;
}

async function entries(): Promise<Entry[]> {
  const exported = await cli(["proofs", "export"]);
  expect(exported.code, exported.stderr).toBe(0);
  const verify = await runCli(["proofs", "verify", "--key", join(dataDir, "keys", "device.pub.pem"), "-"], { env, input: exported.stdout });
  expect(verify.code, verify.stderr).toBe(0);
  return exported.stdout.trim().split("\n").map((l) => JSON.parse(l) as Entry);
}

beforeAll(async () => {
  expect((await cli(["ops", "keys", "init", "--dir", join(tmp.dir, "ops")])).code).toBe(0);
  const init = await cli(["init", "--screen", "sz-loads-001", "--data-dir", dataDir, "--run-dir", runDir, "--panel", "64x32", "--headless", "--ops-public-key", join(tmp.dir, "ops", "ops.pub.pem")]);
  expect(init.code, init.stderr).toBe(0);
}, 60_000);

afterAll(async () => {
  await agents.killAll();
  tmp.cleanup();
});

describe("schedule loads at once through a playing agent", () => {
  it("apply one at a time: each applied or refused as stale, and v5 ends in force, recorded and on screen", async () => {
    const house = clip("house", "smptebars");
    const ads = [2, 3, 4, 5].map((v) => clip(`ad${v}`, "testsrc"));
    const v1 = await signed(1, [house, clip("ad1", "rgbtestsrc")]);
    const files = await Promise.all([2, 3, 4, 5].map((v, i) => signed(v, [house, ads[i]!])));
    expect((await cli(["schedule", "load", v1])).code).toBe(0);
    const agent = agents.start();
    await agents.reachable(agent);
    const loads = await Promise.all(files.map((f) => cli(["schedule", "load", f])));
    for (const r of loads) {
      // Applied, or refused because a higher version was in force by then: never anything else.
      if (r.code === 0) expect(r.stdout).toMatch(/^schedule v\d applied/);
      else expect(r.stderr).toMatch(/stale/);
    }
    expect(loads.at(-1)!.code === 0 || loads.some((r) => r.stdout.startsWith("schedule v5 applied"))).toBe(true);
    const shown = await cli(["schedule", "show"]);
    expect(shown.stdout).toMatch(/^schedule v5 /);
    // The playout takes v5 over once its creatives are fitted: its plays say so.
    const deadline = Date.now() + 40_000;
    let onV5 = false;
    while (!onV5 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      onV5 = (await entries()).some((e) => e.kind === "play" && e.play.scheduleVersion === 5 && e.play.status === "completed");
    }
    expect(onV5).toBe(true);
    expect((await agents.terminate(agent)).code).toBe(0);
    const all = await entries();
    const applied = all.filter((e) => e.kind === "event" && e.event.type === "schedule.applied").map((e) => (e.kind === "event" ? e.event.version : null));
    expect(applied.at(-1)).toBe(5);
    // Versions in force only ever go up, and each load that said "applied" is in the ledger.
    for (let i = 1; i < applied.length; i++) expect(applied[i] as number).toBeGreaterThan(applied[i - 1] as number);
    for (const r of loads.filter((x) => x.code === 0)) expect(applied).toContain(Number(/^schedule v(\d)/.exec(r.stdout)?.[1]));
    // Once v5 plays, nothing of an older version plays after it.
    const plays = all.filter((e) => e.kind === "play");
    const firstV5 = plays.findIndex((e) => e.kind === "play" && e.play.scheduleVersion === 5);
    expect(plays.slice(firstV5).every((e) => e.kind === "play" && e.play.scheduleVersion === 5)).toBe(true);
  }, 150_000);
});
