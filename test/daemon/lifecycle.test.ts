// The daemon as a process, with a stand-in daemon and process: which stop each signal or
// agent.restart asks for, and which exit code follows.
import { describe, expect, it } from "vitest";
import type { AgentLifecycle } from "../../agent/commands/index.js";
import { RESTART_EXIT_CODE, runDaemon, type DaemonProcess, type RunnableDaemon } from "../../agent/daemon/lifecycle.js";
import { ServiceStartError, type StartReport, type StopReport } from "../../agent/daemon/services.js";
import { silentLogger } from "../../agent/log.js";

const STARTED: StartReport = { started: ["ledger"], failed: [], cancelled: false };
const STOPPED: StopReport = { stopped: ["ledger"], failed: [], abandoned: [] };

function harness(opts: { start?: () => Promise<StartReport>; stopMs?: number } = {}) {
  const handlers = new Map<string, () => void>();
  const exits: number[] = [];
  const stops: Array<{ reason: string; detail?: string }> = [];
  let lifecycle: AgentLifecycle | null = null;
  let exited: () => void = () => undefined;
  const exitedOnce = new Promise<void>((resolve) => (exited = resolve));
  const proc: DaemonProcess = {
    onSignal: (signal, handler) => void handlers.set(signal, handler),
    exit: (code) => {
      exits.push(code);
      exited();
    },
  };
  const daemon = (l: AgentLifecycle): RunnableDaemon => {
    lifecycle = l;
    return {
      start: opts.start ?? (async () => STARTED),
      async stop(reason, detail) {
        stops.push({ reason, ...(detail === undefined ? {} : { detail }) });
        await new Promise((r) => setTimeout(r, opts.stopMs ?? 0));
        return STOPPED;
      },
    };
  };
  const running = runDaemon({ daemon, process: proc, log: silentLogger() });
  return { running, handlers, exits, stops, exitedOnce, restart: (reason: string) => (lifecycle as AgentLifecycle).restart(reason) };
}

describe("runDaemon", () => {
  it("SIGTERM stops the daemon cleanly and exits 0", async () => {
    const h = harness();
    await h.running;
    h.handlers.get("SIGTERM")?.();
    await h.exitedOnce;
    expect(h.stops).toEqual([{ reason: "SIGTERM" }]);
    expect(h.exits).toEqual([0]);
  });

  it("SIGINT is a clean stop too, recorded as SIGINT", async () => {
    const h = harness();
    await h.running;
    h.handlers.get("SIGINT")?.();
    await h.exitedOnce;
    expect(h.stops).toEqual([{ reason: "SIGINT" }]);
    expect(h.exits).toEqual([0]);
  });

  it("a second signal during the stop exits at once with 128 + its number", async () => {
    const h = harness({ stopMs: 300 });
    await h.running;
    h.handlers.get("SIGTERM")?.();
    h.handlers.get("SIGINT")?.();
    expect(h.exits).toEqual([130]);
    await new Promise((r) => setTimeout(r, 400));
    // The stop that was running does not exit a second time.
    expect(h.exits).toEqual([130]);
    expect(h.stops).toEqual([{ reason: "SIGTERM" }]);
  });

  it("agent.restart stops cleanly with its reason, after answering, and exits with the restart code", async () => {
    const h = harness();
    await h.running;
    h.restart("asked by local user tech");
    // Not in the same turn: the command's reply goes out first.
    expect(h.stops).toEqual([]);
    await h.exitedOnce;
    expect(h.stops).toEqual([{ reason: "restart", detail: "asked by local user tech" }]);
    expect(h.exits).toEqual([RESTART_EXIT_CODE]);
    expect(RESTART_EXIT_CODE).not.toBe(0);
  });

  it("a failed start rejects with the reason and exits nothing itself (the CLI exits 1)", async () => {
    const failure = new ServiceStartError("playout", new Error("mpv: not found"), STOPPED);
    const h = harness({ start: () => Promise.reject(failure) });
    await expect(h.running).rejects.toThrow("playout did not start: mpv: not found");
    expect(h.exits).toEqual([]);
  });
});
