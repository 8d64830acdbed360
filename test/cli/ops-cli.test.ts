// The ops side of the demo path: an ops key, a signed schedule, and a screen that accepts it.
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";

const EXAMPLE = join(import.meta.dirname, "..", "..", "deploy", "examples", "schedule.json");

describe("ledagent ops", () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());
  const ops = join(tmp.dir, "ops");
  const config = join(tmp.dir, "c.yaml");

  it("creates an ops key pair, signs the shipped example, and a screen loads it", async () => {
    expect((await runCli(["ops", "keys", "init", "--dir", ops])).code).toBe(0);
    expect(statSync(join(ops, "ops.key")).mode & 0o777).toBe(0o600);
    expect((await runCli(["ops", "keys", "init", "--dir", ops])).code).toBe(1); // never replaced silently
    const signed = join(tmp.dir, "signed.json");
    const sign = await runCli(["ops", "sign-schedule", EXAMPLE, "--key", join(ops, "ops.key"), "--out", signed]);
    expect(sign.stderr).toMatch(/signed .* \(version 1, screen demo-001\)/);
    expect(sign.code).toBe(0);
    const init = await runCli(["init", "--screen", "demo-001", "--data-dir", join(tmp.dir, "data"), "--ops-public-key", join(ops, "ops.pub.pem"), "--timezone", "Asia/Shanghai"], {
      env: { LEDAGENT_CONFIG: config },
    });
    expect(init.code).toBe(0);
    const load = await runCli(["schedule", "load", signed], { env: { LEDAGENT_CONFIG: config } });
    expect(load.code, load.stderr).toBe(0);
    const plan = await runCli(["schedule", "plan", "--from", "2026-12-04T12:00:00+08:00", "--hours", "1", "--json"], { env: { LEDAGENT_CONFIG: config } });
    expect(plan.code, plan.stderr).toBe(0);
    const items = (JSON.parse(plan.stdout) as { items: { campaign: string | null }[] }).items;
    expect(items.filter((i) => i.campaign === "cola-lunch-burst")).toHaveLength(15); // 30/h over 12:00–12:30
  });

  it("refuses to sign a document with problems, naming them", async () => {
    const bad = JSON.parse(readFileSync(EXAMPLE, "utf8")) as { campaigns: { creatives: string[] }[] };
    bad.campaigns[0].creatives = ["no-such-creative"];
    const file = join(tmp.dir, "bad.json");
    writeFileSync(file, JSON.stringify(bad));
    const r = await runCli(["ops", "sign-schedule", file, "--key", join(ops, "ops.key")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refusing to sign .*no-such-creative/);
    expect(r.stdout).toBe("");
  });
});
