// The release tarball (`npm run package`) and deploy/install.sh, end to end: the real package is
// built once, then installed, reinstalled, upgraded, refused and uninstalled under a scratch root
// (--destdir) that has its own account files, so the agent's user is really created there.
// Needs root (chown, useradd --root, running the CLI as the agent's user), as on a real box.
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { createHash, generateKeyPairSync } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../helpers/tmp.js";

const REPO = join(import.meta.dirname, "..", "..");
const INSTALL = join(REPO, "deploy", "install.sh");
const VERSION = (JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string }).version;
// What systemd gives the service: the agent's user cannot enter every directory a caller's PATH may hold.
const SERVICE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const isRoot = process.getuid?.() === 0;
// Each of the longer cases spawns a dozen processes (tar, useradd, the CLI): seconds on an idle
// two-core machine, several times that beside other test files.
const SLOW = 120_000;

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: "utf8", cwd: opts.cwd ?? "/", env: { ...process.env, ...opts.env }, timeout: 60_000 });
}

function install(args: string[]): SpawnSyncReturns<string> {
  return run("bash", [INSTALL, ...args]);
}

/**
 * Every entry under `dir`: mode, owner, inode, size, mtime, link target, and the content hash of
 * every file outside the unpacked releases (those thousands are told apart by inode and mtime).
 */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      let what = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${st.ino} ${st.size} ${st.mtimeMs}`;
      if (st.isSymbolicLink()) what += ` -> ${readlinkSync(p)}`;
      else if (st.isFile() && !p.includes("/opt/ledagent/releases/")) what += ` ${createHash("sha256").update(readFileSync(p)).digest("hex")}`;
      out[p.slice(dir.length)] = what;
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

function accountField(root: string, file: "passwd" | "group", name: string, field: number): string | undefined {
  const line = readFileSync(join(root, "etc", file), "utf8")
    .split("\n")
    .find((l) => l.split(":")[0] === name);
  return line?.split(":")[field];
}

/** A tiny release: enough for the installer's checks and an upgrade's switch, with no agent in it. */
function fakeRelease(dir: string, version: string, manifest: Record<string, unknown> = {}): string {
  const top = `ledagent-${version}-fake`;
  const base = join(dir, `build-${version}`, top);
  mkdirSync(join(base, "bin"), { recursive: true });
  mkdirSync(join(base, "systemd"));
  writeFileSync(join(base, "bin", "ledagent.js"), `#!/usr/bin/env node\nconsole.log(${JSON.stringify(version)});\n`, { mode: 0o755 });
  copyFileSync(join(REPO, "systemd", "ledagent.service"), join(base, "systemd", "ledagent.service"));
  const facts = { name: "ledagent", version, platform: "linux", arch: process.arch, nodeAbi: process.versions.modules, nodeVersion: process.version, glibc: null };
  writeFileSync(join(base, "release.json"), JSON.stringify({ ...facts, ...manifest }));
  const tarball = join(dir, `${top}.tar.gz`);
  const r = run("tar", ["-czf", tarball, "-C", join(dir, `build-${version}`), top]);
  if (r.status !== 0) throw new Error(r.stderr);
  return tarball;
}

describe.skipIf(!isRoot)("deploy/install.sh with the release tarball", () => {
  const work = tempDir("ledagent-installer-");
  const root = join(work.dir, "root"); // the scratch root filesystem
  let tarball = "";
  let opsKey = "";
  let agent = { uid: 0, gid: 0 };

  /** The installed CLI, run as the agent's user against the installed config, its data under the scratch root. */
  function asAgent(args: string[]): SpawnSyncReturns<string> {
    return run(
      "setpriv",
      [`--reuid=${agent.uid}`, `--regid=${agent.gid}`, "--clear-groups", process.execPath, join(root, "opt/ledagent/current/bin/ledagent.js"), "--config", join(root, "etc/ledagent/config.yaml"), ...args],
      { env: { PATH: SERVICE_PATH, LEDAGENT_DATA_DIR: join(root, "var/lib/ledagent"), LEDAGENT_RUN_DIR: join(root, "run/ledagent") } },
    );
  }

  beforeAll(() => {
    // dist/ is fresh: the test run's global setup has just built it.
    const started = Date.now();
    const r = run(process.execPath, [join(REPO, "scripts", "package.mjs"), "--no-build", "--out", work.dir], { cwd: REPO });
    expect(r.status, r.stderr).toBe(0);
    tarball = join(work.dir, `ledagent-${VERSION}-linux-${process.arch}-node${process.versions.modules}.tar.gz`);
    expect(r.stdout).toContain(`ledagent-${VERSION}-linux-${process.arch}-node${process.versions.modules}.tar.gz`);
    console.log(`package built in ${((Date.now() - started) / 1000).toFixed(1)} s: ${r.stdout.trim()}`);

    // A Debian-like root: root, and dialout already there; video and render are the installer's to add.
    chmodSync(work.dir, 0o755);
    mkdirSync(join(root, "etc"), { recursive: true, mode: 0o755 });
    writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n");
    writeFileSync(join(root, "etc/group"), "root:x:0:\ndialout:x:20:\n");
    writeFileSync(join(root, "etc/shadow"), "root:*:19000:0:99999:7:::\n", { mode: 0o640 });
    writeFileSync(join(root, "etc/gshadow"), "root:*::\ndialout:*::\n", { mode: 0o640 });

    opsKey = join(work.dir, "ops.pub.pem");
    writeFileSync(opsKey, generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }).toString());
  }, 120_000);

  afterAll(() => work.cleanup());

  it("is a release of the agent alone, for this Node ABI and architecture", () => {
    const list = run("tar", ["-tzf", tarball]).stdout.split("\n").filter(Boolean);
    const top = `ledagent-${VERSION}-linux-${process.arch}-node${process.versions.modules}/`;
    expect(list.every((p) => p.startsWith(top))).toBe(true);
    const inside = list.map((p) => p.slice(top.length));
    for (const want of ["bin/ledagent.js", "dist/agent/cli.js", "systemd/ledagent.service", "deploy/install.sh", "docs/install.md", "README.md", "package.json", "package-lock.json", "release.json"]) {
      expect(inside, want).toContain(want);
    }
    expect(inside).toContain("node_modules/better-sqlite3/build/Release/better_sqlite3.node");
    for (const absent of [/^test\//, /^dist\/test\//, /^dist\/bench\//, /^agent\//, /^node_modules\/(typescript|vitest|eslint|fast-check|@types)\//, /^node_modules\/\.bin\//, /\/build\/(Makefile|config\.gypi|Release\/(obj|\.deps))|\.[oa]$/, /^node_modules\/better-sqlite3\/(src|deps)\//]) {
      expect(inside.filter((p) => absent.test(p)), String(absent)).toEqual([]);
    }
    const manifest = JSON.parse(run("tar", ["-xzOf", tarball, `${top}release.json`]).stdout) as Record<string, string>;
    expect(manifest).toMatchObject({ name: "ledagent", version: VERSION, platform: "linux", arch: process.arch, nodeAbi: process.versions.modules });
  });

  it("installs under a scratch root, and a second run leaves config, key and tree as they were", () => {
    const first = install(["--destdir", root, "--no-packages", "--screen", "test-001", "--headless", "--panel", "640x320", "--ops-public-key", opsKey, tarball]);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toContain(`release ${VERSION}: unpacked to /opt/ledagent/releases/${VERSION}`);
    expect(first.stdout).toContain("-----BEGIN PUBLIC KEY-----");

    // The agent's user, really created in the scratch root's account files.
    agent = { uid: Number(accountField(root, "passwd", "ledagent", 2)), gid: Number(accountField(root, "passwd", "ledagent", 3)) };
    expect(agent.uid).toBeGreaterThan(0);
    expect(accountField(root, "passwd", "ledagent", 5)).toBe("/var/lib/ledagent");
    expect(accountField(root, "passwd", "ledagent", 6)).toMatch(/nologin$/);
    for (const group of ["dialout", "video"]) expect(accountField(root, "group", group, 3)?.split(","), group).toContain("ledagent");
    expect(accountField(root, "group", "dialout", 2)).toBe("20"); // an existing group is kept, not remade

    // The tree: releases, the switch, the command, the unit (enabled for the target's boot).
    expect(readlinkSync(join(root, "opt/ledagent/current"))).toBe(`releases/${VERSION}`);
    expect(readlinkSync(join(root, "usr/local/bin/ledagent"))).toBe("/opt/ledagent/current/bin/ledagent.js");
    const unit = readFileSync(join(root, "etc/systemd/system/ledagent.service"), "utf8");
    expect(unit).toBe(readFileSync(join(root, "opt/ledagent/current/systemd/ledagent.service"), "utf8"));
    // The unit starts what the installer provides.
    expect(unit).toMatch(/^ExecStart=(\/opt\/ledagent\/current\/bin\/ledagent\.js|\/usr\/local\/bin\/ledagent) /m);
    expect(readlinkSync(join(root, "etc/systemd/system/multi-user.target.wants/ledagent.service"))).toBe("/etc/systemd/system/ledagent.service");

    // The config names the box's paths, never the scratch root's.
    const config = readFileSync(join(root, "etc/ledagent/config.yaml"), "utf8");
    expect(config).toMatch(/^screenId: "test-001"/m);
    expect(config).toMatch(/^dataDir: "\/var\/lib\/ledagent"/m);
    expect(config).toMatch(/^runDir: "\/run\/ledagent"/m);
    expect(config).toMatch(/^opsPublicKey: "\/etc\/ledagent\/ops\.pub\.pem"/m);
    expect(config).toMatch(/^ {2}width: 640$/m);
    expect(config).toMatch(/^ {2}headless: true/m);
    expect(config).not.toContain(work.dir);
    expect(existsSync(join(root, "var/lib/ledagent/.install-config.yaml"))).toBe(false);

    // Owners and modes.
    const mode = (p: string): string => (statSync(join(root, p)).mode & 0o7777).toString(8);
    const owner = (p: string): string => `${statSync(join(root, p)).uid}:${statSync(join(root, p)).gid}`;
    expect([mode("var/lib/ledagent"), owner("var/lib/ledagent")]).toEqual(["700", `${agent.uid}:${agent.gid}`]);
    expect([mode("var/lib/ledagent/keys/device.key"), owner("var/lib/ledagent/keys/device.key")]).toEqual(["600", `${agent.uid}:${agent.gid}`]);
    expect([mode("etc/ledagent"), owner("etc/ledagent")]).toEqual(["750", `0:${agent.gid}`]);
    expect([mode("etc/ledagent/config.yaml"), owner("etc/ledagent/config.yaml")]).toEqual(["640", `0:${agent.gid}`]);
    expect([mode("etc/ledagent/ops.pub.pem"), owner("etc/ledagent/ops.pub.pem")]).toEqual(["644", "0:0"]);

    // The installed CLI runs, and as the agent's user it loads the config init made (every check
    // the daemon makes of it, and of the key's owner and mode) and finds the key.
    const version = run(process.execPath, [join(root, "opt/ledagent/current/bin/ledagent.js"), "--version"]);
    expect(version.stdout.trim()).toBe(VERSION);
    const shown = asAgent(["keys", "show"]);
    expect(shown.status, shown.stderr).toBe(0);
    expect(shown.stdout).toBe(readFileSync(join(root, "var/lib/ledagent/keys/device.pub.pem"), "utf8"));
    const noted = asAgent(["note", "installed by the installer test"]);
    expect(noted.status, noted.stderr).toBe(0);
    expect(noted.stdout).toContain("noted as seq 1");

    const before = snapshot(root);
    const second = install(["--destdir", root, "--no-packages", "--screen", "test-001", "--headless", "--ops-public-key", opsKey, tarball]);
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout).toContain(`release ${VERSION}: already installed`);
    expect(second.stdout).toContain("/etc/ledagent/config.yaml: already there, kept");
    expect(second.stdout).toContain("/etc/systemd/system/ledagent.service: already installed");
    expect(second.stdout).toContain("user ledagent: already there");
    expect(snapshot(root)).toEqual(before);
  }, SLOW);

  it("refuses a corrupt tarball, or one built for another Node, naming why, and leaves the install as it was", () => {
    const before = snapshot(root);
    const corrupt = join(work.dir, "corrupt.tar.gz");
    copyFileSync(tarball, corrupt);
    truncateSync(corrupt, Math.floor(statSync(tarball).size / 2)); // a download cut short
    const r = install(["--destdir", root, "--no-packages", corrupt]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/corrupt\.tar\.gz: not a valid release tarball \(corrupt or incomplete\): gzip: stdin: unexpected end of file/);

    const otherNode = fakeRelease(work.dir, "0.0.1", { nodeAbi: "1", nodeVersion: "v1.0.0" });
    const abi = install(["--destdir", root, "--no-packages", otherNode]);
    expect(abi.status).toBe(1);
    expect(abi.stderr).toContain(`is built for Node ABI 1 (v1.0.0), this machine's node ${process.version} has ABI ${process.versions.modules}`);

    const missing = install(["--destdir", root, join(work.dir, "nothing.tar.gz")]);
    expect([missing.status, missing.stderr.trim()]).toEqual([1, `install.sh: ${join(work.dir, "nothing.tar.gz")}: no such file`]);
    expect(snapshot(root)).toEqual(before);
  }, SLOW);

  it("refuses, before changing anything: a bad --screen, a --destdir that is /, a second installer at once", () => {
    const before = snapshot(root);
    const dash = install(["--destdir", join(work.dir, "fresh"), "--no-packages", "--screen", "--force", tarball]);
    expect([dash.status, dash.stderr]).toEqual([2, expect.stringMatching(/--screen --force: 1–64 letters/)]);
    expect(existsSync(join(work.dir, "fresh", "opt"))).toBe(false);
    const slash = join(work.dir, "slash");
    run("ln", ["-s", "/", slash]);
    const live = install(["--destdir", slash, "--no-packages", tarball]);
    expect([live.status, live.stderr.trim()]).toEqual([1, `install.sh: --destdir ${slash} is the root of this system: run without --destdir to install here`]);
    // Another installer holds the root's lock (flock on the root directory itself).
    const holder = spawnSync("flock", ["-n", root, "bash", INSTALL, "--destdir", root, "--no-packages", tarball], { encoding: "utf8" });
    expect(holder.status).toBe(1);
    expect(holder.stderr).toMatch(/another install\.sh is running on .* \(it holds a lock on /);
    expect(snapshot(root)).toEqual(before);
  }, SLOW);

  it("never changes a file through a link the agent's user planted where its key was", () => {
    const victim = join(work.dir, "victim");
    writeFileSync(victim, "root's secret\n", { mode: 0o600 });
    const key = join(root, "var/lib/ledagent/keys/device.key");
    const saved = join(work.dir, "device.key.saved");
    copyFileSync(key, saved);
    rmSync(key);
    run("setpriv", [`--reuid=${agent.uid}`, `--regid=${agent.gid}`, "--clear-groups", "ln", "-s", victim, key]);
    const r = install(["--destdir", root, "--no-packages", tarball]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${key} is a symbolic link: the device key must be a plain file in a plain directory`);
    expect([statSync(victim).uid, statSync(victim).mode & 0o777, readFileSync(victim, "utf8")]).toEqual([0, 0o600, "root's secret\n"]);
    rmSync(key);
    copyFileSync(saved, key);
    chmodSync(key, 0o600);
    run("chown", [`${agent.uid}:${agent.gid}`, key]);
  }, SLOW);

  it("upgrades by a switch, rolls back to a kept release, and keeps the last three", () => {
    const config = readFileSync(join(root, "etc/ledagent/config.yaml"));
    const key = readFileSync(join(root, "var/lib/ledagent/keys/device.key"));
    const up = install(["--destdir", root, "--no-packages", fakeRelease(work.dir, "9.0.1")]);
    expect(up.status, up.stderr).toBe(0);
    expect(up.stdout).toContain(`current: 9.0.1 (was ${VERSION})`);
    expect(readlinkSync(join(root, "opt/ledagent/current"))).toBe("releases/9.0.1");
    expect(run(process.execPath, [join(root, "opt/ledagent/current/bin/ledagent.js")]).stdout.trim()).toBe("9.0.1");

    const back = install(["--destdir", root, "--no-packages", tarball]);
    expect(back.status, back.stderr).toBe(0);
    expect(back.stdout).toContain(`release ${VERSION}: already installed`);
    expect(back.stdout).toContain(`current: ${VERSION} (was 9.0.1)`);

    for (const v of ["9.0.2", "9.0.3"]) expect(install(["--destdir", root, "--no-packages", fakeRelease(work.dir, v)]).status).toBe(0);
    // 9.0.1 was the least recently current: it goes; the rolled-back-to release stays.
    expect(readdirSync(join(root, "opt/ledagent/releases")).sort()).toEqual([VERSION, "9.0.2", "9.0.3"].sort());
    expect(install(["--destdir", root, "--no-packages", tarball]).status).toBe(0);
    expect(readlinkSync(join(root, "opt/ledagent/current"))).toBe(`releases/${VERSION}`);
    expect(readFileSync(join(root, "etc/ledagent/config.yaml"))).toEqual(config);
    expect(readFileSync(join(root, "var/lib/ledagent/keys/device.key"))).toEqual(key);
  }, SLOW);

  it("uninstalls keeping the ledger, reinstalls onto the kept key, and purges only when told to delete the ledger", () => {
    const ledger = join(root, "var/lib/ledagent/ledagent.db");
    const keyFile = join(root, "var/lib/ledagent/keys/device.key");
    const key = readFileSync(keyFile);
    const removed = install(["--uninstall", "--destdir", root]);
    expect(removed.status, removed.stderr).toBe(0);
    for (const gone of ["opt/ledagent", "etc/systemd/system/ledagent.service", "etc/systemd/system/multi-user.target.wants/ledagent.service", "usr/local/bin/ledagent"]) {
      expect(lstatExists(join(root, gone)), gone).toBe(false);
    }
    expect(existsSync(ledger)).toBe(true);
    expect(readFileSync(keyFile)).toEqual(key);
    expect(existsSync(join(root, "etc/ledagent/config.yaml"))).toBe(true);
    expect(accountField(root, "passwd", "ledagent", 0)).toBe("ledagent");
    expect(removed.stdout).toContain("kept /var/lib/ledagent: the ledger");

    // The config gone too (by hand), the key kept: a new config is written around the old key.
    rmSync(join(root, "etc/ledagent/config.yaml"));
    const again = install(["--destdir", root, "--no-packages", "--screen", "test-001", "--headless", tarball]);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toContain("device key: /var/lib/ledagent/keys/device.key (already there, kept)");
    expect(readFileSync(keyFile)).toEqual(key);
    expect(asAgent(["keys", "show"]).stdout).toBe(readFileSync(join(root, "var/lib/ledagent/keys/device.pub.pem"), "utf8"));

    const refused = install(["--uninstall", "--purge", "--destdir", root]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/--purge would delete \/var\/lib\/ledagent: the proof-of-play ledger.*--yes-delete-ledger/);
    expect(existsSync(join(root, "opt/ledagent/current"))).toBe(true); // refused before anything was removed

    const purged = install(["--uninstall", "--purge", "--yes-delete-ledger", "--destdir", root]);
    expect(purged.status, purged.stderr).toBe(0);
    expect(purged.stdout).toContain("deleting the ledger: /var/lib/ledagent");
    for (const gone of ["var/lib/ledagent", "etc/ledagent", "opt/ledagent"]) expect(existsSync(join(root, gone)), gone).toBe(false);
    expect(accountField(root, "passwd", "ledagent", 0)).toBeUndefined();
    expect(accountField(root, "group", "ledagent", 0)).toBeUndefined();
  }, SLOW);

  it("refuses to touch the live system unless run as root", () => {
    const r = run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "bash", INSTALL, tarball]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^install\.sh: must run as root/);
  });
});

function lstatExists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}
