// The config, the device key, the ops key and the ledger, on real files in a temp directory: each
// way they go wrong in the field gives a fail (or a warn) with the fix for that way.
import { generateKeyPairSync } from "node:crypto";
import { chmodSync, copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseConfig, type Config } from "../../agent/config.js";
import { createKeyFiles, signingRecordPath } from "../../agent/crypto/index.js";
import { checkConfig } from "../../agent/doctor/config-check.js";
import { checkDeviceKey, checkOpsKey } from "../../agent/doctor/keys.js";
import { checkLedger } from "../../agent/doctor/ledger.js";
import { agentPaths } from "../../agent/paths.js";
import { fixedClock, openLedger } from "../../agent/proofs/index.js";
import { openDatabase } from "../../agent/store/index.js";
import { tempDir } from "../helpers/tmp.js";

let tmp: ReturnType<typeof tempDir>;
let config: Config;

beforeEach(() => {
  tmp = tempDir("ledagent-doctor-files-");
  config = parseConfig(`screenId: sz-1\ndataDir: ${join(tmp.dir, "data")}\nrunDir: ${join(tmp.dir, "run")}\npanel: { width: 64, height: 32 }\n`, {});
  mkdirSync(join(tmp.dir, "data", "keys"), { recursive: true, mode: 0o700 });
});
afterEach(() => tmp.cleanup());

function newKey(): void {
  const p = agentPaths(config);
  createKeyFiles(p.deviceKey, p.devicePublicKey);
}

function writeEntries(n: number): void {
  const { ledger, close } = openLedger(config, { clock: fixedClock(new Date("2026-12-01T08:00:00Z")) });
  for (let i = 0; i < n; i++) ledger.event("technician.note", { text: `note ${i}` });
  close();
}

describe("config", () => {
  const write = (text: string, mode = 0o600): string => {
    const path = join(tmp.dir, "config.yaml");
    writeFileSync(path, text, { mode });
    chmodSync(path, mode);
    return path;
  };
  const good = (): string => `screenId: sz-1\ndataDir: ${tmp.dir}\npanel: { width: 64, height: 32 }\n`;

  it("says which file, for which screen, and the overrides from the environment", () => {
    const path = write(good());
    const c = checkConfig({ explicit: path, env: { LEDAGENT_LOG_LEVEL: "debug" } });
    expect(c.result).toEqual({ name: "config", level: "ok", detail: `${path} (screen sz-1; from --config, with LEDAGENT_LOG_LEVEL from the environment)` });
    expect(c.config?.logLevel).toBe("debug");
    expect(checkConfig({ env: { LEDAGENT_CONFIG: path } }).result.detail).toContain("from $LEDAGENT_CONFIG");
  });

  it("a missing file: init writes one", () => {
    const c = checkConfig({ explicit: join(tmp.dir, "none.yaml"), env: {} });
    expect(c.config).toBeNull();
    expect(c.result).toMatchObject({ level: "fail", detail: expect.stringContaining("none.yaml: no such file") });
    expect(c.result.fix).toMatch(/ledagent init --screen/);
  });

  it("a bad value names the key; a bad override names the variable; bad YAML the line", () => {
    const path = write(good().replace("width: 64", "width: 0"));
    expect(checkConfig({ explicit: path, env: {} }).result).toMatchObject({ level: "fail", detail: "bad config: panel.width: 0: expected >=8", fix: expect.stringMatching(/^edit .*config\.yaml/) });
    write(good());
    const env = checkConfig({ explicit: path, env: { LEDAGENT_PANEL_WIDTH: "wide" } }).result;
    expect(env).toMatchObject({ level: "fail", detail: expect.stringContaining("LEDAGENT_PANEL_WIDTH") });
    expect(env.fix).toMatch(/unset the LEDAGENT_/);
    write("screenId: [unclosed\n");
    expect(checkConfig({ explicit: path, env: {} }).result.fix).toMatch(/at the line named/);
  });

  it("a config others may rewrite: the agent's own fix, split off the line", () => {
    const path = write(good(), 0o666);
    expect(checkConfig({ explicit: path, env: {} }).result).toMatchObject({ level: "fail", detail: expect.stringContaining("is writable by group or others"), fix: `\`chmod go-w ${path}\`` });
  });
});

describe("device key", () => {
  it("ok: the key, its fingerprint and the ledger it began", () => {
    newKey();
    writeEntries(1);
    const r = checkDeviceKey(config);
    expect(r).toMatchObject({ level: "ok", detail: expect.stringMatching(/device\.key \(ed25519, fingerprint [0-9a-f]{16}…, mode 600, began the ledger of screen sz-1\)$/) });
  });

  it("missing: keys init on a new box, the backup once a ledger was begun", () => {
    const missing = checkDeviceKey(config);
    expect(missing).toMatchObject({ level: "fail", detail: `no device key at ${agentPaths(config).deviceKey}`, fix: expect.stringContaining("ledagent keys init") });
    newKey();
    writeEntries(1);
    rmSync(agentPaths(config).deviceKey);
    const lost = checkDeviceKey(config);
    expect(lost.fix).toMatch(/^restore .*device\.key .*from the backup: no other key can extend this ledger/);
    expect(lost.fix).toContain("--archive-ledger");
  });

  it("readable by others: chmod 600", () => {
    newKey();
    chmodSync(agentPaths(config).deviceKey, 0o644);
    expect(checkDeviceKey(config)).toMatchObject({ level: "fail", detail: expect.stringContaining("is readable by others (mode 644)"), fix: `chmod 600 ${agentPaths(config).deviceKey}` });
  });

  it("not a key: restore it", () => {
    writeFileSync(agentPaths(config).deviceKey, "garbage", { mode: 0o600 });
    expect(checkDeviceKey(config)).toMatchObject({ level: "fail", detail: expect.stringContaining("not a readable private key"), fix: expect.stringMatching(/^restore /) });
  });

  it("another key than the one that began the ledger: fail, restore the old key", () => {
    newKey();
    writeEntries(1);
    const p = agentPaths(config);
    rmSync(p.deviceKey);
    createKeyFiles(p.deviceKey, p.devicePublicKey);
    const r = checkDeviceKey(config);
    expect(r).toMatchObject({ level: "fail", detail: expect.stringContaining("is not the key that began this ledger"), fix: expect.stringMatching(/^restore the device key that began the ledger/) });
    expect(r.detail).toContain(signingRecordPath(p.deviceKey));
  });

  it("a published public key that is not this key's: warn, write it again", () => {
    newKey();
    const p = agentPaths(config);
    writeFileSync(p.devicePublicKey, generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }));
    expect(checkDeviceKey(config)).toMatchObject({ level: "warn", detail: expect.stringContaining("is not this key's public half"), fix: `ledagent keys show > ${p.devicePublicKey}` });
  });
});

describe("ops key", () => {
  const opsFile = (): string => join(tmp.dir, "ops.pub.pem");

  it("not configured: warn; configured and good: ok with its fingerprint", () => {
    expect(checkOpsKey({}).level).toBe("warn");
    writeFileSync(opsFile(), generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }), { mode: 0o644 });
    expect(checkOpsKey({ opsPublicKey: opsFile() })).toMatchObject({ level: "ok", detail: expect.stringMatching(/fingerprint [0-9a-f]{16}…/) });
  });

  it("missing, a private key, writable by others: each with its fix", () => {
    expect(checkOpsKey({ opsPublicKey: opsFile() })).toMatchObject({ level: "fail", fix: expect.stringContaining("ledagent ops keys init") });
    writeFileSync(opsFile(), generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o644 });
    expect(checkOpsKey({ opsPublicKey: opsFile() })).toMatchObject({ level: "fail", fix: expect.stringContaining("remove the private key from this box") });
    chmodSync(opsFile(), 0o666);
    expect(checkOpsKey({ opsPublicKey: opsFile() })).toMatchObject({ level: "fail", fix: `\`chmod go-w ${opsFile()}\`` });
  });
});

describe("ledger", () => {
  it("none yet, then its head, when written, and the tail checked under the device key", () => {
    newKey();
    expect(checkLedger(config)).toMatchObject({ level: "ok", detail: expect.stringContaining("none yet") });
    writeEntries(5);
    expect(checkLedger(config)).toMatchObject({ level: "ok", detail: expect.stringMatching(/^head seq 5, written 2026-12-01T08:00:00\.000Z; the last 5 entries chained and signed by the device key/) });
    expect(checkLedger(config, 3).detail).toContain("the last 3 entries");
  });

  it("a deleted database the key began: fail, restore it", () => {
    newKey();
    writeEntries(2);
    for (const suffix of ["", "-wal", "-shm"]) rmSync(agentPaths(config).database + suffix, { force: true });
    expect(checkLedger(config)).toMatchObject({ level: "fail", detail: expect.stringContaining("it was deleted or moved"), fix: expect.stringMatching(/^restore the database from a backup/) });
  });

  it("an altered entry, a gap, another screen's ledger: each named by seq", () => {
    newKey();
    writeEntries(4);
    const db = openDatabase(agentPaths(config).database);
    db.prepare("UPDATE ledger_entries SET body = replace(body, 'note 2', 'note X') WHERE seq = 3").run();
    db.close();
    expect(checkLedger(config)).toMatchObject({ level: "fail", detail: expect.stringContaining("seq 3: its stored hash does not match its body") });
    const db2 = openDatabase(agentPaths(config).database);
    db2.prepare("DELETE FROM ledger_entries WHERE seq = 3").run();
    db2.close();
    expect(checkLedger(config).detail).toContain("seq 3 is missing");
    expect(checkLedger({ ...config, screenId: "sz-2" })).toMatchObject({ level: "fail", detail: expect.stringContaining('belongs to screen "sz-1", but the config says "sz-2"'), fix: expect.stringContaining("new data directory") });
  });

  it("a restored older copy (behind what the key signed): fail", () => {
    newKey();
    writeEntries(2);
    const p = agentPaths(config);
    const backup = join(tmp.dir, "backup.db");
    const db = openDatabase(p.database);
    db.exec(`VACUUM INTO '${backup}'`);
    db.close();
    writeEntries(2);
    for (const suffix of ["-wal", "-shm"]) rmSync(p.database + suffix, { force: true });
    copyFileSync(backup, p.database);
    expect(checkLedger(config)).toMatchObject({ level: "fail", detail: expect.stringContaining("the head is at seq 2, but this key has signed up to seq 4") });
  });

  it("entries signed by another key: fail", () => {
    newKey();
    writeEntries(2);
    const p = agentPaths(config);
    for (const f of [p.deviceKey, p.devicePublicKey, signingRecordPath(p.deviceKey)]) rmSync(f);
    newKey();
    expect(checkLedger(config).detail).toContain("is not signed by this device key");
  });
});
