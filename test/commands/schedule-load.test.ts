// `schedule.load` through the registry and the control socket, with a stand-in loader: what it is
// handed, what the CLI gets back, what the ledger records, and that the largest file the CLI may
// send fits in one request line however its bytes escape.
import { createHash } from "node:crypto";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { callDaemon, CommandRegistry, ControlSocketServer, MAX_LINE_BYTES, type ApplyResult, type CommandContext, type ScheduleLoader } from "../../agent/commands/index.js";
import { MAX_ENVELOPE_BYTES, ScheduleApplyError } from "../../agent/playback/schedule/index.js";
import { makeLedger, type TestLedger } from "../proofs/fixtures.js";
import { tempDir } from "../helpers/tmp.js";
import { NOW } from "./fakes.js";

const LOCAL: CommandContext = { origin: { kind: "local", user: "tech" } };

class FakeLoader implements ScheduleLoader {
  readonly loads: Array<{ text: string; source: string }> = [];
  result: ApplyResult = { state: "applied", version: 8, previousVersion: 7 };
  failWith: Error | null = null;

  async load(text: string, source: string): Promise<ApplyResult> {
    this.loads.push({ text, source });
    if (this.failWith) throw this.failWith;
    return this.result;
  }
}

let tmp: ReturnType<typeof tempDir>;
let t: TestLedger;
let loader: FakeLoader;
let registry: CommandRegistry;

beforeEach(() => {
  tmp = tempDir("ledagent-schedule-load-");
  t = makeLedger(tmp.dir);
  loader = new FakeLoader();
  registry = new CommandRegistry({ ledger: t.ledger, schedule: loader, now: () => NOW });
});
afterEach(() => {
  t.db.close();
  tmp.cleanup();
});

const executed = () => [...t.ledger.events({ type: "command.executed" })].map((e) => e.event);

describe("schedule.load in the registry", () => {
  test("hands the file's text and its source to the loader and answers with the apply's result", async () => {
    const envelope = '{"schedule":{"version":8},"sig":"…"}';
    expect(await registry.execute("schedule.load", { envelope, source: "file:/media/usb/s.json" }, LOCAL)).toEqual({ ok: true, result: { state: "applied", version: 8, previousVersion: 7 } });
    expect(loader.loads).toEqual([{ text: envelope, source: "file:/media/usb/s.json" }]);
  });

  test("a rejected schedule is a result (the schedule was judged), not a refusal", async () => {
    loader.result = { state: "rejected", version: 9, reasons: ["bad signature: not signed by the ops key"], moreReasons: 0 };
    expect(await registry.execute("schedule.load", { envelope: "{}", source: "usb" }, LOCAL)).toEqual({ ok: true, result: loader.result });
  });

  test("command.executed names the envelope by size and hash, never its text", async () => {
    const envelope = `{"pad":"${"x".repeat(200_000)}"}`;
    await registry.execute("schedule.load", { envelope, source: "file:big.json" }, LOCAL);
    expect(executed()).toEqual([
      {
        type: "command.executed",
        name: "schedule.load",
        origin: "local",
        user: "tech",
        args: { source: "file:big.json", envelopeBytes: Buffer.byteLength(envelope), envelopeSha256: createHash("sha256").update(envelope).digest("hex") },
        ok: true,
      },
    ]);
  });

  test("a ledger or store failure during the apply is failed, with its reason", async () => {
    loader.failWith = new ScheduleApplyError("schedule v8 not applied: the ledger could not record it (the disk is full); the schedule in force is unchanged");
    expect(await registry.execute("schedule.load", { envelope: "{}", source: "usb" }, LOCAL)).toEqual({
      ok: false,
      error: { code: "failed", message: "schedule.load failed: schedule v8 not applied: the ledger could not record it (the disk is full); the schedule in force is unchanged" },
    });
    expect(executed()[0]).toMatchObject({ name: "schedule.load", ok: false, error: "failed" });
  });
});

describe("schedule.load over the control socket", () => {
  let server: ControlSocketServer;
  beforeEach(async () => {
    server = new ControlSocketServer({ registry, runDir: join(tmp.dir, "run") });
    await server.start();
  });
  afterEach(() => server.stop());

  test("the largest text the CLI may send arrives whole even when every byte escapes six-fold", async () => {
    // One byte over the limit (the CLI reads that many, so the schedule's own check can reject
    // and record it), every one a control character: JSON carries each as \u0001.
    const envelope = "\u0001".repeat(MAX_ENVELOPE_BYTES + 1);
    const source = `file:/media/usb/${"\u0002".repeat(4000)}`;
    expect(JSON.stringify({ id: "x", name: "schedule.load", args: { envelope, source }, user: "tech" }).length).toBeLessThanOrEqual(MAX_LINE_BYTES);
    const call = await callDaemon(join(tmp.dir, "run"), "schedule.load", { envelope, source }, { timeoutMs: 60_000 });
    expect(call).toEqual({ daemon: "answered", outcome: { ok: true, result: { state: "applied", version: 8, previousVersion: 7 } } });
    expect(loader.loads).toHaveLength(1);
    expect(loader.loads[0].text === envelope).toBe(true);
    expect(loader.loads[0].source).toBe(source);
  });
});
