// The built `ledagent schedule plan` and `report delivery` under the live orders recorded in the
// ledger: a suspension until it is resumed, a takedown while it stands, and a lifted takedown's
// time left out of what the report counts as contracted.
import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKeyFiles, publicKeyPem, signCanonical } from "../../agent/crypto/index.js";
import { resumedEvent, suspendedEvent, takedownEvent, type RecordedSuspension } from "../../agent/playback/history/index.js";
import { ScheduleStore } from "../../agent/playback/schedule/index.js";
import { fixedClock } from "../../agent/proofs/index.js";
import { openLedger } from "../../agent/proofs/open.js";
import type { EventRecord } from "../../agent/proofs/types.js";
import { runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";

const H = 3_600_000;
const tmp = tempDir("ledagent-cli-orders-");
const dataDir = join(tmp.dir, "data");
const configFile = join(tmp.dir, "config.yaml");
const config = { dataDir, runDir: join(tmp.dir, "run"), screenId: "sz-orders-001" };
const ops = generateKeyPairSync("ed25519");
const VERSION = 5;
// Plans and reports run against the real clock: the flight is around today.
const NOW = Date.now();
const DAY = Math.floor(NOW / (24 * H)) * 24 * H - 2 * 24 * H; // UTC midnight two days ago: a day wholly past
const HEX = "a".repeat(64);

const doc = {
  kind: "ledagent.schedule/v1",
  screen: config.screenId,
  version: VERSION,
  issuedAt: new Date(NOW - 24 * H).toISOString(),
  timezone: "UTC",
  creatives: [
    { id: "cola-15", url: "https://cdn.example/cola.mp4", sha256: HEX, durationMs: 15000, approved: true },
    { id: "house", url: "https://cdn.example/house.mp4", sha256: HEX, durationMs: 30000, approved: true },
  ],
  campaigns: [{ id: "cola-now", customer: "cola-co", creatives: ["cola-15"], start: new Date(DAY - 24 * H).toISOString(), end: new Date(NOW + 30 * 24 * H).toISOString(), playsPerHour: 4 }],
  fill: ["house"],
};

const ledagent = (...args: string[]) => runCli(["--config", configFile, ...args]);

/** Records an event as the playout would (at `at`, ms, or now); returns its seq. */
function record(event: EventRecord, at?: number): number {
  const { ledger, close } = openLedger(config, at === undefined ? {} : { clock: fixedClock(new Date(at)) });
  try {
    return ledger.append({ kind: "event", event }).seq;
  } finally {
    close();
  }
}

interface PlanJson {
  items: Array<{ campaign: string | null; startMs?: number; at: string }>;
  shortfalls: Array<{ campaign: string; reason: string }>;
  warnings: string[];
}

async function planJson(...args: string[]): Promise<PlanJson> {
  const r = await ledagent("schedule", "plan", "--hours", "1", "--json", ...args);
  expect([r.code, r.stderr]).toEqual([0, ""]);
  return JSON.parse(r.stdout) as PlanJson;
}
const colaItems = (p: PlanJson): number => p.items.filter((i) => i.campaign === "cola-now").length;

beforeAll(async () => {
  createKeyFiles(join(dataDir, "keys", "device.key"), join(dataDir, "keys", "device.pub.pem"));
  const opsPub = join(tmp.dir, "ops.pub.pem");
  writeFileSync(opsPub, publicKeyPem(ops.publicKey));
  writeFileSync(configFile, `screenId: ${config.screenId}\ndataDir: ${dataDir}\nrunDir: ${config.runDir}\nopsPublicKey: ${opsPub}\npanel: { width: 64, height: 32 }\n`);
  const envelope = join(tmp.dir, "schedule.json");
  writeFileSync(envelope, JSON.stringify({ schedule: doc, sig: signCanonical(doc, ops.privateKey) }));
  const load = await ledagent("schedule", "load", envelope);
  expect([load.code, load.stderr, load.stdout]).toEqual([0, "", `schedule v${VERSION} applied\n`]);
}, 60_000);
afterAll(() => tmp.cleanup());

describe("ledagent schedule plan under the live orders in the ledger", () => {
  it("a live suspension stops the campaign, now and in a plan from later; once resumed it plays again", async () => {
    expect(colaItems(await planJson())).toBeGreaterThan(0);
    const since = Date.now();
    const seq = record(suspendedEvent({ reason: "typhoon", until: null, campaigns: null, blackout: false, by: "local:tech", scheduleVersion: VERSION }));
    const suspended = await planJson();
    expect(colaItems(suspended)).toBe(0);
    expect(suspended.items.length).toBeGreaterThan(0); // fill plays: the screen is not blacked out
    expect(suspended.shortfalls.map((s) => s.reason)).toContain("suspension: typhoon");
    expect(colaItems(await planJson("--from", new Date(NOW + 3 * H).toISOString()))).toBe(0);
    const live = { seq, since } as RecordedSuspension;
    record(resumedEvent(live, { endedAt: Date.now(), auto: false, by: "local:tech" }));
    expect(colaItems(await planJson())).toBeGreaterThan(0);
  });

  it("a standing takedown removes the campaign; one given under another schedule version, or lifted, does not", async () => {
    const target = { campaign: "cola-now" };
    record(takedownEvent({ target, immediate: true, lift: false, scheduleVersion: VERSION - 1, by: "mqtt:old" }));
    expect(colaItems(await planJson())).toBeGreaterThan(0);
    record(takedownEvent({ target, immediate: true, lift: false, scheduleVersion: VERSION, by: "mqtt:c-7" }));
    expect(colaItems(await planJson())).toBe(0);
    // From an hour ahead (nothing of this hour to catch up): no items and nothing short, a takedown is not owed.
    const later = await planJson("--from", new Date(Date.now() + 2 * H).toISOString());
    expect([colaItems(later), later.shortfalls.filter((s) => s.campaign === "cola-now")]).toEqual([0, []]);
    record(takedownEvent({ target, immediate: false, lift: true, scheduleVersion: VERSION, by: "mqtt:c-8" }));
    expect(colaItems(await planJson())).toBeGreaterThan(0);
  });
});

describe("ledagent report delivery and takedowns", () => {
  it("the hours a takedown held are not contracted, before and after it is lifted; a later lift ends it there", async () => {
    // As if applied before the day reported, so that its hours are contracted.
    const store = new ScheduleStore({ path: join(dataDir, "schedule.json") });
    const current = store.current();
    if (!current) throw new Error("no stored schedule");
    store.save({ format: current.format, envelope: current.envelope, appliedAt: new Date(DAY - H).toISOString(), campaignAppliedAt: { "cola-now": new Date(DAY - H).toISOString() } });
    const report = async (): Promise<string> => {
      const r = await ledagent("report", "delivery", "--from", new Date(DAY).toISOString(), "--to", new Date(DAY + 4 * H).toISOString(), "--format", "csv");
      expect([r.code, r.stderr]).toEqual([0, ""]);
      return r.stdout.split("\n")[1];
    };
    const day = new Date(DAY).toISOString().slice(0, 10);
    expect(await report()).toBe(`${day},cola-co,cola-now,16,0,0,16,0`);
    const target = { creative: "cola-15" };
    record(takedownEvent({ target, immediate: true, lift: false, scheduleVersion: VERSION, by: "local:tech" }), DAY + H);
    expect(await report()).toBe(`${day},cola-co,cola-now,4,0,0,4,0`); // standing at the report's end
    record(takedownEvent({ target, immediate: false, lift: true, scheduleVersion: VERSION, by: "local:tech" }), DAY + 3 * H);
    expect(await report()).toBe(`${day},cola-co,cola-now,8,0,0,8,0`); // held 01:00–03:00 only
  });
});
