// The writer lock belongs to a process, not to a clock: a holder that stalls keeps it however
// long, and the lock of one that is gone (killed, or from before a reboot) is taken at once.
// Holders here are real processes (lock-worker.mjs) stopped and killed with real signals.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createKeyFiles } from "../../agent/crypto/index.js";
import { fixedClock, LedgerError, openLedger } from "../../agent/proofs/index.js";
import { takeWriterLock, writerLockPath } from "../../agent/proofs/writer-lock.js";
import { processOwnerChecks, type LockOwner } from "../../agent/store/index.js";
import { tempDir } from "../helpers/tmp.js";

const WORKER = join(import.meta.dirname, "lock-worker.mjs");
const BUSY = /^the ledger .*ledagent\.db is open for writing in another process \(the agent, or a key change in progress: .*ledagent\.db\.writer\.lock\); stop the agent first$/;

function expectBusy(fn: () => unknown): void {
  let caught: unknown = null;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, "expected a refusal, but it went through").toBeInstanceOf(LedgerError);
  expect((caught as LedgerError).code).toBe("ledger-busy");
  expect((caught as Error).message).toMatch(BUSY);
}

interface Worker {
  child: ChildProcessWithoutNullStreams;
  /** With onGo: the worker is loaded and waits for "go". */
  ready: Promise<void>;
  /** The worker's answer: "took" or "busy CODE". */
  answer: Promise<string>;
  exited: Promise<void>;
}

function worker(dbPath: string, onGo = false): Worker {
  const child = spawn(process.execPath, [WORKER, dbPath, ...(onGo ? ["--on-go"] : [])], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const lines: string[] = [];
  const waiters: { match: (line: string) => boolean; resolve: (line: string) => void; reject: (err: Error) => void }[] = [];
  const wait = (match: (line: string) => boolean): Promise<string> =>
    new Promise((resolve, reject) => {
      const seen = lines.find(match);
      if (seen !== undefined) resolve(seen);
      else waiters.push({ match, resolve, reject });
    });
  let out = "";
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString();
    const done = out.split("\n");
    out = done.pop() ?? "";
    for (const line of done) {
      lines.push(line);
      for (const w of waiters.filter((x) => x.match(line))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  child.on("close", (code, signal) => {
    for (const w of waiters.splice(0)) w.reject(new Error(`worker ended (${code ?? signal}) before answering: ${stderr}`));
  });
  const ready = wait((l) => l === "ready").then(() => undefined);
  const answer = wait((l) => l !== "ready");
  ready.catch(() => undefined); // a worker killed on purpose never answers again
  answer.catch(() => undefined);
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  return { child, ready, answer, exited };
}

const RACER = join(import.meta.dirname, "..", "helpers", "lock-racer.mjs");

interface Racer {
  child: ChildProcessWithoutNullStreams;
  /** Its next line ("ready", "took", "busy CODE", "released"). */
  next: () => Promise<string>;
  exited: Promise<void>;
}

/** A process that races for the lock at each "go" (lock-racer.mjs). */
function racer(dbPath: string): Racer {
  const child = spawn(process.execPath, [RACER, dbPath], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const lines: string[] = [];
  const waiting: { resolve: (line: string) => void; reject: (err: Error) => void }[] = [];
  let out = "";
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString();
    const done = out.split("\n");
    out = done.pop() ?? "";
    for (const line of done) {
      const w = waiting.shift();
      if (w) w.resolve(line);
      else lines.push(line);
    }
  });
  child.on("close", (code, signal) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`racer ended (${code ?? signal}) before answering: ${stderr}`));
  });
  const next = (): Promise<string> => {
    const line = lines.shift();
    return line !== undefined ? Promise.resolve(line) : new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  };
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  return { child, next, exited };
}

/** Whom the lock names, as its owner files say. */
function owners(dbPath: string): LockOwner[] {
  const dir = writerLockPath(dbPath);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).map((n) => JSON.parse(readFileSync(join(dir, n), "utf8")) as LockOwner);
}

/** A lock left as a process would leave it, naming `owner`. */
function leaveLock(dbPath: string, owner: unknown): void {
  mkdirSync(writerLockPath(dbPath));
  writeFileSync(join(writerLockPath(dbPath), "owner-left-behind"), typeof owner === "string" ? owner : JSON.stringify(owner));
}

/** The pid of a process that has run and exited (and been collected). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.on("exit", resolve));
  return child.pid as number;
}

describe("the writer lock", () => {
  let tmp: ReturnType<typeof tempDir>;
  let dbPath: string;
  const running: Worker[] = [];
  const config = (): { dataDir: string; runDir: string; screenId: string } => ({ dataDir: tmp.dir, runDir: join(tmp.dir, "run"), screenId: "sz-nanshan-001" });

  beforeEach(() => {
    tmp = tempDir();
    dbPath = join(tmp.dir, "ledagent.db");
  });
  afterEach(async () => {
    for (const w of running.splice(0)) {
      w.child.kill("SIGKILL");
      await w.exited;
    }
    tmp.cleanup();
  });

  const start = (onGo = false): Worker => {
    const w = worker(dbPath, onGo);
    running.push(w);
    return w;
  };

  // The old lock (refreshed mtime, 20 s stale time) was judged by the age of its files. A holder
  // stopped for an hour leaves files an hour old: they are aged here rather than waited for, and
  // the lock must still be busy however old it looks, for any stale time under an hour.
  it("stays with a live holder stopped for longer than the old 20 s stale time (its lock an hour old)", async () => {
    const holder = start();
    expect(await holder.answer).toBe("took");
    expect(owners(dbPath).map((o) => o.pid)).toEqual([holder.child.pid]);
    holder.child.kill("SIGSTOP");
    try {
      await sleep(1000);
      const anHourAgo = new Date(Date.now() - 3_600_000);
      const lock = writerLockPath(dbPath);
      for (const name of readdirSync(lock)) utimesSync(join(lock, name), anHourAgo, anHourAgo);
      utimesSync(lock, anHourAgo, anHourAgo);
      expectBusy(() => takeWriterLock(dbPath));
      expect(owners(dbPath).map((o) => o.pid)).toEqual([holder.child.pid]);
    } finally {
      holder.child.kill("SIGCONT");
    }
    holder.child.stdin.end(); // it releases and exits
    await holder.exited;
    expect(existsSync(writerLockPath(dbPath))).toBe(false);
    takeWriterLock(dbPath)();
  });

  it("is taken at once from a holder killed with SIGKILL, by the daemon's open", async () => {
    createKeyFiles(join(tmp.dir, "keys", "device.key"), join(tmp.dir, "keys", "device.pub.pem"));
    const holder = start();
    expect(await holder.answer).toBe("took");
    expectBusy(() => openLedger(config(), { clock: fixedClock(new Date("2026-12-01T00:00:00Z")), longLived: true }));
    holder.child.kill("SIGKILL");
    await holder.exited;
    expect(owners(dbPath).map((o) => o.pid)).toEqual([holder.child.pid]); // left behind
    const daemon = openLedger(config(), { clock: fixedClock(new Date("2026-12-01T00:00:00Z")), longLived: true });
    try {
      expect(owners(dbPath).map((o) => o.pid)).toEqual([process.pid]);
      const next = start();
      expect(await next.answer).toBe("busy ledger-busy");
    } finally {
      daemon.close();
    }
    expect(existsSync(writerLockPath(dbPath))).toBe(false);
  });

  it("judges a lock by the process it names: this boot's live process holds it; another boot, a reused pid, a dead pid or no owner at all do not", async () => {
    const me = processOwnerChecks.self();
    expect(me.boot, "this test needs /proc/sys/kernel/random/boot_id").not.toBeNull();
    expect(me.start, "this test needs /proc/self/stat").not.toBeNull();

    leaveLock(dbPath, me); // a live process on this boot (this one): held
    expectBusy(() => takeWriterLock(dbPath));

    const cases: [string, unknown][] = [
      ["another boot", { ...me, boot: "5b1e0d6c-0000-4000-8000-000000000000" }],
      ["its pid reused by a later process", { ...me, start: String(Number(me.start) - 1) }],
      ["a process that has exited", { ...me, pid: await deadPid() }],
      ["a pid of 0 (which would signal a process group)", { ...me, pid: 0 }],
      ["nothing readable", "{not json"],
    ];
    for (const [what, owner] of cases) {
      tmp.cleanup();
      mkdirSync(tmp.dir);
      leaveLock(dbPath, owner);
      const release = takeWriterLock(dbPath);
      expect(owners(dbPath), what).toEqual([me]);
      release();
      expect(existsSync(writerLockPath(dbPath)), what).toBe(false);
    }
  });

  it("is taken by exactly one of many processes racing for it, stale or free", async () => {
    // The same six processes race in every round (each round is a fresh directory, half of them
    // with a stale lock left by a dead pid), so six starts serve the six rounds.
    const racers = Array.from({ length: 6 }, () => racer(dbPath));
    try {
      expect(await Promise.all(racers.map((r) => r.next()))).toEqual(racers.map(() => "ready"));
      for (let round = 0; round < 6; round++) {
        tmp.cleanup();
        mkdirSync(tmp.dir);
        if (round % 2 === 0) leaveLock(dbPath, { pid: await deadPid(), boot: processOwnerChecks.self().boot, start: "1" });
        const answering = racers.map((r) => r.next());
        for (const r of racers) r.child.stdin.write("go\n");
        const answers = await Promise.all(answering);
        expect(answers.filter((a) => a === "took"), `round ${round}: ${answers.join(", ")}`).toHaveLength(1);
        expect(answers.filter((a) => a === "busy ledger-busy")).toHaveLength(5);
        const winner = racers[answers.indexOf("took")];
        expect(owners(dbPath).map((o) => o.pid)).toEqual([winner.child.pid]);
        const releasing = racers.map((r) => r.next());
        for (const r of racers) r.child.stdin.write("release\n");
        expect(await Promise.all(releasing)).toEqual(racers.map(() => "released"));
        expect(existsSync(writerLockPath(dbPath))).toBe(false);
      }
    } finally {
      for (const r of racers) r.child.stdin.end();
      await Promise.all(racers.map((r) => r.exited));
    }
  });

  it("a release after the lock was taken over removes only its own claim", () => {
    const release = takeWriterLock(dbPath);
    const dir = writerLockPath(dbPath);
    // As if this holder had been judged gone: its claim removed, and another process's put in.
    for (const name of readdirSync(dir)) rmSync(join(dir, name));
    writeFileSync(join(dir, "owner-other"), JSON.stringify({ pid: 1, boot: null, start: null }));
    release();
    expect(readdirSync(dir)).toEqual(["owner-other"]);
    expectBusy(() => takeWriterLock(dbPath)); // pid 1 runs
  });
});
