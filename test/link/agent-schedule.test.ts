// Desired state end to end (spec/mqtt-api.md `schedule`, `schedule/status`): signed schedules
// pushed retained to a real mosquitto reach `ledagent run`, which fetches and fits their creatives
// over HTTP, says pending-creatives then applied, plays them, and records schedule.applied once;
// every bad delivery is rejected with its reason on the broker and in the ledger while the
// schedule in force plays on; a broker or agent restart redelivers the retained one, applied once.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentStatus } from "../../agent/commands/index.js";
import type { ScheduleStatus } from "../../agent/link/schedule-state.js";
import { BrokerWatch, LinkRig, retainedOn, sleep, type Creative, type ScheduleDoc } from "./link-rig.js";

const SCREEN = "sz-link-sched-001";
let rig: LinkRig;
let watch: BrokerWatch;
let house: Creative;
let ad1: Creative;
let ad2: Creative;
/** v2's signed envelope exactly as first pushed: the retained one the agent keeps receiving. */
let v2Text = "";

function envelopeFile(name: string, text: string): string {
  const file = join(rig.dir, `${name}.json`);
  writeFileSync(file, text);
  return file;
}

function push(file: string): ReturnType<LinkRig["cli"]> {
  return rig.cli(["ops", "push-schedule", file, "--url", rig.broker.url, "--timeout", "40"], { timeoutMs: 45_000 });
}

async function playing(version: number): Promise<AgentStatus> {
  return rig.until(`schedule v${version} on air`, async () => {
    const s = await rig.status();
    return s?.playout?.scheduleVersion === version && s.playout.nowPlaying ? s : null;
  });
}

function statuses(since: number): ScheduleStatus[] {
  return watch.on("schedule/status", since).map((m) => JSON.parse(m.text) as ScheduleStatus);
}

beforeAll(async () => {
  rig = await LinkRig.create({ screen: SCREEN });
  house = rig.creatives.clip(rig.dir, "house", "smptebars");
  ad1 = rig.creatives.clip(rig.dir, "ad1", "testsrc");
  ad2 = rig.creatives.clip(rig.dir, "ad2", "rgbtestsrc");
  watch = await BrokerWatch.open(rig.broker.url, SCREEN);
  await rig.startAgent();
}, 60_000);

afterAll(async () => {
  await watch?.close();
  await rig?.close();
});

describe("a signed schedule pushed retained", () => {
  it("goes pending-creatives then applied, plays, and is recorded once as schedule.applied", async () => {
    const since = watch.mark();
    const pushed = await push(envelopeFile("v1", rig.sign(rig.schedule(1, house, [ad1]))));
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(JSON.parse(pushed.stdout)).toMatchObject({ version: 1, state: "applied", reasons: [] });
    expect(statuses(since).map((s) => `${s.state} v${s.version}`)).toEqual(["pending-creatives v1", "applied v1"]);
    // What a console that connects later learns: the retained status.
    expect(JSON.parse((await retainedOn(rig.broker.url, rig.topic("schedule/status"))) ?? "null")).toMatchObject({ version: 1, state: "applied" });

    await playing(1);
    const shown = await rig.cli(["status", "--json"]);
    expect(shown.code, shown.stderr).toBe(0);
    const status = JSON.parse(shown.stdout) as AgentStatus;
    expect(status.playout?.scheduleVersion).toBe(1);
    expect(["house", "ad1"]).toContain(status.playout?.nowPlaying?.creative);
    expect((await rig.ledger()).events("schedule.applied").map((e) => e.version)).toEqual([1]);
  }, 40_000);
});

describe("a newer version while the old one plays", () => {
  it("the old one plays on (pending-creatives) until the new one's creatives are fitted, then the new one plays", async () => {
    rig.creatives.hold("ad2");
    const since = watch.mark();
    v2Text = rig.sign(rig.schedule(2, house, [ad2]));
    const pushing = push(envelopeFile("v2", v2Text));
    const pending = await watch.next<ScheduleStatus>("schedule/status", (s) => s.version === 2, { since, what: "a status for v2" });
    expect(pending.state).toBe("pending-creatives");
    const pendingAt = Date.parse(pending.at);
    await rig.until("the agent asking for ad2", async () => (rig.creatives.requests("ad2") > 0 ? true : null));
    // Held long enough for a 2 s play of v1 to end meanwhile.
    await sleep(3000);
    const meanwhile = await rig.status();
    expect(meanwhile?.playout?.scheduleVersion).toBe(1);
    expect(meanwhile?.playout?.nowPlaying).not.toBeNull();
    const ledger = await rig.ledger();
    const during = ledger.plays();
    expect(during.some((p) => p.scheduleVersion === 1 && Date.parse(p.endedAt) > pendingAt)).toBe(true);
    expect(during.some((p) => p.scheduleVersion === 2)).toBe(false);
    // Recorded as applied at once; on air only once its creatives are ready.
    expect(ledger.events("schedule.applied").map((e) => e.version)).toEqual([1, 2]);
    expect(JSON.parse((await retainedOn(rig.broker.url, rig.topic("schedule/status"))) ?? "null")).toMatchObject({ version: 2, state: "pending-creatives" });

    rig.creatives.release("ad2");
    const pushed = await pushing;
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(JSON.parse(pushed.stdout)).toMatchObject({ version: 2, state: "applied" });
    expect(statuses(since).map((s) => `${s.state} v${s.version}`)).toEqual(["pending-creatives v2", "applied v2"]);
    await playing(2);
  }, 45_000);
});

describe("rejected deliveries", () => {
  const tampered = (): string => {
    const env = JSON.parse(rig.sign(rig.schedule(3, house, [ad2]))) as { schedule: ScheduleDoc; sig: string };
    env.schedule.campaigns[0]!.playsPerHour = 3600;
    return JSON.stringify(env);
  };
  const cases: Array<{ name: string; payload: () => string; version: number | null; reason: RegExp }> = [
    { name: "signed by another ops key", payload: () => rig.sign(rig.schedule(3, house, [ad2]), rig.otherKey), version: 3, reason: /^bad signature: not signed by the configured ops key$/ },
    { name: "changed after signing", payload: tampered, version: 3, reason: /^bad signature: not signed by the configured ops key$/ },
    { name: "for another screen", payload: () => rig.sign({ ...rig.schedule(3, house, [ad2]), screen: "sz-elsewhere-9" }), version: 3, reason: /^wrong screen: for sz-elsewhere-9, this is sz-link-sched-001$/ },
    { name: "older than the one in force", payload: () => rig.sign(rig.schedule(1, house, [ad1, ad2])), version: 1, reason: /^stale: version 1 is older than the current 2$/ },
    { name: "not JSON", payload: () => "{ schedule: v9", version: null, reason: /^not JSON: / },
    { name: "JSON but not an envelope", payload: () => JSON.stringify({ hello: "world" }), version: null, reason: /^malformed: no schedule$/ },
    {
      name: "a file: creative over the network",
      payload: () => rig.sign(rig.schedule(3, house, [{ ...ad2, url: `file://${join(rig.dir, "ad2.mp4")}` }])),
      version: 3,
      reason: /^creatives\.1 \(ad2\): a file: URL in a schedule delivered over the network/,
    },
    { name: "issued a day ahead of the agent's clock", payload: () => rig.sign({ ...rig.schedule(3, house, [ad2]), issuedAt: new Date(Date.now() + 86_400_000).toISOString() }), version: 3, reason: /^issued in the future: issuedAt \S+ is 14\d\d minutes ahead/ },
  ];

  it.each(cases)("$name: rejected with its reason, and the schedule in force plays on", async ({ payload, version, reason }) => {
    const since = watch.mark();
    await watch.publish(rig.topic("schedule"), payload(), { qos: 1, retain: true });
    const status = await watch.next<ScheduleStatus>("schedule/status", (s) => s.state !== "pending-creatives", { since, what: "the rejection" });
    expect(status).toMatchObject({ state: "rejected", version });
    expect(status.reasons).toHaveLength(1);
    expect(status.reasons[0]).toMatch(reason);
    const now = await rig.status();
    expect(now?.playout?.scheduleVersion).toBe(2);
    expect(now?.playout?.nowPlaying).not.toBeNull();
  });

  it("each rejection is one schedule.rejected entry with the same reasons; nothing new was applied", async () => {
    const ledger = await rig.ledger();
    const rejected = ledger.events("schedule.rejected");
    expect(rejected).toHaveLength(cases.length);
    rejected.forEach((e, i) => {
      expect(e.version, cases[i]!.name).toBe(cases[i]!.version);
      expect((e.reasons as string[])[0], cases[i]!.name).toMatch(cases[i]!.reason);
      expect(e.source).toBe(`mqtt ${rig.topic("schedule")}`);
    });
    expect(ledger.events("schedule.applied").map((e) => e.version)).toEqual([1, 2]);
    expect(rig.creatives.requests("ad1")).toBe(1);
  }, 20_000);

  // The same version with other content must never pass for a redelivery of what is in force.
  it("the version in force with other content: rejected as stale, and recorded", async () => {
    const before = (await rig.ledger()).events("schedule.rejected").length;
    const since = watch.mark();
    await watch.publish(rig.topic("schedule"), rig.sign(rig.schedule(2, house, [ad1])), { qos: 1, retain: true });
    const status = await watch.next<ScheduleStatus>("schedule/status", () => true, { since, what: "the answer" });
    expect(status).toMatchObject({ state: "rejected", version: 2, reasons: ["stale: version 2 was applied already, with other content"] });
    expect((await rig.ledger()).events("schedule.rejected")).toHaveLength(before + 1);
  }, 20_000);
});

describe("the retained schedule delivered again", () => {
  /** A schedule/status the agent published after `sinceMs` (a redelivery's answer, not the retained copy). */
  const answeredAfter = (w: BrokerWatch, sinceMs: number) => w.next<ScheduleStatus>("schedule/status", (s) => Date.parse(s.at) >= sinceMs, { what: "a fresh schedule/status" });

  it("the in-force envelope pushed again is answered applied, without a second schedule.applied", async () => {
    const pushed = await push(envelopeFile("v2-again", v2Text));
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(JSON.parse(pushed.stdout)).toMatchObject({ version: 2, state: "applied", reasons: [] });
  }, 30_000);

  it("after a broker restart: the agent reconnects, is answered applied again, and applies nothing twice", async () => {
    await watch.close();
    const restartedAt = Date.now();
    await rig.broker.restart();
    watch = await BrokerWatch.open(rig.broker.url, SCREEN);
    const again = await answeredAfter(watch, restartedAt);
    expect(again).toMatchObject({ version: 2, state: "applied", reasons: [] });
    await rig.until("the link back up", async () => ((await rig.status())?.host?.linkConnected ? true : null));
    expect((await rig.status())?.playout?.scheduleVersion).toBe(2);
  }, 30_000);

  it("after an agent restart: the same, and the ledger still holds one schedule.applied per version", async () => {
    expect(await rig.stopAgent()).toBe(0);
    const startedAt = Date.now();
    await rig.startAgent();
    expect(await answeredAfter(watch, startedAt)).toMatchObject({ version: 2, state: "applied" });
    await playing(2);
    const retained = JSON.parse((await retainedOn(rig.broker.url, rig.topic("schedule/status"))) ?? "null") as ScheduleStatus;
    expect(retained).toMatchObject({ version: 2, state: "applied" });
    expect((await rig.ledger()).events("schedule.applied").map((e) => e.version)).toEqual([1, 2]);
  }, 40_000);
});
