// Where the CLI's output goes: a reader that closes the pipe early ends the command quietly, and
// `--out` names the real reason it cannot write (and leaves no temp file) for every command.
import { spawn } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../agent/config.js";
import { openLedger } from "../../agent/proofs/index.js";
import { CLI, runCli, type CliResult } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";
import { play } from "../proofs/fixtures.js";

const EXAMPLE = join(import.meta.dirname, "..", "..", "deploy", "examples", "schedule.json");
const NOBODY = 65534;

/** Runs the built CLI with its stdout pipe closed before it writes a byte. */
function runWithClosedStdout(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout: "", stderr }));
  });
}

/** Runs a shell pipeline; its exit status is the first command's (bash PIPESTATUS). */
function runPipeline(script: string, env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", `${script}; exit \${PIPESTATUS[0]}`], { env: { ...process.env, ...env, CLI } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function tempFilesIn(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith(".tmp"));
}

describe("ledagent output", () => {
  const tmp = tempDir("ledagent-cli-output-");
  const config = join(tmp.dir, "config.yaml");
  const env = { LEDAGENT_CONFIG: config };
  const opsDir = join(tmp.dir, "ops");
  const signed = join(tmp.dir, "signed.json");

  beforeAll(async () => {
    const init = await runCli(["init", "--screen", "demo-001", "--data-dir", join(tmp.dir, "data"), "--run-dir", join(tmp.dir, "run"), "--timezone", "Asia/Shanghai"], { env });
    expect(init.stderr).toBe("");
    // Far more than a pipe buffer (64 KiB), so the export is still writing when `head` exits.
    const { ledger, close } = openLedger(loadConfig(config, {}));
    for (let i = 0; i < 200; i++) {
      ledger.event("technician.note", { text: `note ${i}: ${"checked the modules of cabinet ".repeat(8)}` });
      ledger.append({ kind: "play", play: play({ screenState: { verified: true, online: true, brightness: 80, blackout: false } }) });
    }
    close();
    expect((await runCli(["ops", "keys", "init", "--dir", opsDir])).code).toBe(0);
    const sign = await runCli(["ops", "sign-schedule", EXAMPLE, "--key", join(opsDir, "ops.key"), "--out", signed]);
    expect(sign.code, sign.stderr).toBe(0);
  });
  afterAll(() => tmp.cleanup());

  describe("a closed pipe ends the command quietly with 141", () => {
    it.each([
      ["proofs export"],
      ["proofs export --format csv"],
      ["keys show"],
      ["proofs head"],
    ])("%s", async (command) => {
      const r = await runWithClosedStdout(command.split(" "), env);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(141);
    });

    it("schedule plan", async () => {
      const r = await runWithClosedStdout(["schedule", "plan", "--schedule", signed, "--from", "2026-12-04T00:00:00+08:00", "--hours", "24"], env);
      // plan may warn on stderr about the schedule; nothing about the pipe, no stack trace
      expect(r.stderr).not.toMatch(/EPIPE|\n\s+at |Error/);
      expect(r.code).toBe(141);
    });

    it("proofs export | head -1 prints one whole entry and no error", async () => {
      const r = await runPipeline(`node "$CLI" proofs export | head -1`, env);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(141);
      expect(JSON.parse(r.stdout)).toMatchObject({ seq: 1 });
    });

    it("proofs export --format csv | head -1 prints the header and no error", async () => {
      const r = await runPipeline(`node "$CLI" proofs export --format csv | head -1`, env);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(141);
      expect(r.stdout).toMatch(/^seq,/);
    });
  });

  describe("--out names the real error and leaves no temp file", () => {
    const commands: [string, string[]][] = [
      ["proofs export", ["proofs", "export"]],
      ["proofs head", ["proofs", "head"]],
      ["ops sign-schedule", ["ops", "sign-schedule", EXAMPLE, "--key", join(opsDir, "ops.key")]],
    ];

    it.each(commands)("%s --out DIR: is a directory", async (_name, args) => {
      const dir = join(tmp.dir, `dir-${args[1]}`);
      mkdirSync(dir);
      const r = await runCli([...args, "--out", dir], { env });
      expect(r.stderr).toBe(`ledagent: --out ${dir}: is a directory\n`);
      expect(r.code).toBe(1);
      expect(tempFilesIn(tmp.dir)).toEqual([]);
      expect(readdirSync(dir)).toEqual([]);
    });

    it.each(commands)("%s --out /nonexistent/dir/f: no such directory", async (_name, args) => {
      const target = join(tmp.dir, "nonexistent", "dir", "f");
      const r = await runCli([...args, "--out", target], { env });
      expect(r.stderr).toBe(`ledagent: --out ${target}: no such directory ${join(tmp.dir, "nonexistent", "dir")}\n`);
      expect(r.code).toBe(1);
      expect(readdirSync(tmp.dir)).not.toContain("nonexistent"); // never created on the way
    });

    it.each(commands)("%s --out /dev/null: not a regular file (never replaced by a plain file)", async (_name, args) => {
      const r = await runCli([...args, "--out", "/dev/null"], { env });
      expect(r.stderr).toBe("ledagent: --out /dev/null: is not a regular file (use - for stdout)\n");
      expect(r.code).toBe(1);
    });

    it("--out in a directory the user cannot write: permission denied", async () => {
      // Root may write anywhere, so the refusal is shown for an ordinary account.
      const shared = join(tmp.dir, "shared");
      const locked = join(shared, "locked");
      mkdirSync(locked, { recursive: true, mode: 0o755 });
      chmodSync(tmp.dir, 0o755);
      chmodSync(shared, 0o755);
      const key = join(shared, "ops.key");
      writeFileSync(key, readFileSync(join(opsDir, "ops.key")), { mode: 0o600 });
      const target = join(locked, "signed.json");
      const asNobody = process.getuid?.() === 0 ? { uid: NOBODY, gid: NOBODY } : {};
      if (process.getuid?.() === 0) chownSync(key, NOBODY, NOBODY);
      const r = await new Promise<CliResult>((resolve) => {
        const child = spawn(process.execPath, [CLI, "ops", "sign-schedule", EXAMPLE, "--key", key, "--out", target], { ...asNobody, stdio: ["ignore", "pipe", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        child.on("close", (code) => resolve({ code, stdout: "", stderr }));
      });
      expect(r.stderr).toBe(`ledagent: --out ${target}: permission denied: cannot create files in ${locked}\n`);
      expect(r.code).toBe(1);
      expect(readdirSync(locked)).toEqual([]);
    });

    it("a good --out replaces the file whole and leaves no temp file", async () => {
      const target = join(tmp.dir, "export.jsonl");
      writeFileSync(target, "old\n");
      const r = await runCli(["proofs", "export", "--out", target], { env });
      expect(r.code, r.stderr).toBe(0);
      const lines = readFileSync(target, "utf8").trimEnd().split("\n");
      expect(lines).toHaveLength(400);
      expect(JSON.parse(lines[399])).toMatchObject({ seq: 400, kind: "play" });
      expect(tempFilesIn(tmp.dir)).toEqual([]);
    });
  });
});
