// The daemon's word to systemd, through a real datagram socket standing in for systemd's: READY
// once started, a watchdog ping only while the playout progresses (a frozen mpv stops the pings,
// and they come back when it thaws), STOPPING on SIGTERM. The built CLI, in its own process.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { notifyMessage, notifyTargetFromEnv, openNotifier, takeNotifyTarget } from "../../agent/daemon/systemd-notify.js";
import { statusLine } from "../../agent/daemon/systemd-service.js";
import type { Airing } from "../../agent/playback/playout/airing.js";
import { judgeProgress, LOOP_SILENT_AFTER_MS, playerAnswers, STUCK_AFTER_MS } from "../../agent/playback/playout/progress.js";
import { runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";
import { AgentProcesses } from "./agent-process.js";

interface Received {
  at: number;
  fields: Record<string, string>;
}
interface ListeningSocket {
  bind(path: string): void;
  close(): void;
}
const unixDgram = createRequire(import.meta.url)("unix-dgram") as { createSocket(type: "unix_dgram", onMessage: (msg: Buffer) => void): ListeningSocket };

const tmp = tempDir("ledagent-notify-");
const config = join(tmp.dir, "config.yaml");
const runDir = join(tmp.dir, "run");
const socketPath = join(tmp.dir, "notify.sock");
const received: Received[] = [];
let systemd: ListeningSocket;
const agents = new AgentProcesses({ config, runDir });

function parse(msg: Buffer): Record<string, string> {
  return Object.fromEntries(msg.toString().split("\n").map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]));
}

async function waitFor(what: string, since: number, match: (f: Record<string, string>) => boolean, timeoutMs = 15_000): Promise<Received> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = received.find((r) => r.at >= since && match(r.fields));
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms; received since: ${JSON.stringify(received.filter((r) => r.at >= since).map((r) => r.fields))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  const init = await runCli(["init", "--screen", "sz-notify-001", "--data-dir", join(tmp.dir, "data"), "--run-dir", runDir, "--panel", "64x32", "--headless", "--config", config]);
  expect(init.code, init.stderr).toBe(0);
  systemd = unixDgram.createSocket("unix_dgram", (msg) => received.push({ at: Date.now(), fields: parse(msg) }));
  systemd.bind(socketPath);
});

afterAll(async () => {
  await agents.killAll();
  systemd.close();
  tmp.cleanup();
});

describe("systemd notification (Type=notify, WatchdogSec)", () => {
  it("READY once started, pings while mpv answers, none while mpv is frozen, STOPPING on SIGTERM", async () => {
    const began = Date.now();
    // WATCHDOG_USEC 3 s: a check every second. WATCHDOG_PID is left out, as systemd does for the main process it started.
    const agent = agents.start({ NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: "3000000" });
    await waitFor("READY=1", began, (f) => f.READY === "1", 25_000);
    await agents.reachable(agent);
    const firstPing = await waitFor("a watchdog ping", began, (f) => f.WATCHDOG === "1");
    expect(firstPing.fields.STATUS).toBe("nothing on screen · no schedule");

    const mpv = spawnSync("pgrep", ["-P", String(agent.child.pid), "mpv"], { encoding: "utf8" }).stdout.trim().split("\n")[0];
    expect(mpv, "mpv's pid").toMatch(/^\d+$/);
    // systemd's socket is the agent's alone: its children do not inherit it.
    expect(readFileSync(`/proc/${mpv}/environ`, "utf8").split("\0").filter((v) => /^(NOTIFY_SOCKET|WATCHDOG_)/.test(v))).toEqual([]);
    process.kill(Number(mpv), "SIGSTOP");
    const frozenAt = Date.now();
    const stuck = await waitFor("a status saying mpv does not answer", frozenAt, (f) => /not progressing: mpv did not answer/.test(f.STATUS ?? ""));
    expect(stuck.fields.WATCHDOG).toBeUndefined();
    // From the first unanswered check on, systemd hears no ping until mpv answers again.
    await new Promise((r) => setTimeout(r, 3000));
    const thawedAt = Date.now();
    expect(received.filter((r) => r.at >= stuck.at && r.at < thawedAt && r.fields.WATCHDOG === "1")).toEqual([]);
    process.kill(Number(mpv), "SIGCONT");
    const thawed = await waitFor("a ping after mpv thawed", thawedAt, (f) => f.WATCHDOG === "1");
    // The checks that could not run while mpv was frozen were skipped, not queued: no burst.
    await new Promise((r) => setTimeout(r, 600));
    expect(received.filter((r) => r.at >= thawed.at && r.at < thawed.at + 600 && r.fields.WATCHDOG === "1")).toHaveLength(1);
    expect(agent.output()).toMatch(/the playout is not progressing: systemd's watchdog is no longer fed/);

    const stopAt = Date.now();
    const { code } = await agents.terminate(agent);
    expect(code).toBe(0);
    await waitFor("STOPPING=1", stopAt, (f) => f.STOPPING === "1", 1000);
  }, 60_000);
});

describe("the notification pieces", () => {
  it("a message is one field per line, a value's newlines flattened", () => {
    expect(notifyMessage({ READY: "1", STATUS: "a\nb" })).toBe("READY=1\nSTATUS=a b");
  });

  it("the watchdog is this process's only when WATCHDOG_PID is absent or names it", () => {
    expect(notifyTargetFromEnv({}, 10)).toBeNull();
    expect(notifyTargetFromEnv({ NOTIFY_SOCKET: "/run/systemd/notify" }, 10)).toEqual({ socketPath: "/run/systemd/notify", watchdogMs: null });
    expect(notifyTargetFromEnv({ NOTIFY_SOCKET: "/s", WATCHDOG_USEC: "30000000" }, 10)?.watchdogMs).toBe(30_000);
    expect(notifyTargetFromEnv({ NOTIFY_SOCKET: "/s", WATCHDOG_USEC: "30000000", WATCHDOG_PID: "10" }, 10)?.watchdogMs).toBe(30_000);
    expect(notifyTargetFromEnv({ NOTIFY_SOCKET: "/s", WATCHDOG_USEC: "30000000", WATCHDOG_PID: "11" }, 10)?.watchdogMs).toBeNull();
    for (const usec of ["soon", "1e6", "0x1000", "-5", "0", "99999999999999999999"]) expect(notifyTargetFromEnv({ NOTIFY_SOCKET: "/s", WATCHDOG_USEC: usec }, 10)?.watchdogMs, usec).toBeNull();
    const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: "/s", WATCHDOG_USEC: "3000000", WATCHDOG_PID: "10", PATH: "/bin" };
    expect(takeNotifyTarget(env, 10)).toEqual({ socketPath: "/s", watchdogMs: 3000 });
    expect(env).toEqual({ PATH: "/bin" });
  });

  it("an abstract socket is refused with the reason, not pinged in vain", () => {
    expect(() => openNotifier({ socketPath: "@/org/freedesktop/systemd1/notify", watchdogMs: null })).toThrow(/abstract socket/);
  });

  it("a missing socket fails the send with the reason", async () => {
    const n = openNotifier({ socketPath: join(tmp.dir, "nobody-listens.sock"), watchdogMs: null });
    await expect(n.send({ READY: "1" })).rejects.toThrow(/ENOENT|ECONNREFUSED/);
    n.close();
  });

  it("the status line says what plays, and first when it is stuck", () => {
    const base = { scheduleVersion: 12, nowPlaying: null, next: null, suspension: null, takedowns: [] };
    expect(statusLine(null, null)).toBe("running");
    expect(statusLine(base, null)).toBe("nothing on screen · schedule v12");
    const playing = { ...base, nowPlaying: { campaign: "k1", creative: "c1", since: "", makeGood: false, test: false } };
    expect(statusLine(playing, "mpv did not answer within 2 s")).toBe("not progressing: mpv did not answer within 2 s · playing c1 (k1) · schedule v12");
    const suspended = { ...base, suspension: { reason: "storm", until: null, campaigns: null, blackout: true, since: "" } };
    expect(statusLine(suspended, null)).toBe("suspended (storm) · schedule v12");
  });
});

describe("playout progress (what the watchdog is fed on)", () => {
  const airing = (over: Partial<Airing>): Airing => ({ creative: "c1", expectedStartMs: 100_000, expectedLengthMs: 10_000, startedAt: null, ...over }) as Airing;
  const facts = (handed: Airing[], nowWallMs: number) => ({ running: true, handed, nowWallMs, lastTickMonoMs: 1000, nowMonoMs: 1500 });

  it("idle, on time, or a little late is progressing", () => {
    expect(judgeProgress(facts([], 0))).toEqual({ ok: true });
    expect(judgeProgress(facts([airing({})], 100_000 + STUCK_AFTER_MS))).toEqual({ ok: true });
    const playing = airing({ startedAt: { wallMs: 100_000, monoMs: 0 } as Airing["startedAt"] });
    expect(judgeProgress(facts([playing], 110_000 + STUCK_AFTER_MS))).toEqual({ ok: true });
  });

  it("a first frame or an end long overdue is stuck, and says which creative", () => {
    expect(judgeProgress(facts([airing({})], 100_000 + STUCK_AFTER_MS + 1000))).toEqual({ ok: false, why: "c1 should have shown its first frame 21 s ago" });
    const playing = airing({ startedAt: { wallMs: 100_000, monoMs: 0 } as Airing["startedAt"] });
    expect(judgeProgress(facts([playing], 110_000 + 25_000))).toEqual({ ok: false, why: "c1 should have ended 25 s ago and mpv is still on it" });
    // A wall-clock step moves where it ends: not stuck.
    expect(judgeProgress(facts([{ ...playing, clockShiftMs: 30_000 }], 110_000 + 25_000))).toEqual({ ok: true });
    // An airing being cut is not the one judged.
    expect(judgeProgress(facts([{ ...airing({}), ending: true }], 500_000))).toEqual({ ok: true });
  });

  it("a silent loop or a stopped playout is not progressing", () => {
    expect(judgeProgress({ ...facts([], 0), nowMonoMs: 1000 + LOOP_SILENT_AFTER_MS + 1 })).toEqual({ ok: false, why: "the playout loop has not run for 5 s" });
    expect(judgeProgress({ ...facts([], 0), running: false })).toEqual({ ok: false, why: "the playout is not running" });
  });

  it("mpv must answer in time", async () => {
    expect(await playerAnswers(() => Promise.resolve(3))).toEqual({ ok: true });
    expect(await playerAnswers(() => Promise.reject(new Error("mpv is not running")))).toEqual({ ok: false, why: "mpv did not answer: mpv is not running" });
  });
});
