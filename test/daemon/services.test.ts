// The daemon's services list: order, reverse stop, isolation of optional services, and what an
// essential failure or a stop deadline does. Fake services that record what happened to them.
import { describe, expect, it } from "vitest";
import { ServiceStack, ServiceStartError, type Service } from "../../agent/daemon/services.js";
import { silentLogger } from "../../agent/log.js";

interface FakeOptions {
  optional?: boolean;
  failStart?: string;
  failStop?: string;
  /** Never resolves its stop (or its start). */
  hangStop?: boolean;
  hangStart?: boolean;
  startDelayMs?: number;
}

function fakes(journal: string[]) {
  return (name: string, o: FakeOptions = {}): Service => ({
    name,
    optional: o.optional,
    async start() {
      journal.push(`start ${name}`);
      if (o.startDelayMs) await new Promise((r) => setTimeout(r, o.startDelayMs));
      if (o.hangStart) await new Promise(() => undefined);
      if (o.failStart) throw new Error(o.failStart);
    },
    async stop() {
      journal.push(`stop ${name}`);
      if (o.hangStop) await new Promise(() => undefined);
      if (o.failStop) throw new Error(o.failStop);
    },
  });
}

const STOP = { deadlineMs: 1000 };

describe("ServiceStack", () => {
  it("starts in order and stops in reverse", async () => {
    const journal: string[] = [];
    const svc = fakes(journal);
    const stack = new ServiceStack({ services: [svc("a"), svc("b"), svc("c")], log: silentLogger() });
    expect(await stack.start(STOP)).toEqual({ started: ["a", "b", "c"], failed: [], cancelled: false });
    expect(stack.runningNames).toEqual(["a", "b", "c"]);
    expect(await stack.stop(STOP)).toEqual({ stopped: ["c", "b", "a"], failed: [], abandoned: [] });
    expect(journal).toEqual(["start a", "start b", "start c", "stop c", "stop b", "stop a"]);
    expect(stack.runningNames).toEqual([]);
  });

  it("a failing optional service is left out and the rest start; it is never stopped", async () => {
    const journal: string[] = [];
    const svc = fakes(journal);
    const stack = new ServiceStack({ services: [svc("ledger"), svc("controller", { optional: true, failStart: "no such port" }), svc("playout")], log: silentLogger() });
    expect(await stack.start(STOP)).toEqual({ started: ["ledger", "playout"], failed: [{ name: "controller", error: "no such port" }], cancelled: false });
    await stack.stop(STOP);
    expect(journal).toEqual(["start ledger", "start controller", "start playout", "stop playout", "stop ledger"]);
  });

  it("a failing essential service stops the start and stops what had started, in reverse", async () => {
    const journal: string[] = [];
    const svc = fakes(journal);
    const failures: string[] = [];
    const stack = new ServiceStack({
      services: [svc("ledger"), svc("controller", { optional: true }), svc("playout", { failStart: "mpv: not found" }), svc("control socket")],
      log: silentLogger(),
      onEssentialFailure: (name, err) => failures.push(`${name}: ${(err as Error).message}`),
    });
    const err = await stack.start(STOP).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ServiceStartError);
    const failure = err as ServiceStartError;
    expect(failure.service).toBe("playout");
    expect(failure.message).toBe("playout did not start: mpv: not found");
    expect(failure.stopReport).toEqual({ stopped: ["controller", "ledger"], failed: [], abandoned: [] });
    expect(failures).toEqual(["playout: mpv: not found"]);
    expect(journal).toEqual(["start ledger", "start controller", "start playout", "stop controller", "stop ledger"]);
  });

  it("a stop that fails is reported and the others still stop", async () => {
    const journal: string[] = [];
    const svc = fakes(journal);
    const stack = new ServiceStack({ services: [svc("a"), svc("b", { failStop: "port busy" }), svc("c")], log: silentLogger() });
    await stack.start(STOP);
    expect(await stack.stop(STOP)).toEqual({ stopped: ["c", "a"], failed: [{ name: "b", error: "port busy" }], abandoned: [] });
    expect(journal.slice(3)).toEqual(["stop c", "stop b", "stop a"]);
  });

  it("a stop that does not end by the deadline abandons it and everything started before it", async () => {
    const journal: string[] = [];
    const svc = fakes(journal);
    const stack = new ServiceStack({ services: [svc("ledger"), svc("playout", { hangStop: true }), svc("control socket")], log: silentLogger() });
    await stack.start(STOP);
    const began = performance.now();
    const report = await stack.stop({ deadlineMs: 200 });
    const took = performance.now() - began;
    expect(report).toEqual({ stopped: ["control socket"], failed: [], abandoned: ["playout", "ledger"] });
    expect(took).toBeGreaterThanOrEqual(190);
    expect(took).toBeLessThan(1000);
    expect(journal).toEqual(["start ledger", "start playout", "start control socket", "stop control socket", "stop playout"]);
  });

  it("a stop during the start lets the service starting finish, starts no more, and stops the started ones", async () => {
    const journal: string[] = [];
    const svc = fakes(journal);
    const stack = new ServiceStack({ services: [svc("ledger"), svc("playout", { startDelayMs: 100 }), svc("control socket")], log: silentLogger() });
    const starting = stack.start(STOP);
    await new Promise((r) => setTimeout(r, 20));
    const report = await stack.stop(STOP);
    expect(await starting).toEqual({ started: ["ledger", "playout"], failed: [], cancelled: true });
    expect(report).toEqual({ stopped: ["playout", "ledger"], failed: [], abandoned: [] });
    expect(journal).toEqual(["start ledger", "start playout", "stop playout", "stop ledger"]);
  });

  it("a start that hangs past the stop's deadline is abandoned with what had started", async () => {
    const journal: string[] = [];
    const svc = fakes(journal);
    const stack = new ServiceStack({ services: [svc("ledger"), svc("playout", { hangStart: true })], log: silentLogger() });
    void stack.start(STOP);
    await new Promise((r) => setTimeout(r, 20));
    expect(await stack.stop({ deadlineMs: 100 })).toEqual({ stopped: [], failed: [], abandoned: ["playout", "ledger"] });
  });

  it("two stops at once share one stop", async () => {
    const journal: string[] = [];
    const svc = fakes(journal);
    const stack = new ServiceStack({ services: [svc("a"), svc("b")], log: silentLogger() });
    await stack.start(STOP);
    const [first, second] = await Promise.all([stack.stop(STOP), stack.stop(STOP)]);
    expect(first).toBe(second);
    expect(journal.filter((j) => j.startsWith("stop"))).toEqual(["stop b", "stop a"]);
  });

  it("a start or stop that throws before returning a promise counts as failed, not as a crash", async () => {
    const throwing: Service = {
      name: "sync",
      optional: true,
      start: () => {
        throw new Error("bad port URL");
      },
      stop: () => Promise.resolve(),
    };
    const stack = new ServiceStack({ services: [throwing], log: silentLogger() });
    expect(await stack.start(STOP)).toEqual({ started: [], failed: [{ name: "sync", error: "bad port URL" }], cancelled: false });
  });
});
