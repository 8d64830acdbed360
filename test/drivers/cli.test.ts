// The `ledagent controller` and `ledagent simulate` commands, run as a technician would: the built
// CLI (npm test builds dist/ first; by hand, run `npx tsc -p tsconfig.build.json`).
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../helpers/tmp.js";

const CLI = join(import.meta.dirname, "../../bin/ledagent.js");

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, LEDAGENT_CONFIG: undefined } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts `ledagent simulate novastar …` and resolves with the first URL it prints. */
function startSimulator(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, "simulate", "novastar", ...args]);
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n")[0];
      if (out.includes("\n")) resolve({ child, url: line });
    });
    child.on("exit", (code) => reject(new Error(`simulator exited with ${code}`)));
  });
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.removeAllListeners("exit");
    child.on("exit", (code) => resolve(code));
    child.kill("SIGTERM");
  });
}

describe("ledagent controller / simulate", () => {
  const tmp = tempDir();
  const config = (port: string | null): string => {
    const file = join(tmp.dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
    const controller = port ? `controller: { driver: novastar, port: "${port}", timeoutMs: 500 }` : "controller: { driver: none }";
    writeFileSync(file, `screenId: test\ndataDir: ${tmp.dir}\npanel: { width: 64, height: 32 }\n${controller}\n`);
    return file;
  };
  let silent: Server;
  let silentPort = 0;
  let hangUp: Server;
  let hangUpPort = 0;
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    // Accepts connections and never answers: a controller that hangs.
    silent = createServer((socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    silentPort = (silent.address() as { port: number }).port;
    // Accepts connections and closes each at once: a controller that drops the agent.
    hangUp = createServer((socket) => socket.resume().end());
    await new Promise<void>((r) => hangUp.listen(0, "127.0.0.1", r));
    hangUpPort = (hangUp.address() as { port: number }).port;
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
    await new Promise<void>((r) => hangUp.close(() => r()));
    tmp.cleanup();
  });

  it("drives the TCP simulator: probe, brightness, blackout, pattern, status; the simulator stops on SIGTERM", async () => {
    const { child, url } = await startSimulator(["--tcp", "127.0.0.1:0", "--model", "07 11"]);
    expect(url).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    const c = config(url);
    const probe = await run(["--config", c, "controller", "probe"]);
    expect(probe).toMatchObject({ code: 0 });
    expect(probe.stdout).toMatch(/MCTRL660 Pro \(id 07 11\)/);
    expect((await run(["--config", c, "controller", "brightness", "35"])).code).toBe(0);
    expect((await run(["--config", c, "controller", "blackout", "on"])).code).toBe(0);
    expect((await run(["--config", c, "controller", "pattern", "white"])).code).toBe(0);
    const status = await run(["--config", c, "controller", "status", "--json"]);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ online: true, brightness: 35, blackout: true, pattern: "white", faults: [] });
    expect(await stop(child)).toBe(0);
  });

  it("drives the simulator over a virtual serial port (--pty)", async () => {
    const { child, url } = await startSimulator(["--pty"]);
    expect(url).toMatch(/^serial:\/\/\/dev\/pts\/\d+\?baud=115200$/);
    const status = await run(["--config", config(url), "controller", "status"]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/online\s+yes/);
    expect(await stop(child)).toBe(0);
  });

  it("fails within a few seconds, with one clear line, against a controller that never answers", async () => {
    const started = Date.now();
    const result = await run(["--config", config(`tcp://127.0.0.1:${silentPort}`), "controller", "probe"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^ledagent: cannot read the model id: controller tcp://127.0.0.1:${silentPort} did not answer within \\d+ s\\n$`));
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("says why when nothing listens on the port", async () => {
    const result = await run(["--config", config("tcp://127.0.0.1:1"), "controller", "status"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("ledagent: controller tcp://127.0.0.1:1 refused the connection (ECONNREFUSED)\n");
  });

  it("says the controller closed the connection (not a timeout) when it drops the agent", async () => {
    const url = `tcp://127.0.0.1:${hangUpPort}`;
    const status = await run(["--config", config(url), "controller", "status"]);
    expect(status.code).toBe(1);
    expect(status.stderr).toBe(`ledagent: controller ${url} closed the connection without answering (3 attempts)\n`);
    const probe = await run(["--config", config(url), "controller", "probe"]);
    expect(probe.stderr).toBe(`ledagent: cannot read the model id: controller ${url} closed the connection without answering (3 attempts)\n`);
  });

  it("refuses to act without a configured controller", async () => {
    const result = await run(["--config", config(null), "controller", "blackout", "on"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/no controller configured \(controller.driver is none\)/);
  });

  it.each([
    [["controller", "brightness", "101"], /brightness: "101" is not an integer in 0..100/],
    [["controller", "blackout", "maybe"], /blackout: "maybe" is not on or off/],
    [["controller", "pattern", "plaid"], /pattern: "plaid" is not one of off, red/],
    [["simulate", "novastar"], /give --tcp HOST:PORT or --pty/],
    [["simulate", "novastar", "--tcp", "localhost"], /--tcp: "localhost" is not HOST:PORT/],
  ])("exits 2 on bad usage: %j", async (args, message) => {
    const result = await run(["--config", config("tcp://127.0.0.1:1"), ...args]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });
});
