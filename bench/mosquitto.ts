// A real mosquitto broker for benchmarks and integration tests (test/helpers/mosquitto.ts): its own
// config and persistence directory, a free loopback port, and the ways a broker goes away in the
// field (stopped, killed, restarted on the same port with its persisted sessions).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface MosquittoOptions {
  /** Extra lines for the listener (TLS files, require_certificate …), after `listener <port> 127.0.0.1`. */
  listenerLines?: string[];
  /** Extra global lines (password_file, acl_file …). Default: allow_anonymous true. */
  globalLines?: string[];
  /** Keep sessions and retained messages across restarts (default true). */
  persistence?: boolean;
}

export interface Mosquitto {
  port: number;
  url: string;
  /** The broker's own directory (config, persistence); files for it may be written here. */
  dir: string;
  /** SIGTERM and wait: mosquitto saves its persistence file on the way out. */
  stop(): Promise<void>;
  /** SIGKILL: what a crashed broker or a cut network looks like to the clients. */
  kill(): Promise<void>;
  /** Starts again on the same port with the same config and persistence. */
  restart(): Promise<void>;
  /** Stops it for good and removes its directory. */
  close(): Promise<void>;
  /** What mosquitto wrote to stderr (its log), for failure messages. */
  output(): string;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function waitForPort(port: number, child: ChildProcess, log: () => string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}: ${log()}`);
    if (await canConnect(port)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`mosquitto did not listen on ${port} within ${timeoutMs} ms: ${log()}`);
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once("exit", () => resolve()));
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  const dir = mkdtempSync(join(tmpdir(), "ledagent-mosquitto-"));
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  const port = await freePort();
  const dataDir = join(dir, "data");
  mkdirSync(dataDir);
  const config = [
    // Run as root (CI), mosquitto drops to its own user, which cannot write the persistence file
    // into this private directory (nor read certificates kept there): stay root instead.
    ...(process.getuid?.() === 0 ? ["user root"] : []),
    ...(options.persistence === false ? ["persistence false"] : ["persistence true", `persistence_location ${dataDir}/`, "autosave_interval 1"]),
    "log_dest stderr",
    "log_type error",
    "log_type warning",
    "log_type notice",
    "per_listener_settings false",
    // As docs/operations.md asks of a fleet's broker: without it every answer waits on delayed ACKs.
    "set_tcp_nodelay true",
    ...(options.globalLines ?? ["allow_anonymous true"]),
    `listener ${port} 127.0.0.1`,
    ...(options.listenerLines ?? []),
  ];
  const configFile = join(dir, "mosquitto.conf");
  writeFileSync(configFile, `${config.join("\n")}\n`);
  let log = "";
  let child: ChildProcess;
  const launch = async (): Promise<void> => {
    child = spawn("mosquitto", ["-c", configFile], { stdio: ["ignore", "ignore", "pipe"] });
    child.stderr?.on("data", (d: Buffer) => {
      log = (log + d.toString()).slice(-20_000);
    });
    await waitForPort(port, child, () => log);
  };
  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(sig);
    await exited(child);
  };
  await launch();
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    dir,
    stop: () => signal("SIGTERM"),
    kill: () => signal("SIGKILL"),
    restart: async () => {
      await signal("SIGTERM");
      await launch();
    },
    close: async () => {
      await signal("SIGKILL");
      cleanup();
    },
    output: () => log,
  };
}
