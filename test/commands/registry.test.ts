import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { ALL_COMMANDS, CommandRegistry, defineCommand, type CommandContext, type CommandDeps, type CommandOutcome } from "../../agent/commands/index.js";
import { noArgs } from "../../agent/commands/args.js";
import { tempDir } from "../helpers/tmp.js";
import { makeLedger, type TestLedger } from "../proofs/fixtures.js";
import { FakeController, FakePlayout, NOW } from "./fakes.js";

const LOCAL: CommandContext = { origin: { kind: "local", user: "tech" } };
const MQTT: CommandContext = { origin: { kind: "mqtt", commandId: "6f1c2a9e-0000-4000-8000-000000000001" } };

function expectError(outcome: CommandOutcome, code: string, mentions?: string): void {
  expect(outcome.ok, JSON.stringify(outcome)).toBe(false);
  if (outcome.ok) return;
  expect(outcome.error.code).toBe(code);
  if (mentions) expect(outcome.error.message).toContain(mentions);
}

function resultOf(outcome: CommandOutcome): unknown {
  expect(outcome.ok, JSON.stringify(outcome)).toBe(true);
  return outcome.ok ? outcome.result : undefined;
}

let tmp: ReturnType<typeof tempDir>;
let t: TestLedger;
let controller: FakeController;
let playout: FakePlayout;
let registry: CommandRegistry;
let syncs: number;
let restarts: string[];

function build(over: Partial<CommandDeps> = {}): CommandRegistry {
  const deps: CommandDeps = {
    ledger: t.ledger,
    controller,
    playout,
    brightness: { override: async (percent) => void controller.setBrightness(percent), clearOverride: async () => undefined },
    proofSync: { syncNow: async () => ({ through: ++syncs }), status: () => ({ ackedThrough: syncs, unsynced: 0, inFlight: null }) },
    agent: { restart: (reason) => void restarts.push(reason) },
    now: () => NOW,
    ...over,
  };
  return new CommandRegistry(deps);
}

beforeEach(() => {
  tmp = tempDir();
  t = makeLedger(tmp.dir);
  controller = new FakeController();
  playout = new FakePlayout();
  syncs = 0;
  restarts = [];
  registry = build();
});

afterEach(() => {
  t.db.close();
  tmp.cleanup();
});

function executed() {
  return [...t.ledger.events({ type: "command.executed" })].map((e) => e.event);
}

describe("bad args are refused with bad-args naming the field, and the handler never runs", () => {
  const cases: Array<[string, unknown, string]> = [
    ["status", { verbose: true }, "verbose"],
    ["brightness.set", { percent: 101 }, "percent"],
    ["brightness.set", { percent: 50.5 }, "percent"],
    ["brightness.set", {}, "percent: missing"],
    ["brightness.set", { percent: "50" }, "percent"],
    ["brightness.set", { percent: 50, forMinutes: 0 }, "forMinutes"],
    ["brightness.set", { percent: 50, precent: 5 }, "precent: unknown argument"],
    ["screen.blackout", { on: "yes" }, "on"],
    ["suspend", {}, "reason: missing"],
    ["suspend", { reason: "   " }, "reason"],
    ["suspend", { reason: "storm", until: "2026-12-01T08:00:00" }, "until"],
    ["suspend", { reason: "storm", until: "2026-11-30T23:00:00Z" }, "until"],
    ["suspend", { reason: "storm", until: "2026-12-01T00:00:00Z" }, "not in the future"],
    ["suspend", { reason: "storm", campaigns: [] }, "campaigns"],
    ["suspend", { reason: "storm", campaigns: ["ok", "not an id!"] }, "campaigns.1"],
    ["suspend", { reason: "storm", blackout: 1 }, "blackout"],
    ["resume", { now: true }, "now"],
    ["takedown", {}, "exactly one of campaign or creative"],
    ["takedown", { campaign: "cola-dec", creative: "cola-15" }, "exactly one of campaign or creative"],
    ["takedown", { campaign: "cola dec" }, "campaign"],
    ["takedown", { campaign: "cola-dec", immediate: "yes" }, "immediate"],
    ["takedown", { campaign: "cola-dec", lift: true, immediate: false }, "immediate"],
    ["play.now", {}, "creative: missing"],
    ["play.now", { creative: "cola-15", times: 0 }, "times"],
    ["play.now", { creative: "cola-15", times: 101 }, "times"],
    ["proofs.sync", { force: true }, "force"],
    ["screenshot", { quality: 90 }, "quality"],
    ["controller.status", { fresh: true }, "fresh"],
    ["controller.probe", { x: 1 }, "x"],
    ["controller.pattern", { name: "plaid" }, "name"],
    ["agent.restart", { reason: 5 }, "reason"],
    ["pattern", { name: "plaid" }, "name"],
    ["pattern", { name: "grid", seconds: 0 }, "seconds"],
    ["play", { file: "clip.mp4" }, "file"],
    ["play", { file: "/media/usb/clip.mp4", times: -1 }, "times"],
    ["note", { text: "" }, "text"],
    ["note", { text: "ok", by: "a\u0007b" }, "by"],
    ["note", { text: "x".repeat(2001) }, "text"],
    ["schedule.load", { source: "file:/media/usb/schedule.json" }, "envelope: missing"],
    ["schedule.load", { envelope: "{}", source: "" }, "source"],
    ["schedule.load", { envelope: "{}", source: "usb", origin: "network" }, "origin: unknown argument"],
  ];

  test.each(cases)("%s %j", async (name, args, mentions) => {
    const outcome = await registry.execute(name, args, LOCAL);
    expectError(outcome, "bad-args", mentions);
    expect(controller.calls).toEqual([]);
    expect(playout.calls).toEqual([]);
    expect(syncs + restarts.length).toBe(0);
  });

  test("args that are not an object are refused", async () => {
    for (const args of [null, 5, "percent=5", [50]]) expectError(await registry.execute("brightness.set", args, LOCAL), "bad-args", "args");
  });

  test("every command has at least one bad-args case above", () => {
    const covered = new Set(cases.map(([name]) => name));
    expect(ALL_COMMANDS.map((c) => c.name).filter((n) => !covered.has(n))).toEqual([]);
  });
});

describe("names", () => {
  test("the spec's commands and the technician's are all registered", () => {
    expect(registry.names().sort()).toEqual(
      ["agent.restart", "brightness.set", "controller.pattern", "controller.probe", "controller.status", "note", "pattern", "play", "play.now", "proofs.sync", "resume", "schedule.load", "screen.blackout", "screenshot", "status", "suspend", "takedown"].sort(),
    );
  });

  test("an unknown command is refused with unknown-command", async () => {
    expectError(await registry.execute("brightness.sett", { percent: 5 }, LOCAL), "unknown-command", "brightness.sett");
    expectError(await registry.execute("__proto__", {}, LOCAL), "unknown-command");
    expectError(await registry.execute("constructor", {}, MQTT), "unknown-command");
  });

  test("a technician's command over MQTT is refused with local-only", async () => {
    for (const name of ["note", "play", "pattern", "controller.pattern", "controller.probe", "schedule.load"]) {
      expectError(await registry.execute(name, {}, MQTT), "local-only", name);
    }
    // Every signed command from ops that could not run leaves a trace, changing or not.
    expect(executed().map((e) => [e.name, e.ok, e.error])).toEqual([
      ["note", false, "local-only"],
      ["play", false, "local-only"],
      ["pattern", false, "local-only"],
      ["controller.pattern", false, "local-only"],
      ["controller.probe", false, "local-only"],
      ["schedule.load", false, "local-only"],
    ]);
  });

  test("over MQTT an unknown name and a read's bad args are on record too; locally they are not", async () => {
    expectError(await registry.execute("brightness.sett", {}, MQTT), "unknown-command", "brightness.sett");
    expectError(await registry.execute("status", { verbose: true }, MQTT), "bad-args", "verbose");
    expectError(await registry.execute("brightness.sett", {}, LOCAL), "unknown-command", "brightness.sett");
    expectError(await registry.execute("status", { verbose: true }, LOCAL), "bad-args", "verbose");
    expect(executed().map((e) => [e.name, e.origin, e.ok, e.error])).toEqual([
      ["brightness.sett", "mqtt", false, "unknown-command"],
      ["status", "mqtt", false, "bad-args"],
    ]);
  });
});

describe("unavailable parts", () => {
  test("each command whose part is not running answers unavailable naming it", async () => {
    const bare = build({ controller: undefined, playout: undefined, proofSync: undefined, agent: undefined, brightness: undefined });
    const cases: Array<[string, unknown, string]> = [
      ["brightness.set", { percent: 50 }, "controller"],
      ["screen.blackout", { on: true }, "controller"],
      ["controller.status", {}, "controller"],
      ["controller.pattern", { name: "off" }, "controller"],
      ["suspend", { reason: "storm" }, "playout"],
      ["resume", {}, "playout"],
      ["takedown", { campaign: "cola-dec" }, "playout"],
      ["play.now", { creative: "cola-15" }, "playout"],
      ["screenshot", {}, "playout"],
      ["pattern", { name: "grid" }, "playout"],
      ["play", { file: "/media/usb/clip.mp4" }, "playout"],
      ["proofs.sync", {}, "proof sync"],
      ["agent.restart", {}, "lifecycle"],
      ["schedule.load", { envelope: "{}", source: "usb" }, "schedule loader"],
    ];
    for (const [name, args, part] of cases) expectError(await bare.execute(name, args, LOCAL), "unavailable", part);
  });

  test("a timed brightness needs the brightness schedule", async () => {
    const noSchedule = build({ brightness: undefined });
    expectError(await noSchedule.execute("brightness.set", { percent: 50, forMinutes: 30 }, LOCAL), "unavailable", "brightness schedule");
    expect(resultOf(await noSchedule.execute("brightness.set", { percent: 50 }, LOCAL))).toEqual({ percent: 50, until: null });
  });

  test("status answers with what is running, null for the rest", async () => {
    const bare = build({ controller: undefined, playout: undefined, ledger: undefined });
    const status = resultOf(await bare.execute("status", undefined, LOCAL)) as Record<string, unknown>;
    expect(status).toMatchObject({ at: "2026-12-01T00:00:00.000Z", playout: null, controller: null, ledger: null });
  });
});

describe("results and the ledger", () => {
  test("brightness.set reaches the controller and records command.executed with the local user", async () => {
    expect(resultOf(await registry.execute("brightness.set", { percent: 60 }, LOCAL))).toEqual({ percent: 60, until: null });
    expect(controller.calls).toEqual(["brightness 60"]);
    expect(executed()).toEqual([{ type: "command.executed", name: "brightness.set", origin: "local", user: "tech", args: { percent: 60 }, ok: true }]);
  });

  test("an MQTT command is recorded with its command id; a timed override says until when", async () => {
    expect(resultOf(await registry.execute("brightness.set", { percent: 30, forMinutes: 90 }, MQTT))).toEqual({ percent: 30, until: "2026-12-01T01:30:00.000Z" });
    expect(executed()[0]).toMatchObject({ name: "brightness.set", origin: "mqtt", commandId: MQTT.origin.kind === "mqtt" ? MQTT.origin.commandId : "", ok: true });
  });

  test("reads are not recorded; refusals of changing commands are, with their code", async () => {
    resultOf(await registry.execute("status", {}, LOCAL));
    resultOf(await registry.execute("controller.status", {}, LOCAL));
    resultOf(await registry.execute("screenshot", {}, MQTT));
    expect(executed()).toEqual([]);
    expectError(await registry.execute("brightness.set", { percent: 500 }, MQTT), "bad-args");
    expect(executed()).toEqual([expect.objectContaining({ name: "brightness.set", ok: false, error: "bad-args" })]);
    expect(executed()[0]).not.toHaveProperty("args");
  });

  test("suspend hands the playout its order with defaults and origin", async () => {
    const result = resultOf(await registry.execute("suspend", { reason: "typhoon", until: "2026-12-01T18:00:00+08:00" }, MQTT));
    expect(result).toMatchObject({ reason: "typhoon", until: "2026-12-01T18:00:00+08:00", campaigns: null, blackout: false });
    expect(playout.calls[0].origin).toEqual(MQTT.origin);
  });

  test("a part's refusal keeps its code: not-suspended, not-found, not-approved", async () => {
    expectError(await registry.execute("resume", {}, LOCAL), "not-suspended");
    expectError(await registry.execute("takedown", { creative: "cola-15", lift: true }, LOCAL), "not-found");
    expectError(await registry.execute("play.now", { creative: "unapproved" }, MQTT), "not-approved");
    expect(executed().map((e) => e.error)).toEqual(["not-suspended", "not-found", "not-approved"]);
  });

  test("takedown is immediate unless told otherwise, and lift ends it", async () => {
    resultOf(await registry.execute("takedown", { campaign: "cola-dec" }, LOCAL));
    expect(playout.calls[0].arg).toMatchObject({ target: { campaign: "cola-dec" }, immediate: true });
    expect(resultOf(await registry.execute("takedown", { campaign: "cola-dec", lift: true }, LOCAL))).toEqual({ lifted: { campaign: "cola-dec" } });
    expect(playout.takedowns).toEqual([]);
  });

  test("controller errors map to stable codes", async () => {
    controller.failWith = "timeout";
    expectError(await registry.execute("screen.blackout", { on: true }, LOCAL), "controller-offline");
    controller.failWith = "unsupported";
    expectError(await registry.execute("controller.pattern", { name: "red" }, LOCAL), "unsupported");
    controller.failWith = "ack";
    expectError(await registry.execute("brightness.set", { percent: 5 }, LOCAL), "failed");
  });

  test("any other error is failed, one line", async () => {
    const broken = build({ proofSync: { syncNow: () => Promise.reject(new Error("broker gone\nstack")), status: () => ({ ackedThrough: 0, unsynced: 0, inFlight: null }) } });
    expectError(await broken.execute("proofs.sync", {}, LOCAL), "failed", "broker gone");
  });

  test("an oversized screenshot is too-large", async () => {
    playout.jpeg = Buffer.alloc(256 * 1024 + 1);
    expectError(await registry.execute("screenshot", {}, MQTT), "too-large");
  });

  test("note commits a technician.note with the local user and answers its seq", async () => {
    const result = resultOf(await registry.execute("note", { text: "replaced receiving card 3" }, LOCAL)) as { seq: number };
    const notes = [...t.ledger.events({ type: "technician.note" })];
    expect(notes.map((e) => [e.seq, e.event])).toEqual([[result.seq, { type: "technician.note", text: "replaced receiving card 3", by: "tech" }]]);
    expect(executed()).toEqual([]);
  });

  test("agent.restart asks the lifecycle with who asked", async () => {
    resultOf(await registry.execute("agent.restart", {}, MQTT));
    expect(restarts).toEqual([`restart asked by MQTT command ${MQTT.origin.kind === "mqtt" ? MQTT.origin.commandId : ""}`]);
  });

  test("a ledger that cannot record does not turn a done change into a failure", async () => {
    const failing = build({
      ledger: {
        event: () => {
          throw new Error("disk full");
        },
        head: () => null,
      },
    });
    expect(resultOf(await failing.execute("screen.blackout", { on: true }, LOCAL))).toEqual({ blackout: true });
  });
});

describe("timing", () => {
  test("a command that hangs answers timeout", async () => {
    const hang = defineCommand({ name: "hang", summary: "", args: noArgs, changes: false, run: () => new Promise(() => undefined) });
    const r = new CommandRegistry({}, { commands: [hang], defaultTimeoutMs: 50 });
    expectError(await r.execute("hang", {}, LOCAL), "timeout");
  });

  test("changing commands run one at a time, reads do not wait for them", async () => {
    let release: () => void = () => undefined;
    playout.gate = new Promise((resolve) => (release = resolve));
    const first = registry.execute("suspend", { reason: "event" }, LOCAL);
    const second = registry.execute("takedown", { creative: "cola-15" }, LOCAL);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(playout.calls.map((c) => c.op)).toEqual(["suspend"]);
    resultOf(await registry.execute("controller.status", {}, LOCAL));
    release();
    resultOf(await first);
    resultOf(await second);
    expect(playout.calls.map((c) => c.op)).toEqual(["suspend", "takedown"]);
  });
});
