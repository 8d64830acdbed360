// The ledger's life through the built command: a deleted ledger is not restarted under the same
// key, a damaged row never leaves in an export, and a key change archives the old ledger whole.
// Each test's starting ledger (init and three notes) is made in this process by the same commands,
// and a ledger is checked whole with the code behind `proofs export | verify`: a start of the built
// command costs about a second, and neither is what is tested here.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase } from "../../agent/store/index.js";
import { registerInitCommands } from "../../agent/cli/init.js";
import { runCli, runCliInProcess, type CliResult } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";
import { verifiedLedgerLines } from "../helpers/verified-ledger.js";

describe("ledger lifecycle through the CLI", () => {
  let tmp: ReturnType<typeof tempDir>;
  let env: NodeJS.ProcessEnv;
  let dataDir: string;
  const cli = (args: string[], input?: string): Promise<CliResult> => runCli(args, { env, input });
  const init = (...extra: string[]): Promise<CliResult> =>
    cli(["init", "--screen", "sz-test-001", "--data-dir", dataDir, "--run-dir", join(tmp.dir, "run"), ...extra]);
  const db = (): string => join(dataDir, "ledagent.db");
  const pub = (): string => join(dataDir, "keys", "device.pub.pem");

  beforeEach(async () => {
    tmp = tempDir();
    dataDir = join(tmp.dir, "data");
    env = { LEDAGENT_CONFIG: join(tmp.dir, "config.yaml") };
    const here = (args: string[]): Promise<CliResult> => runCliInProcess(registerInitCommands, ["--config", join(tmp.dir, "config.yaml"), ...args]);
    const made = await here(["init", "--screen", "sz-test-001", "--data-dir", dataDir, "--run-dir", join(tmp.dir, "run")]);
    expect(made.code, made.stderr).toBe(0);
    for (const text of ["one", "two", "three"]) expect((await here(["note", text])).stdout).toMatch(/^noted as seq \d+\n$/);
  });
  afterEach(() => tmp.cleanup());

  /**
   * How many entries the ledger in `dir` holds, once exported whole and verified under `key` with
   * the code behind `proofs export | proofs verify` (the last test runs both commands on an archive).
   */
  async function verifiedEntries(key: string, dir = dataDir): Promise<number> {
    return (await verifiedLedgerLines({ dataDir: dir, runDir: join(tmp.dir, "run") }, key)).length;
  }

  it("note refuses to start a second history under a key whose ledger was deleted, and says how to recover", async () => {
    for (const s of ["", "-wal", "-shm"]) rmSync(db() + s, { force: true });
    const r = await cli(["note", "after the loss"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/empty or missing; appending would start a second history under the same key/);
    expect(r.stderr).toMatch(/restore the database from a backup.*--force --new-key --archive-ledger/);
    // Nothing was recorded under the old key, and no empty database was left to export nothing from.
    expect(existsSync(db())).toBe(false);
    const out = await cli(["proofs", "export"]);
    expect(out.code).toBe(1);
  });

  it("note refuses to append after the head rows were deleted, naming the seq the key signed up to", async () => {
    const d = openDatabase(db());
    d.exec("DELETE FROM ledger_entries WHERE seq = 3");
    d.close();
    const r = await cli(["note", "onto an older copy"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/head of .* is seq 2, but this device key has signed up to seq 3 .*second entry at seq 3.*backup that reaches seq 3/);
  });

  it("proofs at refuses a row whose body was edited, naming the seq", async () => {
    const d = openDatabase(db());
    d.exec(`UPDATE ledger_entries SET body = replace(body, '"text":"two"', '"text":"FORGED"') WHERE seq = 2`);
    d.close();
    const at = await cli(["proofs", "at", "now"]);
    expect(at.code).toBe(0); // the last event (seq 3) is intact
    const d2 = openDatabase(db());
    d2.exec("DELETE FROM ledger_entries WHERE seq = 3");
    d2.close();
    const forged = await cli(["proofs", "at", "now"]);
    expect(forged.code).toBe(1);
    expect(forged.stderr).toMatch(/read refused at seq 2: its stored hash does not match its body/);
  });

  it("a key change after the private key was lost archives the old public key, so the old ledger stays verifiable", async () => {
    const oldPub = readFileSync(pub(), "utf8");
    rmSync(join(dataDir, "keys", "device.key"));
    const r = await init("--force", "--new-key", "--archive-ledger");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/not closed .*verify it with the device\.pub\.pem there/);
    const [stamp] = readdirSync(join(dataDir, "archive"));
    const archive = join(dataDir, "archive", stamp);
    expect(readFileSync(join(archive, "device.pub.pem"), "utf8")).toBe(oldPub);
    expect(await verifiedEntries(join(archive, "device.pub.pem"), archive)).toBe(3);
  });

  it("proofs export refuses a row whose stored hash is not its body's, naming the seq, and leaves no file", async () => {
    const d = openDatabase(db());
    d.prepare("UPDATE ledger_entries SET hash = ? WHERE seq = 2").run("a".repeat(64));
    d.close();
    const out = join(tmp.dir, "export.jsonl");
    const r = await cli(["proofs", "export", "--out", out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/export refused at seq 2: its stored hash does not match its body/);
    expect(existsSync(out)).toBe(false);
    const note = await cli(["note", "onto a damaged ledger"]);
    expect(note.code).toBe(1);
    expect(note.stderr).toMatch(/head entry \(seq 3\) follows seq 2, whose stored hash does not match its body/);
  });

  it("init --force --new-key over a ledger is refused, naming --archive-ledger, and the key is kept", async () => {
    const key = readFileSync(join(dataDir, "keys", "device.key"));
    const r = await init("--force", "--new-key");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the ledger holds 3 entries; a new key would sign onto a chain whose entries no single key verifies.*--new-key --archive-ledger/);
    expect(readFileSync(join(dataDir, "keys", "device.key")).equals(key)).toBe(true);
    const keys = await cli(["keys", "init", "--force"]);
    expect(keys.code).toBe(1);
    expect(keys.stderr).toMatch(/keys init --force: the ledger holds 3 entries/);
    expect((await cli(["note", "still under the old key"])).code).toBe(0);
    expect(await verifiedEntries(pub())).toBe(4);
  });

  it("init --force --new-key --archive-ledger closes the old ledger under the old key and starts a new one", async () => {
    const oldPub = readFileSync(pub(), "utf8");
    const r = await init("--force", "--new-key", "--archive-ledger");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/old ledger: .*archive.* \(closed at seq 4 with a signed head/);
    const [stamp] = readdirSync(join(dataDir, "archive"));
    const archive = join(dataDir, "archive", stamp);
    expect(readdirSync(archive).sort()).toEqual(["device.key.ledger.json", "device.pub.pem", "head.json", "ledagent.db"]);
    expect(readFileSync(join(archive, "device.pub.pem"), "utf8")).toBe(oldPub);
    // The old ledger verifies whole under the old key, up to its final signed head.
    const old = await runCli(["proofs", "export"], { env: { ...env, LEDAGENT_DATA_DIR: archive } });
    const oldExport = join(tmp.dir, "old.jsonl");
    writeFileSync(oldExport, old.stdout);
    const v = await cli(["proofs", "verify", "--key", join(archive, "device.pub.pem"), "--head", join(archive, "head.json"), oldExport]);
    expect(v.stdout, v.stderr).toMatch(/^ok: 4 entries.*head seq 4 matches/);
    expect(old.stdout).toMatch(/ledger closed: the device key is being replaced/);
    // The new ledger begins at seq 1 under the new key.
    expect(readFileSync(pub(), "utf8")).not.toBe(oldPub);
    const note = await cli(["note", "first under the new key"]);
    expect(note.stdout).toBe("noted as seq 1\n");
    expect(await verifiedEntries(pub())).toBe(1);
  });

  it("a key change cut short after the ledger was archived is refused until it is finished", async () => {
    // As if init was killed after moving the database, before writing the new key.
    rmSync(db());
    const refused = await cli(["note", "x"]);
    expect(refused.stderr).toMatch(/second history/);
    const r = await init("--force", "--new-key", "--archive-ledger");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/old ledger: .* \(not closed \(it was empty\)/);
    expect((await cli(["note", "fresh"])).stdout).toBe("noted as seq 1\n");
  });
});
