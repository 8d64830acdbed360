// The machine's checks with their dependencies pinned: tools found or not (and what they answer),
// a display, the clock's time services, free space, the watchdog module, and who may use the data
// and run directories, the serial device and the GPU.
import { chmodSync, mkdirSync, writeFileSync, type Stats } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseConfig, type Config } from "../../agent/config.js";
import { checkClock, checkDisk, checkWatchdogModule } from "../../agent/doctor/host.js";
import { currentIdentity, type Accounts, type Identity } from "../../agent/doctor/identity.js";
import { checkDisplay, checkMediaTool, checkMpv } from "../../agent/doctor/media.js";
import { checkDataDir, checkRunDir, checkSerialDevice, checkVideoAccess, type PermissionDeps } from "../../agent/doctor/permissions.js";
import type { ProgramResult, RunProgram } from "../../agent/doctor/types.js";
import type { SyncProbe } from "../../agent/proofs/clock.js";
import { tempDir } from "../helpers/tmp.js";

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => (tmp = tempDir("ledagent-doctor-host-")));
afterEach(() => tmp.cleanup());

/** An executable file named `name` in the temp directory (found on PATH, run by the fake runner). */
function tool(name: string): string {
  const path = join(tmp.dir, name);
  writeFileSync(path, "#!/bin/sh\n", { mode: 0o755 });
  return path;
}

const answering = (stdout: string, status = 0): RunProgram => async () => ({ status, stdout, stderr: "" }) satisfies ProgramResult;

describe("ffmpeg, ffprobe, mpv", () => {
  const noStatic = (): null => null;

  it("found: the path, where it came from, its version", async () => {
    tool("ffmpeg");
    const r = await checkMediaTool("ffmpeg", { env: { PATH: tmp.dir }, run: answering("ffmpeg version 6.1.1 Copyright …\n"), ffmpegStaticPath: noStatic });
    expect(r).toEqual({ name: "ffmpeg", level: "ok", detail: `${join(tmp.dir, "ffmpeg")} (the system's), version 6.1.1` });
    const fromEnv = await checkMediaTool("ffprobe", { env: { PATH: "", FFPROBE_PATH: tool("probe") }, run: answering("ffprobe version n7.0\n") });
    expect(fromEnv.detail).toContain("(from $FFPROBE_PATH), version n7.0");
  });

  it("not found: install it; a bad FFMPEG_PATH: point it right or unset it", async () => {
    const none = await checkMediaTool("ffmpeg", { env: { PATH: tmp.dir }, run: answering(""), ffmpegStaticPath: noStatic });
    expect(none).toMatchObject({ level: "fail", detail: "ffmpeg is not on PATH", fix: expect.stringMatching(/^apt-get install ffmpeg/) });
    const env = await checkMediaTool("ffmpeg", { env: { PATH: "", FFMPEG_PATH: join(tmp.dir, "nope") }, run: answering(""), ffmpegStaticPath: noStatic });
    expect(env).toMatchObject({ level: "fail", detail: `FFMPEG_PATH=${join(tmp.dir, "nope")} is not an executable file`, fix: expect.stringContaining("unset it") });
  });

  it("found but broken or another program: fail with what it did", async () => {
    tool("ffprobe");
    const broken = await checkMediaTool("ffprobe", { env: { PATH: tmp.dir }, run: async () => ({ status: 127, stdout: "", stderr: "error while loading shared libraries: libavdevice.so.59\n" }) });
    expect(broken).toMatchObject({ level: "fail", detail: expect.stringContaining("exited with 127: error while loading shared libraries"), fix: "apt-get install --reinstall ffmpeg" });
    const other = await checkMediaTool("ffprobe", { env: { PATH: tmp.dir }, run: answering("Usage: something else\n") });
    expect(other.detail).toContain('is not what it should be (-version printed "Usage: something else")');
  });

  it("mpv: found with its version, or install it", async () => {
    tool("mpv");
    expect(await checkMpv({ env: { PATH: tmp.dir }, run: answering("mpv 0.37.0 Copyright © 2000-2023 mpv/MPlayer/mplayer2 projects\n") })).toMatchObject({ level: "ok", detail: expect.stringMatching(/mpv, version 0\.37\.0$/) });
    expect(await checkMpv({ env: { PATH: join(tmp.dir, "empty") }, run: answering("") })).toMatchObject({ level: "fail", fix: expect.stringMatching(/^apt-get install mpv/) });
  });

  it("a display: none needed headless; warn when there is none at all", () => {
    expect(checkDisplay({ headless: true, env: {} }).level).toBe("ok");
    expect(checkDisplay({ headless: false, env: {}, cards: () => [] })).toMatchObject({ level: "warn", fix: expect.stringContaining("player.headless: true") });
    expect(checkDisplay({ headless: false, env: { DISPLAY: ":0" }, cards: () => ["/dev/dri/card0"] })).toMatchObject({ level: "ok", detail: "DISPLAY=:0, /dev/dri/card0" });
  });
});

describe("clock", () => {
  const probes: SyncProbe[] = [
    { name: "timesyncd", marker: "/run/x/synchronized" },
    { name: "timedatectl", command: "timedatectl", args: [], read: (a) => (a.stdout.trim() === "yes" ? true : a.stdout.trim() === "no" ? false : null) },
  ];
  const runner = (stdout: string | null) => ({ sync: () => null, async: async () => (stdout === null ? null : { status: 0, stdout }) });
  const now = (): number => Date.parse("2026-12-01T08:00:00Z");

  it("synchronised: ok, says who said so; the marker alone is enough", async () => {
    expect(await checkClock({ probes, runner: runner("yes\n"), exists: () => false, now })).toMatchObject({ level: "ok", detail: "synchronised (says timedatectl); the clock reads 2026-12-01T08:00:00.000Z" });
    expect((await checkClock({ probes, runner: runner(null), exists: () => true, now })).detail).toContain("says timesyncd");
  });

  it("known unsynchronised: fail (every proof's time depends on it); unknown: warn", async () => {
    expect(await checkClock({ probes, runner: runner("no\n"), exists: () => false, now })).toMatchObject({ level: "fail", fix: expect.stringContaining("timedatectl timesync-status") });
    expect(await checkClock({ probes, runner: runner(null), exists: () => false, now })).toMatchObject({ level: "warn", detail: expect.stringContaining("none of timesyncd, timedatectl could tell") });
  });
});

describe("disk", () => {
  const GiB = 1024 ** 3;
  const statfs = (free: number) => () => ({ bavail: free / 4096, bsize: 4096, blocks: (100 * GiB) / 4096 });

  it("fails under the agent's disk.low limit, warns under 2 GiB, names the nearest existing directory", () => {
    const dir = join(tmp.dir, "not", "yet");
    expect(checkDisk({ dataDir: dir, statfs: statfs(0.5 * GiB) })).toMatchObject({ level: "fail", detail: `0.5 GiB free of 100.0 GiB on ${tmp.dir}: under the agent's 1.0 GiB disk.low limit; a full disk stops the ledger` });
    expect(checkDisk({ dataDir: dir, statfs: statfs(1.5 * GiB) }).level).toBe("warn");
    expect(checkDisk({ dataDir: dir, statfs: statfs(20 * GiB) })).toMatchObject({ level: "ok", detail: `20.0 GiB free of 100.0 GiB on ${tmp.dir}` });
  });
});

describe("watchdog module", () => {
  it("loads: ok; does not: warn (only systemd's watchdog needs it) with the rebuild", async () => {
    expect((await checkWatchdogModule(async () => ({}))).level).toBe("ok");
    const r = await checkWatchdogModule(async () => {
      throw new Error("Could not locate the bindings file");
    });
    expect(r).toMatchObject({ level: "warn", detail: expect.stringContaining("Could not locate the bindings file"), fix: "npm rebuild unix-dgram in the agent's directory (needs python3, make, g++)" });
  });
});

describe("permissions, for the agent's user", () => {
  const accounts: Accounts = { passwd: "", group: "dialout:x:20:\nvideo:x:44:\n" };
  const me = currentIdentity();
  // A user who owns nothing here: what the agent's user looks like when root made the files.
  const stranger: Identity = { name: "ledagent", uid: 64_999, gid: 64_999, groups: [64_999] };
  const deps = (agent: Identity, extra: Partial<PermissionDeps> = {}): PermissionDeps => ({ agent, me: agent, accounts, ...extra });
  const config = (): Config => parseConfig(`screenId: s\ndataDir: ${join(tmp.dir, "data")}\nrunDir: ${join(tmp.dir, "run")}\npanel: { width: 64, height: 32 }\ncontroller: { driver: novastar, port: "serial:///dev/ttyUSB7" }\n`, {});

  it("data dir: missing; not the agent's; files in it left by another user; open to others", () => {
    expect(checkDataDir(config(), deps(me))).toMatchObject({ level: "fail", fix: expect.stringContaining("ledagent init") });
    mkdirSync(join(tmp.dir, "data"), { mode: 0o700 });
    chmodSync(join(tmp.dir, "data"), 0o700);
    expect(checkDataDir(config(), deps(me))).toMatchObject({ level: "ok", detail: expect.stringContaining(`writable by ${me.name}`) });
    expect(checkDataDir(config(), deps(stranger))).toMatchObject({ level: "fail", detail: expect.stringContaining("ledagent (the agent's user) cannot write"), fix: `chown -R ledagent: ${join(tmp.dir, "data")}` });
    // The directory is the agent's (mode open to it), but a file in it was left by someone else.
    chmodSync(join(tmp.dir, "data"), 0o777);
    writeFileSync(join(tmp.dir, "data", "ledagent.db-wal"), "");
    expect(checkDataDir(config(), deps(stranger))).toMatchObject({ level: "fail", detail: expect.stringContaining("ledagent.db-wal not owned by ledagent") });
    expect(checkDataDir(config(), deps(me))).toMatchObject({ level: "warn", fix: `chmod go-w ${join(tmp.dir, "data")}` });
  });

  it("run dir: created by the agent when missing; a leftover file where the socket goes; a socket the technician may not use", () => {
    expect(checkRunDir(config(), deps(me))).toMatchObject({ level: "ok", detail: expect.stringContaining("the agent creates it at start") });
    mkdirSync(join(tmp.dir, "run"));
    writeFileSync(join(tmp.dir, "run", "control.sock"), "");
    expect(checkRunDir(config(), deps(me))).toMatchObject({ level: "fail", fix: `rm ${join(tmp.dir, "run", "control.sock")}` });
    const socket = { isSocket: () => true, isDirectory: () => false, uid: me.uid, gid: 998, mode: 0o140660 } as unknown as Stats;
    const stat = (p: string, follow: boolean): Stats | null => (p.endsWith("control.sock") ? socket : follow ? ({ isDirectory: () => true, uid: me.uid, gid: me.gid, mode: 0o40750 } as unknown as Stats) : null);
    const tech: Identity = { name: "tech", uid: 1000, gid: 1000, groups: [1000] };
    const r = checkRunDir(config(), { agent: me, me: tech, accounts: { passwd: "", group: "ledagent:x:998:\n" }, stat });
    expect(r).toMatchObject({ level: "warn", fix: "usermod -aG ledagent tech, then log in again (or use sudo)" });
  });

  it("serial port: missing device, not a device, a device the agent's user may not open", () => {
    const device = (mode: number, gid = 20): Stats => ({ isCharacterDevice: () => true, uid: 0, gid, mode }) as unknown as Stats;
    expect(checkSerialDevice(config(), deps(stranger, { stat: () => null }))).toMatchObject({ level: "fail", detail: "/dev/ttyUSB7 does not exist", fix: expect.stringContaining("/dev/serial/by-id/") });
    expect(checkSerialDevice(config(), deps(stranger, { stat: () => ({ isCharacterDevice: () => false }) as unknown as Stats }))?.detail).toContain("is not a serial device");
    const denied = checkSerialDevice(config(), deps(stranger, { stat: () => device(0o20660) }));
    expect(denied).toMatchObject({ level: "fail", detail: "/dev/ttyUSB7 (mode 0660, 0:dialout): ledagent (the agent's user) may not open it", fix: expect.stringMatching(/^usermod -aG dialout ledagent/) });
    expect(checkSerialDevice(config(), deps({ ...stranger, groups: [64_999, 20] }, { stat: () => device(0o20660) }))?.level).toBe("ok");
    // Not on a serial port: no line.
    expect(checkSerialDevice({ controller: { ...config().controller, port: "tcp://10.0.0.5:5200" } }, deps(stranger))).toBeNull();
  });

  it("video: the GPU devices the agent's user may not open; no line when headless", () => {
    const dri = join(tmp.dir, "dri");
    mkdirSync(dri);
    writeFileSync(join(dri, "card0"), "", { mode: 0o660 });
    chmodSync(join(dri, "card0"), 0o660);
    const player = { player: { backend: "mpv" as const, output: { x: 0, y: 0 }, headless: false } };
    expect(checkVideoAccess(player, { ...deps(stranger), driDir: dri })).toMatchObject({ level: "warn", fix: expect.stringMatching(/^usermod -aG video,render ledagent/) });
    expect(checkVideoAccess(player, { ...deps(me), driDir: dri })?.level).toBe("ok");
    expect(checkVideoAccess({ player: { ...player.player, headless: true } }, deps(stranger))).toBeNull();
  });
});
