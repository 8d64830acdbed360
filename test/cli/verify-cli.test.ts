// `ledagent proofs verify` as an auditor runs it: trailing blank lines, and a strict --head file.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";

describe("ledagent proofs verify", () => {
  const tmp = tempDir("ledagent-cli-verify-");
  const env = { LEDAGENT_CONFIG: join(tmp.dir, "config.yaml") };
  const pub = join(tmp.dir, "data", "keys", "device.pub.pem");
  const headFile = join(tmp.dir, "head.json");
  let exported = "";

  beforeAll(async () => {
    expect((await runCli(["init", "--screen", "sz-verify-001", "--data-dir", join(tmp.dir, "data"), "--run-dir", join(tmp.dir, "run")], { env })).code).toBe(0);
    expect((await runCli(["note", "first"], { env })).code).toBe(0);
    expect((await runCli(["note", "second"], { env })).code).toBe(0);
    expect((await runCli(["proofs", "head", "--out", headFile], { env })).code).toBe(0);
    exported = (await runCli(["proofs", "export"], { env })).stdout;
  });
  afterAll(() => tmp.cleanup());

  it("ignores blank lines after the last entry (an editor's or echo's)", async () => {
    const r = await runCli(["proofs", "verify", "--key", pub, "--head", headFile, "-"], { input: `${exported}\n\n` });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("ok: 2 entries (2 signed, 0 stubs), seq 1..2, screen sz-verify-001, head seq 2 matches\n");
    expect(r.code).toBe(0);
  });

  it("refuses a --head file with a field twice, naming it", async () => {
    const head = readFileSync(headFile, "utf8");
    const dup = join(tmp.dir, "dup-head.json");
    writeFileSync(dup, head.replace(/^\{/, '{"seq":1,'));
    const r = await runCli(["proofs", "verify", "--key", pub, "--head", dup, "-"], { input: exported });
    expect(r.stderr).toBe('ledagent: bad head: the head has the field "seq" twice\n');
    expect(r.code).toBe(1);
  });

  it("refuses a --head that is a directory instead of reading it", async () => {
    const r = await runCli(["proofs", "verify", "--key", pub, "--head", tmp.dir, "-"], { input: exported });
    expect(r.stderr).toBe(`ledagent: --head ${tmp.dir}: is a directory, not a regular file\n`);
    expect(r.code).toBe(1);
  });
});
