import { chmodSync, existsSync, linkSync, lstatSync, mkdirSync, readFileSync, readlinkSync, renameSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { callDaemon, CommandRegistry, ControlSocketError, ControlSocketServer, DaemonCallError, defineCommand, MAX_LINE_BYTES, type CommandExecutor } from "../../agent/commands/index.js";
import { noArgs } from "../../agent/commands/args.js";
import { z } from "zod";
import { tempDir } from "../helpers/tmp.js";

const echo = defineCommand({
  name: "echo",
  summary: "answers its args after delayMs",
  args: z.strictObject({ n: z.int(), delayMs: z.int().optional() }),
  changes: false,
  async run(args, _deps, ctx) {
    await new Promise((resolve) => setTimeout(resolve, args.delayMs ?? 0));
    return { n: args.n, origin: ctx.origin };
  },
});
const broken = defineCommand({ name: "broken", summary: "", args: noArgs, changes: false, run: () => Promise.reject(new Error("the player is wedged")) });
const big = defineCommand({ name: "big", summary: "", args: noArgs, changes: false, run: async () => "x".repeat(4 * 1024 * 1024) });

let tmp: ReturnType<typeof tempDir>;
let runDir: string;
let servers: ControlSocketServer[];
let others: Server[];

function registry(): CommandExecutor {
  return new CommandRegistry({}, { commands: [echo, broken, big] });
}

async function startServer(opts: { maxLineBytes?: number; maxInFlight?: number } = {}): Promise<ControlSocketServer> {
  const server = new ControlSocketServer({ registry: registry(), runDir, ...opts });
  servers.push(server);
  await server.start();
  return server;
}

/** A plain socket client: what it wrote, every line it got, until the server closes. */
function rawClient(path: string): { socket: Socket; lines: string[]; closed: Promise<void>; nextLine(): Promise<string> } {
  const socket = connect(path);
  const lines: string[] = [];
  let buffered = "";
  let waiters: Array<() => void> = [];
  socket.on("data", (chunk) => {
    buffered += chunk.toString("utf8");
    let i;
    while ((i = buffered.indexOf("\n")) !== -1) {
      lines.push(buffered.slice(0, i));
      buffered = buffered.slice(i + 1);
    }
    for (const w of waiters) w();
    waiters = [];
  });
  socket.on("error", () => undefined);
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  let read = 0;
  const nextLine = async () => {
    while (lines.length <= read) await new Promise<void>((resolve) => waiters.push(resolve));
    return lines[read++];
  };
  return { socket, lines, closed, nextLine };
}

function listen(path: string): Promise<Server> {
  // Reads whatever comes (so the connection can finish closing) and answers nothing.
  const server = createServer((s) => s.resume().end());
  others.push(server);
  return new Promise((resolve) => server.listen(path, () => resolve(server)));
}

beforeEach(() => {
  tmp = tempDir("ledagent-sock-");
  runDir = join(tmp.dir, "run");
  servers = [];
  others = [];
});

afterEach(async () => {
  for (const s of servers) await s.stop();
  for (const s of others) await new Promise((resolve) => s.close(resolve));
  tmp.cleanup();
});

describe("the control socket", () => {
  test("a request goes round trip through the client, with the local user as origin", async () => {
    await startServer();
    const call = await callDaemon(runDir, "echo", { n: 7 }, { user: "tech", timeoutMs: 5000 });
    expect(call).toEqual({ daemon: "answered", outcome: { ok: true, result: { n: 7, origin: { kind: "local", user: "tech" } } } });
  });

  test("the socket is created 0660 under runDir and removed on stop", async () => {
    const server = await startServer();
    const info = lstatSync(server.path);
    expect(info.isSocket()).toBe(true);
    expect(info.mode & 0o777).toBe(0o660);
    expect(server.path).toBe(join(runDir, "control.sock"));
    await server.stop();
    expect(existsSync(server.path)).toBe(false);
  });

  test("many clients at once each get their own answer", async () => {
    await startServer();
    const calls = Array.from({ length: 40 }, (_, n) => callDaemon(runDir, "echo", { n, delayMs: 40 - n }, { user: "tech", timeoutMs: 5000 }));
    const answers = await Promise.all(calls);
    expect(answers.map((a) => (a.daemon === "answered" && a.outcome.ok ? (a.outcome.result as { n: number }).n : -1))).toEqual(Array.from({ length: 40 }, (_, n) => n));
  });

  test("requests pipelined on one connection are answered by id, out of order when they finish so", async () => {
    const server = await startServer();
    const c = rawClient(server.path);
    c.socket.write(`${JSON.stringify({ id: "slow", name: "echo", args: { n: 1, delayMs: 100 } })}\n${JSON.stringify({ id: 2, name: "echo", args: { n: 2 } })}\n`);
    const first = JSON.parse(await c.nextLine());
    const second = JSON.parse(await c.nextLine());
    expect([first.id, second.id]).toEqual([2, "slow"]);
    expect(second).toMatchObject({ ok: true, result: { n: 1, origin: { kind: "local", user: "unknown" } } });
    c.socket.destroy();
  });

  test("a flood of requests on one connection is worked off a few at a time, every one answered", async () => {
    const server = await startServer({ maxInFlight: 4 });
    const c = rawClient(server.path);
    c.socket.write(Array.from({ length: 200 }, (_, n) => `${JSON.stringify({ id: n, name: "echo", args: { n, delayMs: 1 } })}\n`).join(""));
    const ids = new Set<number>();
    for (let i = 0; i < 200; i++) ids.add(JSON.parse(await c.nextLine()).id);
    expect(ids.size).toBe(200);
    c.socket.destroy();
  });

  test("malformed JSON and bad requests are answered with bad-request, and the connection goes on", async () => {
    const server = await startServer();
    const c = rawClient(server.path);
    c.socket.write('{"id": 1, "name": \n');
    expect(JSON.parse(await c.nextLine())).toMatchObject({ id: null, ok: false, error: { code: "bad-request" } });
    c.socket.write('[1,2]\n{"id": 3}\n{"id": 4, "name": "echo", "args": {"n": 4}, "extra": true}\n');
    expect(JSON.parse(await c.nextLine())).toMatchObject({ id: null, error: { code: "bad-request" } });
    expect(JSON.parse(await c.nextLine())).toMatchObject({ id: 3, error: { code: "bad-request", message: expect.stringContaining("name") } });
    expect(JSON.parse(await c.nextLine())).toMatchObject({ id: 4, error: { code: "bad-request", message: expect.stringContaining("extra") } });
    c.socket.write('{"id": 5, "name": "echo", "args": {"n": 5}}\r\n');
    expect(JSON.parse(await c.nextLine())).toMatchObject({ id: 5, ok: true, result: { n: 5 } });
    c.socket.destroy();
  });

  test("an over-long line gets line-too-long and the connection is closed", async () => {
    const server = await startServer();
    const c = rawClient(server.path);
    c.socket.write(Buffer.alloc(MAX_LINE_BYTES + 10, 0x61));
    await c.closed;
    expect(c.lines.map((l) => JSON.parse(l))).toEqual([{ id: null, ok: false, error: { code: "line-too-long", message: expect.stringContaining(String(MAX_LINE_BYTES)) } }]);
    // The daemon serves the next client as before.
    expect(await callDaemon(runDir, "echo", { n: 1 }, { timeoutMs: 5000 })).toMatchObject({ daemon: "answered", outcome: { ok: true } });
  });

  test("requests that arrived whole before an over-long line are still answered, then the connection closes", async () => {
    const server = await startServer({ maxLineBytes: 1024 });
    const c = rawClient(server.path);
    c.socket.write(`${JSON.stringify({ id: 1, name: "echo", args: { n: 1, delayMs: 50 } })}\n${"a".repeat(2000)}`);
    await c.closed;
    expect(c.lines.map((l) => JSON.parse(l))).toEqual([
      { id: 1, ok: true, result: { n: 1, origin: { kind: "local", user: "unknown" } } },
      { id: null, ok: false, error: { code: "line-too-long", message: expect.stringContaining("1024") } },
    ]);
  });

  test("a line just under the cap is read whole", async () => {
    const server = await startServer({ maxLineBytes: 4096 });
    const c = rawClient(server.path);
    const line = JSON.stringify({ id: 1, name: "echo", args: { n: 1 }, user: "t" });
    c.socket.write(`${line}${" ".repeat(4096 - line.length)}\n`);
    expect(JSON.parse(await c.nextLine())).toMatchObject({ id: 1, ok: true });
    c.socket.destroy();
  });

  test("a client that disconnects mid-request or mid-reply does not hurt the daemon", async () => {
    const server = await startServer();
    const early = rawClient(server.path);
    early.socket.write(`${JSON.stringify({ id: 1, name: "echo", args: { n: 1, delayMs: 50 } })}\n`);
    early.socket.destroy();
    const late = rawClient(server.path);
    late.socket.write(`${JSON.stringify({ id: 1, name: "big" })}\n`);
    await new Promise<void>((resolve) => late.socket.once("data", () => resolve()));
    late.socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await callDaemon(runDir, "echo", { n: 9 }, { timeoutMs: 5000 })).toMatchObject({ daemon: "answered", outcome: { ok: true, result: { n: 9 } } });
  });

  test("a failing command is an answer, not a missing daemon", async () => {
    await startServer();
    expect(await callDaemon(runDir, "broken", {}, { timeoutMs: 5000 })).toEqual({ daemon: "answered", outcome: { ok: false, error: { code: "failed", message: "broken failed: the player is wedged" } } });
    expect(await callDaemon(runDir, "nope", {}, { timeoutMs: 5000 })).toMatchObject({ daemon: "answered", outcome: { ok: false, error: { code: "unknown-command" } } });
  });
});

describe("taking the socket name", () => {
  test("a stale socket left by a dead daemon is replaced", async () => {
    mkdirSync(runDir);
    // A socket file nobody listens on: bound under another name, linked in, then closed.
    const old = await listen(join(runDir, "old.sock"));
    linkSync(join(runDir, "old.sock"), join(runDir, "control.sock"));
    await new Promise((resolve) => old.close(resolve));
    others = [];
    expect(lstatSync(join(runDir, "control.sock")).isSocket()).toBe(true);
    await startServer();
    expect(await callDaemon(runDir, "echo", { n: 1 }, { timeoutMs: 5000 })).toMatchObject({ daemon: "answered" });
  });

  test("a live daemon's socket is refused and keeps working", async () => {
    await startServer();
    const second = new ControlSocketServer({ registry: registry(), runDir });
    await expect(second.start()).rejects.toMatchObject({ name: "ControlSocketError", code: "in-use" });
    expect(await callDaemon(runDir, "echo", { n: 2 }, { timeoutMs: 5000 })).toMatchObject({ daemon: "answered", outcome: { ok: true } });
  });

  test("a symbolic link planted at the name is neither followed nor removed", async () => {
    mkdirSync(runDir);
    const elsewhere = join(tmp.dir, "elsewhere");
    mkdirSync(elsewhere);
    const victim = join(elsewhere, "service.sock");
    await listen(victim);
    const path = join(runDir, "control.sock");
    symlinkSync(victim, path);
    const server = new ControlSocketServer({ registry: registry(), runDir });
    const err = await server.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ControlSocketError);
    expect(err).toMatchObject({ code: "not-a-socket", message: expect.stringContaining("symbolic link") });
    expect(readlinkSync(path)).toBe(victim);
    expect(lstatSync(victim).isSocket()).toBe(true);
  });

  test("a symbolic link to a file, or a plain file, is refused and left intact", async () => {
    mkdirSync(runDir);
    const precious = join(tmp.dir, "precious");
    writeFileSync(precious, "keep me");
    const path = join(runDir, "control.sock");
    symlinkSync(precious, path);
    await expect(new ControlSocketServer({ registry: registry(), runDir }).start()).rejects.toMatchObject({ code: "not-a-socket" });
    expect(readFileSync(precious, "utf8")).toBe("keep me");
    expect(lstatSync(path).isSymbolicLink()).toBe(true);
  });

  test("stop leaves a successor's socket alone", async () => {
    const first = await startServer();
    const path = first.path;
    // What a successor would do after this daemon was declared dead: a new socket at the name.
    unlinkSync(path);
    await listen(join(runDir, "next.sock"));
    renameSync(join(runDir, "next.sock"), path);
    await first.stop();
    expect(lstatSync(path).isSocket()).toBe(true);
  });
});

describe("the client", () => {
  test("no run directory, no socket, or a stale socket: no daemon", async () => {
    expect(await callDaemon(join(tmp.dir, "missing"), "status", {})).toMatchObject({ daemon: "absent" });
    mkdirSync(runDir);
    expect(await callDaemon(runDir, "status", {})).toMatchObject({ daemon: "absent", reason: expect.stringContaining("ENOENT") });
    const old = await listen(join(runDir, "old.sock"));
    linkSync(join(runDir, "old.sock"), join(runDir, "control.sock"));
    await new Promise((resolve) => old.close(resolve));
    others = [];
    expect(await callDaemon(runDir, "status", {})).toMatchObject({ daemon: "absent", reason: expect.stringContaining("ECONNREFUSED") });
  });

  test("a daemon that does not answer in time is a timeout, not an absent daemon", async () => {
    await startServer();
    const err = await callDaemon(runDir, "echo", { n: 1, delayMs: 2000 }, { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DaemonCallError);
    expect(err).toMatchObject({ code: "timeout" });
  });

  test("a daemon that closes without answering is closed, not absent", async () => {
    mkdirSync(runDir);
    await listen(join(runDir, "control.sock"));
    await expect(callDaemon(runDir, "status", {}, { timeoutMs: 5000 })).rejects.toMatchObject({ name: "DaemonCallError", code: "closed" });
  });

  test("a socket this user may not open is access, not absent", async () => {
    if (process.getuid?.() === 0) return; // root opens anything
    await startServer();
    chmodSync(runDir, 0o000);
    try {
      await expect(callDaemon(runDir, "status", {}, { timeoutMs: 5000 })).rejects.toMatchObject({ code: "access" });
    } finally {
      chmodSync(runDir, 0o750);
    }
  });
});
