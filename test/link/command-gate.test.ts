import { generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import type { CommandContext, CommandLedger, CommandOutcome } from "../../agent/commands/types.js";
import { CommandGate, SIGNED_REFUSALS_PER_INTERVAL, type CommandExecutor, type CommandGateDeps, type CommandReply } from "../../agent/link/command-gate.js";
import { MAX_COMMAND_BYTES, newCommand, signCommand, type CommandBody } from "../../agent/link/command-envelope.js";
import { CommandReplayStore, type ClaimResult } from "../../agent/link/replay-store.js";
import { createLogger } from "../../agent/log.js";
import type { EventEntry } from "../../agent/proofs/types.js";
import { openDatabase, type Db } from "../../agent/store/index.js";
import { tempDir } from "../helpers/tmp.js";

const START = Date.parse("2026-12-01T00:00:00Z");
const MIN = 60_000;
const DAY = 24 * 3600_000;
const SCREEN = "sz-nanshan-001";
const ops = generateKeyPairSync("ed25519");
const stranger = generateKeyPairSync("ed25519");

/** Counts executions per id; `hold` keeps every execution in flight until released. */
class FakeRegistry implements CommandExecutor {
  readonly calls: Array<{ name: string; args: unknown; ctx: CommandContext }> = [];
  hold: Promise<void> | null = null;
  running = 0;
  peak = 0;
  result: (name: string) => unknown = (name) => ({ did: name });

  async execute(name: string, args: unknown, ctx: CommandContext): Promise<CommandOutcome> {
    this.calls.push({ name, args, ctx });
    this.running++;
    this.peak = Math.max(this.peak, this.running);
    try {
      if (this.hold) await this.hold;
      return { ok: true, result: this.result(name) };
    } finally {
      this.running--;
    }
  }

  executionsOf(id: string): number {
    return this.calls.filter((c) => c.ctx.origin.kind === "mqtt" && c.ctx.origin.commandId === id).length;
  }
}

class FakeLedger implements CommandLedger {
  readonly events: Array<Record<string, unknown>> = [];
  failing = false;
  event(type: string, detail: Record<string, unknown> = {}): EventEntry {
    if (this.failing) throw new Error("the disk is full");
    this.events.push({ type, ...detail });
    return {} as EventEntry; // the gate never reads what it returns
  }
  head(): null {
    return null;
  }
}

function release(): { hold: Promise<void>; open: () => void } {
  let open!: () => void;
  const hold = new Promise<void>((resolve) => (open = resolve));
  return { hold, open };
}

let tmp: ReturnType<typeof tempDir>;
let dbPath: string;
let dbs: Db[];
let nowMs: number;
let logLines: Array<Record<string, unknown>>;
let registry: FakeRegistry;
let ledger: FakeLedger;
let gate: CommandGate;
const gates: CommandGate[] = [];

function connect(): CommandReplayStore {
  const db = openDatabase(dbPath);
  dbs.push(db);
  return new CommandReplayStore(db);
}

function makeGate(over: Partial<CommandGateDeps> = {}): CommandGate {
  const log = createLogger({
    level: "warn",
    pretty: false,
    destination: new Writable({
      write(chunk: Buffer, _enc, done) {
        logLines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    }),
  });
  const made = new CommandGate({ registry, replay: connect(), opsPublicKey: ops.publicKey, screenId: SCREEN, now: () => nowMs, log, ledger, ...over });
  gates.push(made);
  return made;
}

function command(over: Partial<CommandBody> = {}): CommandBody {
  return { ...newCommand({ screen: SCREEN, name: "brightness.set", args: { percent: 60 }, now: nowMs, id: "cmd-1" }), ...over };
}

function envelope(over: Partial<CommandBody> = {}, key = ops.privateKey): Buffer {
  return Buffer.from(JSON.stringify(signCommand(command(over), key)));
}

function expectRefused(reply: CommandReply, code: string, mentions?: string): Extract<CommandReply, { ok: false }> {
  expect(reply.ok, JSON.stringify(reply)).toBe(false);
  if (reply.ok) throw new Error("not refused");
  expect(reply.error.code).toBe(code);
  if (mentions) expect(reply.error.message).toContain(mentions);
  return reply;
}

const at = (ms: number) => new Date(ms).toISOString();

beforeEach(() => {
  tmp = tempDir();
  dbPath = join(tmp.dir, "ledagent.db");
  dbs = [];
  nowMs = START;
  logLines = [];
  registry = new FakeRegistry();
  ledger = new FakeLedger();
  gate = makeGate();
});

afterEach(async () => {
  for (const g of gates.splice(0)) await g.stop();
  for (const db of dbs) db.close();
  tmp.cleanup();
});

describe("refusals, each with its code, none executed", () => {
  const tampered = (): Buffer => {
    const env = signCommand(command(), ops.privateKey);
    env.command.args = { percent: 100 };
    return Buffer.from(JSON.stringify(env));
  };
  test.each<[string, () => Buffer, string]>([
    ["malformed JSON", () => Buffer.from("{ not json"), "malformed"],
    ["the wrong shape", () => Buffer.from(JSON.stringify({ command: { id: "cmd-1" }, sig: "x" })), "malformed"],
    ["over 64 KiB", () => envelope({ args: { pad: "x".repeat(MAX_COMMAND_BYTES) } }), "too-large"],
    ["unsigned", () => Buffer.from(JSON.stringify({ command: command() })), "bad-signature"],
    ["signed by another key", () => envelope({}, stranger.privateKey), "bad-signature"],
    ["args tampered with after signing", tampered, "bad-signature"],
    ["for another screen", () => envelope({ screen: "bj-chaoyang-007" }), "wrong-screen"],
    ["expired", () => envelope({ issuedAt: at(START - 10 * MIN), expiresAt: at(START - 1) }), "expired"],
    ["issued over 5 min ahead", () => envelope({ issuedAt: at(START + 6 * MIN), expiresAt: at(START + 20 * MIN) }), "not-yet-valid"],
    ["valid for over 7 days", () => envelope({ issuedAt: at(START), expiresAt: at(START + 8 * DAY) }), "malformed"],
  ])("%s", async (_what, payload, code) => {
    expectRefused(await gate.handle(payload()), code);
    expect(registry.calls).toHaveLength(0);
  });

  test("issued up to 5 min ahead (clock skew) is run", async () => {
    const reply = await gate.handle(envelope({ issuedAt: at(START + 4 * MIN), expiresAt: at(START + 9 * MIN) }));
    expect(reply).toEqual({ id: "cmd-1", ok: true, result: { did: "brightness.set" } });
    expect(registry.calls).toEqual([{ name: "brightness.set", args: { percent: 60 }, ctx: { origin: { kind: "mqtt", commandId: "cmd-1" } } }]);
  });

  test("a refusal echoes the id it could read, and logs a warning naming code, id and reason", async () => {
    const reply = expectRefused(await gate.handle(envelope({}, stranger.privateKey)), "bad-signature");
    expect(reply.id).toBe("cmd-1");
    expect(logLines).toHaveLength(1);
    expect(logLines[0]).toMatchObject({ level: 40, code: "bad-signature", id: "cmd-1" });
    expect(logLines[0].msg).toContain(reply.error.message);
  });

  test("with no ops key configured nothing runs", async () => {
    const keyless = makeGate({ opsPublicKey: null });
    expectRefused(await keyless.handle(envelope()), "bad-signature", "opsPublicKey");
    expect(registry.calls).toHaveLength(0);
  });
});

describe("executed at most once", () => {
  test("a second delivery is replayed, with the first outcome and when it was first received", async () => {
    const payload = envelope();
    const first = await gate.handle(payload);
    expect(first).toEqual({ id: "cmd-1", ok: true, result: { did: "brightness.set" } });
    nowMs += MIN;
    const second = expectRefused(await gate.handle(payload), "replayed", at(START));
    expect(second.original).toEqual({ ok: true, result: { did: "brightness.set" } });
    expect(registry.executionsOf("cmd-1")).toBe(1);
  });

  test("across a restart: another gate on the same database never runs it again", async () => {
    const payload = envelope();
    await gate.handle(payload);
    await gate.stop();
    const restartedRegistry = new FakeRegistry();
    const restarted = makeGate({ registry: restartedRegistry });
    const reply = expectRefused(await restarted.handle(payload), "replayed");
    expect(reply.original).toEqual({ ok: true, result: { did: "brightness.set" } });
    expect(restartedRegistry.calls).toHaveLength(0);
  });

  test("concurrent duplicate deliveries run it once; the duplicates wait for its outcome", async () => {
    const gateOpen = release();
    registry.hold = gateOpen.hold;
    const payload = envelope();
    const replies = Promise.all([gate.handle(payload), gate.handle(payload), gate.handle(payload)]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(registry.calls).toHaveLength(1);
    gateOpen.open();
    const [first, ...dupes] = await replies;
    expect(first).toEqual({ id: "cmd-1", ok: true, result: { did: "brightness.set" } });
    for (const dupe of dupes) expect(expectRefused(dupe, "replayed").original).toEqual({ ok: true, result: { did: "brightness.set" } });
    expect(registry.executionsOf("cmd-1")).toBe(1);
  });

  test("claimed but never finished (the agent died while it ran): never run again, outcome unknown", async () => {
    const never = release(); // stands for a process killed mid-command: its outcome is never written
    registry.hold = never.hold;
    const payload = envelope({ name: "suspend", args: { reason: "maintenance" } });
    const dying = gate.handle(payload);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(registry.calls).toHaveLength(1);

    const restartedRegistry = new FakeRegistry();
    const restarted = makeGate({ registry: restartedRegistry });
    const reply = expectRefused(await restarted.handle(payload), "replayed", "outcome unknown: the agent stopped while it ran");
    expect(reply.original).toBeNull();
    expect(restartedRegistry.calls).toHaveLength(0);
    never.open();
    await dying;
  });

  test("another command under a used id is replayed, and learns nothing of the first", async () => {
    await gate.handle(envelope());
    const reply = expectRefused(await gate.handle(envelope({ args: { percent: 5 } })), "replayed", "for a different command");
    expect("original" in reply).toBe(false);
    expect(registry.calls).toHaveLength(1);
  });

  test("a redelivery after expiry still gets the original (an agent offline past the validity)", async () => {
    const payload = envelope();
    await gate.handle(payload);
    nowMs += 30 * MIN;
    expect(expectRefused(await gate.handle(payload), "replayed").original).toEqual({ ok: true, result: { did: "brightness.set" } });
    // Another command under that id, expired: just expired, nothing of the first.
    const other = expectRefused(await gate.handle(envelope({ issuedAt: at(START), expiresAt: at(START + MIN), args: { percent: 1 } })), "expired");
    expect("original" in other).toBe(false);
    expect(registry.calls).toHaveLength(1);
  });

  test("ids are kept at least 7 days: pruning an hour short of that forgets nothing", async () => {
    const payload = envelope();
    await gate.handle(payload);
    nowMs = START + 7 * DAY - 60 * MIN;
    expect(gate.prune()).toBe(0);
    expectRefused(await gate.handle(payload), "replayed");
    nowMs = START + 5 * MIN + 7 * DAY + 1;
    expect(gate.prune()).toBe(1);
    expectRefused(await gate.handle(payload), "expired"); // forgotten only once it could never be accepted again
    expect(registry.calls).toHaveLength(1);
  });

  test("a large result is answered whole the first time and kept as { omitted } for replays", async () => {
    registry.result = () => ({ jpeg: "/9j/".repeat(90_000) });
    const payload = envelope({ name: "screenshot", args: {} });
    const first = await gate.handle(payload);
    expect(first.ok && (first.result as { jpeg: string }).jpeg.length).toBe(360_000);
    const again = expectRefused(await gate.handle(payload), "replayed");
    expect(again.original?.ok && (again.original.result as { omitted: string }).omitted).toMatch(/not kept/);
  });

  test("an id that cannot be recorded is not run (nothing would stop a second run)", async () => {
    class BrokenStore extends CommandReplayStore {
      override claim(): ClaimResult {
        throw new Error("disk I/O error");
      }
    }
    const db = openDatabase(dbPath);
    dbs.push(db);
    const broken = makeGate({ replay: new BrokenStore(db) });
    expectRefused(await broken.handle(envelope()), "failed", "could not be recorded");
    expect(registry.calls).toHaveLength(0);
  });
});

describe("at most 8 at once, the rest in arrival order", () => {
  test("commands beyond the limit wait their turn and all run", async () => {
    const gateOpen = release();
    registry.hold = gateOpen.hold;
    const limited = makeGate({ maxRunning: 2 });
    const ids = ["c1", "c2", "c3", "c4", "c5"];
    const replies = Promise.all(ids.map((id) => limited.handle(envelope({ id }))));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(registry.calls.map((c) => (c.ctx.origin.kind === "mqtt" ? c.ctx.origin.commandId : ""))).toEqual(["c1", "c2"]);
    gateOpen.open();
    const done = await replies;
    expect(done.map((r) => r.ok)).toEqual([true, true, true, true, true]);
    expect(registry.calls.map((c) => (c.ctx.origin.kind === "mqtt" ? c.ctx.origin.commandId : ""))).toEqual(ids);
    expect(registry.peak).toBe(2);
  });
});

describe("the ledger", () => {
  test("a signed refusal is recorded command by command", async () => {
    await gate.handle(envelope({ screen: "bj-chaoyang-007" }));
    await gate.handle(envelope({ id: "cmd-2", issuedAt: at(START - 10 * MIN), expiresAt: at(START - MIN) }));
    expect(ledger.events).toEqual([
      expect.objectContaining({ type: "command.executed", name: "brightness.set", origin: "mqtt", commandId: "cmd-1", ok: false, error: "wrong-screen" }),
      expect.objectContaining({ type: "command.executed", name: "brightness.set", origin: "mqtt", commandId: "cmd-2", ok: false, error: "expired" }),
    ]);
    expect(ledger.events[0].message).toContain("bj-chaoyang-007");
  });

  test("a replay is recorded; the execution itself is left to the registry", async () => {
    const payload = envelope();
    await gate.handle(payload);
    expect(ledger.events).toHaveLength(0);
    await gate.handle(payload);
    expect(ledger.events).toEqual([expect.objectContaining({ name: "brightness.set", commandId: "cmd-1", ok: false, error: "replayed" })]);
  });

  test("a flood of forgeries is summarised: the first at once, the rest at most once a minute", async () => {
    for (let i = 0; i < 20; i++) await gate.handle(envelope({ id: `f${i}` }, stranger.privateKey));
    await gate.handle(Buffer.from("garbage"));
    expect(ledger.events).toEqual([{ type: "command.executed", origin: "mqtt", ok: false, error: "bad-signature", refusedSinceLast: 1, byCode: { "bad-signature": 1 } }]);
    nowMs += MIN;
    await gate.handle(envelope({ id: "f20" }, stranger.privateKey));
    expect(ledger.events).toHaveLength(2);
    expect(ledger.events[1]).toEqual({ type: "command.executed", origin: "mqtt", ok: false, error: "bad-signature", refusedSinceLast: 21, byCode: { "bad-signature": 20, malformed: 1 } });
  });

  test("the minute's count is written when the minute ends, even if the flood stopped", async () => {
    const quick = makeGate({ summaryIntervalMs: 30 });
    await quick.handle(Buffer.from("{"));
    await quick.handle(Buffer.from("{"));
    await quick.handle(Buffer.alloc(MAX_COMMAND_BYTES + 1));
    expect(ledger.events).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(ledger.events[1]).toMatchObject({ refusedSinceLast: 2, error: "too-large", byCode: { malformed: 1, "too-large": 1 } });
  });

  test("a captured envelope replayed over and over: ten replays a minute one by one, the rest summarised", async () => {
    const payload = envelope();
    await gate.handle(payload);
    for (let i = 0; i < 15; i++) expectRefused(await gate.handle(payload), "replayed");
    expect(registry.calls).toHaveLength(1);
    expect(ledger.events.filter((e) => e.commandId === "cmd-1")).toHaveLength(SIGNED_REFUSALS_PER_INTERVAL);
    expect(ledger.events[SIGNED_REFUSALS_PER_INTERVAL]).toMatchObject({ error: "replayed", refusedSinceLast: 1 });
    await gate.stop();
    expect(ledger.events).toHaveLength(SIGNED_REFUSALS_PER_INTERVAL + 2);
    expect(ledger.events[SIGNED_REFUSALS_PER_INTERVAL + 1]).toMatchObject({ error: "replayed", refusedSinceLast: 4, byCode: { replayed: 4 } });
    nowMs += MIN;
    await gate.handle(payload);
    expect(ledger.events.at(-1)).toMatchObject({ commandId: "cmd-1", error: "replayed", name: "brightness.set" });
  });

  test("a ledger that throws is logged and never fails the reply", async () => {
    ledger.failing = true;
    expectRefused(await gate.handle(envelope({ screen: "elsewhere" })), "wrong-screen");
    expectRefused(await gate.handle(Buffer.from("{")), "malformed");
    expect(logLines.filter((l) => l.level === 50)).toHaveLength(2);
    expect((await gate.handle(envelope())).ok).toBe(true);
  });
});
