// Signed commands end to end (spec/mqtt-api.md "Commands"): through a real mosquitto to
// `ledagent run`, which drives the project's NovaStar simulator over TCP and plays a schedule
// fetched over HTTP. Every command of the spec runs once with its effect checked where it lands
// (the simulator's registers, the playout, the ledger); every refusal carries its exact code and
// changes nothing; a command waits in the persistent session while the agent is down, and a
// redelivery after a kill -9 mid-command is never run again.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentStatus } from "../../agent/commands/index.js";
import { percentToRegister, REG } from "../../agent/drivers/novastar/registers.js";
import { newCommand, signCommand, type CommandBody, type CommandEnvelope } from "../../agent/link/command-envelope.js";
import type { CommandReply } from "../../agent/link/link.js";
import type { EventType } from "../../agent/proofs/types.js";
import { OpsClientError } from "../../agent/link/ops-client.js";
import { AckResponder, BrokerWatch, LinkRig, parseJson, sleep } from "./link-rig.js";

const SCREEN = "sz-link-cmd-001";
let rig: LinkRig;
let watch: BrokerWatch;
let collector: AckResponder;
/** Commands that change something, by id: each must leave exactly one successful command.executed. */
const changed = new Map<string, string>();
/** The ids of the orders whose playout events the ledger must hold, by order. */
const orders: Record<string, string> = {};

const brightnessRegister = (): number => rig.sim!.device.peek(0, 0, 0, REG.brightness)[0]!;
const killRegister = (): number => rig.sim!.device.peek(0, 0, 0, REG.kill)[0]!;

function signed(name: string, args: Record<string, unknown> = {}, tweak: Partial<CommandBody> = {}): CommandEnvelope {
  return signCommand({ ...newCommand({ screen: SCREEN, name, args }), ...tweak }, rig.opsKey);
}

/** Through the ops client of this process: MQTT 5, a response topic of its own, correlation data. */
async function send(envelope: CommandEnvelope, timeoutMs = 20_000): Promise<CommandReply> {
  return (await rig.ops()).command(envelope, { timeoutMs });
}

/** Runs one command that must succeed; `changes` false for those that only read. */
async function run(name: string, args: Record<string, unknown> = {}, changes = true): Promise<{ id: string; result: unknown }> {
  const envelope = signed(name, args);
  const reply = await send(envelope);
  expect(reply, JSON.stringify(reply)).toMatchObject({ id: envelope.command.id, ok: true });
  if (changes) changed.set(envelope.command.id, name);
  return { id: envelope.command.id, result: (reply as { result: unknown }).result };
}

/** Any payload to the screen's cmd topic, answered at a response topic of the screen's: the reply. */
async function sendRaw(payload: string | Buffer, correlation = `raw-${Math.random()}`): Promise<CommandReply> {
  const since = watch.mark();
  const corr = Buffer.from(correlation);
  await watch.publish(rig.topic("cmd"), payload, { qos: 1, properties: { responseTopic: rig.topic("cmd/result/raw"), correlationData: corr } });
  return watch.next<CommandReply>("cmd/result/raw", (_r, m) => m.correlationData?.equals(corr) === true, { since, what: "the reply" });
}

async function status(): Promise<AgentStatus> {
  return rig.until("the agent's status", () => rig.status());
}

async function executedFor(id: string): Promise<Array<Record<string, unknown>>> {
  return (await rig.ledger()).events("command.executed").filter((e) => e.commandId === id);
}

beforeAll(async () => {
  rig = await LinkRig.create({ screen: SCREEN, controller: true });
  const house = rig.creatives.clip(rig.dir, "house", "smptebars");
  const ad1 = rig.creatives.clip(rig.dir, "ad1", "testsrc");
  const promo = rig.creatives.clip(rig.dir, "promo", "rgbtestsrc", 3);
  [watch, collector] = await Promise.all([BrokerWatch.open(rig.broker.url, SCREEN, ["ops/elsewhere/#", "led/v1/sz-elsewhere-9/#"]), AckResponder.open(rig.broker.url, SCREEN)]);
  await rig.startAgent();
  const file = join(rig.dir, "v1.json");
  // promo belongs to a campaign that starts tomorrow: prepared now, yet on screen only by play.now.
  const doc = rig.schedule(1, house, [ad1], [promo]);
  const tomorrow = Date.now() + 86_400_000;
  doc.campaigns.push({ id: "later", customer: "acme", creatives: ["promo"], start: new Date(tomorrow).toISOString(), end: new Date(tomorrow + 3_600_000).toISOString(), playsPerHour: 4 });
  writeFileSync(file, rig.sign(doc));
  const pushed = await rig.cli(["ops", "push-schedule", file, "--url", rig.broker.url, "--timeout", "40"], { timeoutMs: 45_000 });
  expect(pushed.code, pushed.stderr).toBe(0);
  await rig.until("v1 playing", async () => ((await rig.status())?.playout?.nowPlaying ? true : null));
}, 90_000);

afterAll(async () => {
  await Promise.allSettled([watch?.close(), collector?.close()]);
  await rig?.close();
});

describe("every command of the spec, once, through the broker and the daemon", () => {
  it("status: the telemetry object, answered on the MQTT 5 response topic with the correlation data", async () => {
    const since = watch.mark();
    const r = await rig.opsCmd("status", [], ["--id", "st-1"]);
    expect(r.code, r.stderr).toBe(0);
    const reply = JSON.parse(r.stdout) as CommandReply & { ok: true; result: AgentStatus };
    expect(reply).toMatchObject({ id: "st-1", ok: true });
    // What the spec's telemetry names: now playing, schedule version, controller state, ledger
    // head, unsynced count, disk free, clock synced, uptime, RSS.
    expect(reply.result).toMatchObject({
      playout: { scheduleVersion: 1, nowPlaying: { creative: expect.any(String) } },
      controller: { online: true, brightness: expect.any(Number), blackout: false, temperatureC: 38.5 },
      ledger: { headSeq: expect.any(Number) },
      sync: { unsynced: expect.any(Number) },
      host: { diskFreeBytes: expect.any(Number), clockSynced: expect.any(Boolean), linkConnected: true },
      process: { uptimeS: expect.any(Number), rssBytes: expect.any(Number) },
    });
    expect(reply.result.ledger?.headSeq).toBeGreaterThan(0);
    // The same object goes out as telemetry (at least once, when the link came up).
    expect(JSON.parse(watch.on("telemetry")[0]?.text ?? "{}")).toMatchObject({ playout: expect.any(Object), controller: { online: true }, sync: expect.any(Object) });
    const answered = watch.seen.slice(since).filter((m) => m.leaf.startsWith("cmd/result") && m.text.includes('"st-1"'));
    expect(answered).toHaveLength(1);
    expect(answered[0]!.leaf).toMatch(/^cmd\/result\/.+/);
    expect(answered[0]!.correlationData?.toString()).toBe("st-1");
  });

  it("brightness.set, screen.blackout and controller.status reach the controller", async () => {
    const r = await rig.opsCmd("brightness.set", ["percent=40"], ["--id", "br-40"]);
    expect(r.code, r.stderr).toBe(0);
    changed.set("br-40", "brightness.set");
    expect(brightnessRegister()).toBe(percentToRegister(40));
    await run("screen.blackout", { on: true });
    expect(killRegister()).toBe(0xff);
    const { result } = await run("controller.status", {}, false);
    expect(result).toMatchObject({ driver: "novastar", identity: { model: expect.stringMatching(/MCTRL/) }, status: { online: true, brightness: 40, blackout: true } });
    await run("screen.blackout", { on: false });
    expect(killRegister()).toBe(0x00);
  });

  it("suspend and resume: the playout shows the suspension, then none", async () => {
    orders.suspended = (await run("suspend", { reason: "façade cleaning" })).id;
    expect((await status()).playout?.suspension).toMatchObject({ reason: "façade cleaning", campaigns: null });
    orders.resumed = (await run("resume")).id;
    expect((await status()).playout?.suspension).toBeNull();
  });

  it("play.now interrupts with the creative; takedown takes the campaign off air", async () => {
    const { result } = await run("play.now", { creative: "promo" });
    expect(result).toEqual({ queued: 1 });
    await rig.until("promo on screen", async () => ((await rig.status())?.playout?.nowPlaying?.creative === "promo" ? true : null), 10_000);
    orders.takedown = (await run("takedown", { campaign: "camp1" })).id;
    expect((await status()).playout?.takedowns).toEqual([expect.objectContaining({ campaign: "camp1" })]);
  });

  it("screenshot: a JPEG of what plays, base64, at most 256 KiB", async () => {
    const { result } = await run("screenshot", {}, false);
    const shot = result as { mime: string; bytes: number; base64: string };
    const jpeg = Buffer.from(shot.base64, "base64");
    expect(shot.mime).toBe("image/jpeg");
    expect(jpeg.length).toBe(shot.bytes);
    expect(jpeg.length).toBeLessThanOrEqual(256 * 1024);
    expect([...jpeg.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    expect([...jpeg.subarray(-2)]).toEqual([0xff, 0xd9]);
  });

  it("proofs.sync: no answer while no collector acks; through the head once one does", async () => {
    const waiting = send(signed("proofs.sync"), 2500);
    await expect(waiting).rejects.toThrow(OpsClientError);
    await expect(waiting).rejects.toMatchObject({ code: "timeout" });
    expect(watch.on("proofs").length).toBeGreaterThan(0);
    collector.switchOn();
    const head = (await status()).ledger?.headSeq ?? 0;
    const reply = await send(signed("proofs.sync"));
    expect(reply).toMatchObject({ ok: true, result: { through: expect.any(Number) } });
    expect((reply as { result: { through: number } }).result.through).toBeGreaterThanOrEqual(head);
    expect((await status()).sync?.ackedThrough).toBeGreaterThanOrEqual(head);
  }, 40_000);

  it("agent.restart: the agent exits 75 after answering, and comes back", async () => {
    const agent = rig.agent!;
    await run("agent.restart");
    expect((await agent.exited).code).toBe(75);
    await rig.startAgent();
  }, 40_000);

  it("the ledger: one command.executed from mqtt per changing command (none for the others), and the playout's own events", async () => {
    const ledger = await rig.ledger();
    const all = ledger.events("command.executed");
    for (const [id, name] of changed) expect(all.filter((e) => e.commandId === id), `${name} ${id}`).toEqual([expect.objectContaining({ name, origin: "mqtt", commandId: id, ok: true })]);
    const executed = all.filter((e) => e.origin === "mqtt" && e.ok === true);
    expect(executed.map((e) => e.name).sort()).toEqual([...changed.values()].sort());
    for (const [type, id] of Object.entries(orders)) {
      expect(ledger.events(type as EventType), type).toEqual([expect.objectContaining({ by: expect.stringContaining(id) })]);
    }
    expect(ledger.events("suspended")[0]).toMatchObject({ reason: "façade cleaning" });
    const restart = executed.find((e) => e.name === "agent.restart")!;
    const after = ledger.entries.flatMap((e) => (e.kind === "event" && e.seq > restart.seq ? [e.event.type] : []));
    const stopped = after.indexOf("agent.stopped");
    expect(stopped).toBeGreaterThanOrEqual(0);
    expect(after.indexOf("agent.started", stopped)).toBeGreaterThan(stopped);
  }, 30_000);
});

describe("where results go", () => {
  it("a 3.1.1 sender (no properties) gets its result on cmd/result, matched by id", async () => {
    const client = await mqtt.connectAsync(rig.broker.url, { protocolVersion: 4, clean: true, reconnectPeriod: 0 });
    try {
      const envelope = signed("brightness.set", { percent: 55 });
      const got = new Promise<CommandReply>((resolve) =>
        client.on("message", (_t, payload) => {
          const reply = JSON.parse(payload.toString()) as CommandReply;
          if (reply.id === envelope.command.id) resolve(reply);
        }),
      );
      await client.subscribeAsync(rig.topic("cmd/result"), { qos: 1 });
      await client.publishAsync(rig.topic("cmd"), JSON.stringify(envelope), { qos: 1 });
      expect(await got).toMatchObject({ id: envelope.command.id, ok: true, result: { percent: 55 } });
      expect(brightnessRegister()).toBe(percentToRegister(55));
    } finally {
      await client.endAsync(true);
    }
  });

  // The response topic is not signed: only cmd/result or a topic under it is honoured, so that
  // nobody can make the screen publish elsewhere (another screen, or its own proofs and schedule).
  it.each(["ops/elsewhere/inbox", `led/v1/sz-elsewhere-9/cmd/result`, `led/v1/${SCREEN}/proofs`, `led/v1/${SCREEN}/schedule`, `led/v1/${SCREEN}/cmd/result/+`])(
    "a response topic %s is not honoured: the result goes to cmd/result",
    async (responseTopic) => {
      const since = watch.mark();
      const envelope = signed("status");
      await watch.publish(rig.topic("cmd"), JSON.stringify(envelope), { qos: 1, properties: { responseTopic, correlationData: Buffer.from("c-1") } });
      const reply = await watch.next<CommandReply>("cmd/result", (r) => r.id === envelope.command.id, { since });
      expect(reply.ok).toBe(true);
      await sleep(200);
      const elsewhere = watch.seen.slice(since).filter((m) => m.leaf !== "cmd" && m.leaf !== "cmd/result" && m.text.includes(envelope.command.id));
      expect(elsewhere).toEqual([]);
    },
  );
});

describe("refusals: the exact code, and nothing run", () => {
  const SENTINEL = 0x11;
  let replayedId = "";
  const refused: Array<{ id: string; code: string; recorded: boolean }> = [];

  beforeAll(() => rig.sim!.device.poke(0, 0, 0, REG.brightness, [SENTINEL]));

  it("replayed: the same saved envelope sent twice runs once; the second gets the original outcome", async () => {
    const file = join(rig.dir, "saved.json");
    const first = await rig.opsCmd("brightness.set", ["percent=61"], ["--save", file]);
    expect(first.code, first.stderr).toBe(0);
    replayedId = (JSON.parse(first.stdout) as CommandReply).id!;
    expect(brightnessRegister()).toBe(percentToRegister(61));
    rig.sim!.device.poke(0, 0, 0, REG.brightness, [SENTINEL]);
    const again = await rig.cli(["ops", "cmd", "brightness.set", "--envelope", file, "--url", rig.broker.url]);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout)).toMatchObject({ id: replayedId, ok: false, error: { code: "replayed" }, original: { ok: true, result: { percent: 61 } } });
    expect(brightnessRegister()).toBe(SENTINEL);
  });

  const tamper = (): string => {
    const e = signed("brightness.set", { percent: 7 });
    return JSON.stringify({ ...e, command: { ...e.command, args: { percent: 8 } } });
  };
  const later = (ms: number) => new Date(Date.now() + ms).toISOString();
  // `recorded`: a refusal of what the ops key signed is a command.executed entry of its own (ok
  // false, with the code); one nobody trustworthy signed only joins a per-minute count.
  const cases: Array<{ name: string; payload: () => string; code: string; idBack: boolean; recorded: boolean }> = [
    { name: "forged (another key)", payload: () => JSON.stringify(signCommand(newCommand({ screen: SCREEN, name: "brightness.set", args: { percent: 5 } }), rig.otherKey)), code: "bad-signature", idBack: true, recorded: false },
    { name: "args changed after signing", payload: tamper, code: "bad-signature", idBack: true, recorded: false },
    { name: "expired", payload: () => JSON.stringify(signed("brightness.set", { percent: 9 }, { issuedAt: later(-600_000), expiresAt: later(-300_000) })), code: "expired", idBack: true, recorded: true },
    { name: "issued 10 min ahead", payload: () => JSON.stringify(signed("brightness.set", { percent: 9 }, { issuedAt: later(600_000), expiresAt: later(900_000) })), code: "not-yet-valid", idBack: true, recorded: true },
    { name: "for another screen", payload: () => JSON.stringify(signed("brightness.set", { percent: 9 }, { screen: "sz-elsewhere-9" })), code: "wrong-screen", idBack: true, recorded: true },
    { name: "an unknown name", payload: () => JSON.stringify(signed("screen.explode", { percent: 9 })), code: "unknown-command", idBack: true, recorded: false },
    { name: "a technician's command", payload: () => JSON.stringify(signed("controller.pattern", { name: "red" })), code: "local-only", idBack: true, recorded: true },
    { name: "bad args", payload: () => JSON.stringify(signed("brightness.set", { percent: 150 })), code: "bad-args", idBack: true, recorded: true },
    { name: "unsigned", payload: () => JSON.stringify({ command: newCommand({ screen: SCREEN, name: "brightness.set", args: { percent: 9 } }) }), code: "bad-signature", idBack: true, recorded: false },
    { name: "not JSON", payload: () => "{ command: brightness.set", code: "malformed", idBack: false, recorded: false },
    { name: "over 64 KiB", payload: () => JSON.stringify(signed("brightness.set", { percent: 9, pad: "x".repeat(70_000) })), code: "too-large", idBack: false, recorded: false },
  ];

  it.each(cases)("$name: $code", async ({ payload, code, idBack, recorded }) => {
    const text = payload();
    const id = (parseJson(text) as { command?: { id?: string } } | null)?.command?.id ?? null;
    const reply = await sendRaw(text);
    expect(reply).toMatchObject({ ok: false, error: { code } });
    expect(reply.id).toBe(idBack ? id : null);
    if (id) refused.push({ id, code, recorded });
    expect(brightnessRegister()).toBe(SENTINEL);
    expect(rig.sim!.device.peek(0, 0, 0, REG.pattern)).toEqual([0]);
  });

  it("the ledger: one run for the replayed id, no refused id ever ran, each signed refusal recorded with its code", async () => {
    const all = (await rig.ledger()).events("command.executed");
    const ran = all.filter((e) => e.ok === true);
    expect(ran.filter((e) => e.commandId === replayedId)).toHaveLength(1);
    expect(all.filter((e) => e.commandId === replayedId && e.ok === false)).toEqual([expect.objectContaining({ error: "replayed" })]);
    for (const { id, code, recorded } of refused) {
      expect(ran.filter((e) => e.commandId === id)).toEqual([]);
      if (recorded) expect(all.filter((e) => e.commandId === id), code).toEqual([expect.objectContaining({ origin: "mqtt", ok: false, error: code })]);
    }
    // The first unsigned refusal is recorded at once as a count; the rest join the next one.
    expect(all.some((e) => e.commandId === undefined && e.ok === false && typeof e.refusedSinceLast === "number")).toBe(true);
  });
});

describe("while the agent is away", () => {
  it("a command published while the agent is stopped runs once when it comes back (persistent session); one that expired meanwhile does not", async () => {
    expect(await rig.stopAgent()).toBe(0);
    const since = watch.mark();
    const envelope = signed("brightness.set", { percent: 33 });
    const answered = send(envelope, 40_000);
    const shortLived = rig.opsCmd("brightness.set", ["percent=12"], ["--valid-for", "1", "--id", "short-1", "--timeout", "40"]);
    await watch.next<{ command?: { id?: string } }>("cmd", (c) => c.command?.id === "short-1", { since, what: "the short-lived command on the broker" });
    await sleep(1200);
    expect(brightnessRegister()).not.toBe(percentToRegister(33));
    await rig.startAgent();
    expect(await answered).toMatchObject({ ok: true, result: { percent: 33 } });
    const short = await shortLived;
    expect(short.code).toBe(1);
    expect(JSON.parse(short.stdout)).toMatchObject({ id: "short-1", ok: false, error: { code: "expired" } });
    expect(brightnessRegister()).toBe(percentToRegister(33));
    const ledger = (await rig.ledger()).events("command.executed");
    expect(ledger.filter((e) => e.commandId === envelope.command.id && e.ok === true)).toHaveLength(1);
    expect(ledger.filter((e) => e.commandId === "short-1")).toEqual([expect.objectContaining({ ok: false, error: "expired" })]);
  }, 60_000);

  it("a redelivery after a kill -9 in the middle of a command is never run again", async () => {
    const sim = rig.sim!;
    // The controller takes the write but never answers: the command hangs inside the agent.
    sim.inject({ kind: "silence" });
    const envelope = signed("brightness.set", { percent: 77 });
    await watch.publish(rig.topic("cmd"), JSON.stringify(envelope), { qos: 1 });
    await rig.until("the write at the controller", async () => (brightnessRegister() === percentToRegister(77) ? true : null), 10_000);
    const since = watch.mark();
    rig.agents.killGroup(rig.agent!);
    await rig.agent!.exited;
    rig.agent = null;
    // The broker tells the rest of the world through the agent's Last Will.
    await watch.next<{ online: boolean }>("state", (s) => s.online === false, { since, what: "the Last Will" });
    sim.clearFaults();
    sim.device.poke(0, 0, 0, REG.brightness, [0x22]);
    await rig.startAgent();
    const reply = await sendRaw(JSON.stringify(envelope));
    expect(reply).toMatchObject({ id: envelope.command.id, ok: false, error: { code: "replayed", message: expect.stringMatching(/outcome unknown/) }, original: null });
    await sleep(500);
    expect(brightnessRegister()).toBe(0x22);
    expect((await executedFor(envelope.command.id)).filter((e) => e.ok === true)).toEqual([]);
  }, 60_000);
});
