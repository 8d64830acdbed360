// The technician's and the auditor's path, through the built command: init, keys, note, export, verify.
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, type CliResult } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";

describe("ledagent init, keys, note, proofs", () => {
  const tmp = tempDir();
  const config = join(tmp.dir, "etc", "config.yaml");
  const dataDir = join(tmp.dir, "data");
  const pub = join(dataDir, "keys", "device.pub.pem");
  const env = { LEDAGENT_CONFIG: config };
  const outputs: CliResult[] = [];
  const cli = async (args: string[], input?: string): Promise<CliResult> => {
    const r = await runCli(args, { env, input });
    outputs.push(r);
    return r;
  };

  beforeAll(async () => {
    const r = await cli(["init", "--screen", "sz-test-001", "--data-dir", dataDir, "--run-dir", join(tmp.dir, "run"), "--panel", "1008x144", "--timezone", "Asia/Shanghai"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });
  afterAll(() => tmp.cleanup());

  it("init writes a loadable, commented config and a 0600 key", async () => {
    const text = readFileSync(config, "utf8");
    expect(text).toMatch(/# .*LEDAGENT_PANEL_WIDTH/);
    expect(text).toMatch(/width: 1008/);
    expect(statSync(join(dataDir, "keys", "device.key")).mode & 0o777).toBe(0o600);
    const show = await cli(["keys", "show"]);
    expect(show.code).toBe(0);
    expect(show.stdout).toBe(readFileSync(pub, "utf8"));
    expect(show.stdout).toMatch(/^-----BEGIN PUBLIC KEY-----/);
  });

  it("init and keys init refuse to replace an existing key without --force", async () => {
    const before = readFileSync(join(dataDir, "keys", "device.key"));
    const again = await cli(["init", "--screen", "other", "--data-dir", dataDir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists.*--force/);
    const keys = await cli(["keys", "init"]);
    expect(keys.code).toBe(1);
    expect(keys.stderr).toMatch(/device key already exists.*--force/);
    expect(readFileSync(join(dataDir, "keys", "device.key")).equals(before)).toBe(true);
  });

  it("init --force redoes the config but keeps the key; --new-key replaces it", async () => {
    const key = join(dataDir, "keys", "device.key");
    const before = readFileSync(key);
    const base = ["init", "--screen", "sz-test-001", "--data-dir", dataDir, "--run-dir", join(tmp.dir, "run"), "--timezone", "Asia/Shanghai"];
    const redo = await cli([...base, "--panel", "1008x144", "--force"]);
    expect(redo.code).toBe(0);
    expect(redo.stdout).toMatch(/device key: .* \(kept\)/);
    expect(readFileSync(key).equals(before)).toBe(true);
    const other = join(tmp.dir, "other.yaml");
    const fresh = await runCli([...base, "--data-dir", join(tmp.dir, "data2"), "--force", "--new-key"], { env: { LEDAGENT_CONFIG: other } });
    expect(fresh.code).toBe(0);
    expect(fresh.stdout).toMatch(/device key: .* \(new\)/);
  });

  it("verify refuses a private key given as --key", async () => {
    const r = await cli(["proofs", "verify", "--key", join(dataDir, "keys", "device.key"), "-"], "{}\n");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is a PRIVATE key; give the public key instead.*`ledagent keys show` prints the public key/);
  });

  it("export from a data directory with no ledger fails instead of exporting nothing", async () => {
    const r = await runCli(["proofs", "export"], { env: { LEDAGENT_CONFIG: config, LEDAGENT_DATA_DIR: join(tmp.dir, "empty") } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no database at .*empty.*is dataDir right/);
  });

  it("note commits a signed technician.note; export and verify agree", async () => {
    expect((await cli(["note", "replaced", "module", "3"])).stdout).toBe("noted as seq 1\n");
    expect((await cli(["note", "--by", "Wang", "cleaned the panel"])).stdout).toBe("noted as seq 2\n");
    const out = join(tmp.dir, "proofs.jsonl");
    const exp = await cli(["proofs", "export", "--out", out]);
    expect(exp.code).toBe(0);
    const lines = readFileSync(out, "utf8").trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0])).toMatchObject({ seq: 1, kind: "event", event: { type: "technician.note", text: "replaced module 3" } });
    const ok = await cli(["proofs", "verify", "--key", pub, out]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^ok: 2 entries .* seq 1\.\.2, screen sz-test-001/);
    // stdin works too
    const viaStdin = await cli(["proofs", "verify", "--key", pub, "-"], readFileSync(out, "utf8"));
    expect(viaStdin.code).toBe(0);
  });

  it("verify exits 1 naming the first bad seq", async () => {
    const out = join(tmp.dir, "tampered.jsonl");
    const exp = await cli(["proofs", "export"]);
    const lines = exp.stdout.trim().split("\n");
    const x = JSON.parse(lines[1]) as { event: { text: string } };
    x.event.text = "nothing happened";
    writeFileSync(out, [lines[0], JSON.stringify(x)].join("\n") + "\n");
    const bad = await cli(["proofs", "verify", "--key", pub, out]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^ledagent: bad signature at seq 2/);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("verify --head catches a truncated export", async () => {
    const head = join(tmp.dir, "head.json");
    expect((await cli(["proofs", "head", "--out", head])).code).toBe(0);
    const exp = await cli(["proofs", "export"]);
    const first = exp.stdout.split("\n")[0] + "\n";
    const r = await cli(["proofs", "verify", "--key", pub, "--head", head, "-"], first);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/truncated at seq 2: the export ends at seq 1 but the signed head is at seq 2/);
  });

  it("proofs at answers what the ledger says about an instant", async () => {
    const r = await cli(["proofs", "at", new Date().toISOString()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/nothing playing; last event: seq 2: technician.note/);
  });

  it("bad usage exits 2, failures exit 1, each with one line", async () => {
    expect((await cli(["proofs", "verify", "x.jsonl"])).code).toBe(2); // --key missing
    expect((await cli(["proofs", "export", "--format", "xml"])).code).toBe(2);
    const badPanel = await cli(["init", "--screen", "x", "--data-dir", join(tmp.dir, "d3"), "--panel", "7x3", "--force"]);
    expect(badPanel.code).toBe(2);
    expect(badPanel.stderr).toMatch(/panel\.width: 7: expected >=8/);
    const badHead = await cli(["proofs", "verify", "--key", pub, "--head", config, "-"], "{}\n");
    expect(badHead.code).toBe(1);
    expect(badHead.stderr).toMatch(/--head .*: not JSON/);
    const noFile = await cli(["proofs", "verify", "--key", pub, join(tmp.dir, "missing.jsonl")]);
    expect(noFile.code).toBe(1);
    expect(noFile.stderr).toMatch(/ENOENT/);
    const noConfig = await runCli(["note", "x"], { env: { LEDAGENT_CONFIG: join(tmp.dir, "nope.yaml") } });
    expect(noConfig.code).toBe(1);
    expect(noConfig.stderr).toMatch(/nope.yaml: no such file/);
  });

  it("never prints the private key", () => {
    const pem = readFileSync(join(dataDir, "keys", "device.key"), "utf8");
    const body = pem.split("\n").filter((l) => l && !l.startsWith("-----")).join("");
    for (const r of outputs) {
      expect(r.stdout + r.stderr).not.toContain(body);
    }
    expect(outputs.length).toBeGreaterThan(10);
  });
});
