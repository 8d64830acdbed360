// The daemon's schedule loader with the real apply and a real store: what follows an apply (the
// brightness windows and the playout's take-over) happens only when a schedule came into force,
// one apply at a time, and a failure of one never blocks the next.
import { generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { signCanonical } from "../../agent/crypto/index.js";
import { DaemonScheduleLoader, scheduleInForce, type ScheduleInForceHooks } from "../../agent/daemon/schedule-loader.js";
import { silentLogger } from "../../agent/log.js";
import { ScheduleStore, type ScheduleDocument } from "../../agent/playback/schedule/index.js";
import type { AppendInput } from "../../agent/proofs/types.js";
import { memoryLedger } from "../playback/schedule/fakes.js";
import { tempDir } from "../helpers/tmp.js";

const ops = generateKeyPairSync("ed25519");
const HEX = "a".repeat(64);
const BRIGHTNESS = [{ from: "07:00", to: "19:00", percent: 90 }];

function envelope(version: number, key = ops.privateKey): string {
  const schedule = {
    kind: "ledagent.schedule/v1",
    screen: "sz-001",
    version,
    issuedAt: "2026-12-01T00:00:00Z",
    timezone: "Asia/Shanghai",
    creatives: [{ id: "house", url: "https://cdn.example/house.mp4", sha256: HEX, durationMs: 30000, approved: true }],
    campaigns: [],
    fill: ["house"],
    brightness: BRIGHTNESS,
  };
  return JSON.stringify({ schedule, sig: signCanonical(schedule, key) });
}

let tmp: ReturnType<typeof tempDir>;
let store: ScheduleStore;
let events: AppendInput[];
let failAppends: boolean;
let calls: string[];
let hooks: ScheduleInForceHooks;
let loader: DaemonScheduleLoader;

beforeEach(() => {
  tmp = tempDir("ledagent-loader-");
  store = new ScheduleStore({ path: join(tmp.dir, "schedule.json") });
  events = [];
  failAppends = false;
  calls = [];
  hooks = {
    brightness: () => ({
      setSchedule: async (windows: ScheduleDocument["brightness"], timezone: string) => void calls.push(`brightness ${JSON.stringify(windows)} ${timezone}`),
    }),
    playout: () => ({
      scheduleApplied: () => {
        calls.push(`playout v${store.current()?.document.version}`);
        return Promise.resolve({ version: store.current()?.document.version ?? null, onAir: true, rejected: [] });
      },
    }),
    log: silentLogger(),
  };
  const ledger = memoryLedger(events, { failAppends: () => failAppends });
  loader = new DaemonScheduleLoader({ apply: () => ({ store, opsPublicKey: ops.publicKey, screenId: "sz-001", ledger, now: () => new Date("2026-12-01T01:00:00Z") }), hooks });
});
afterEach(() => tmp.cleanup());

describe("DaemonScheduleLoader", () => {
  it("an applied schedule goes to the brightness schedule and the playout, in force", async () => {
    expect(await loader.load(envelope(8), "file:/media/usb/s.json")).toEqual({ state: "applied", version: 8, previousVersion: null });
    expect(calls).toEqual([`brightness ${JSON.stringify(BRIGHTNESS)} Asia/Shanghai`, "playout v8"]);
    expect(events.map((e) => (e.kind === "event" ? [e.event.type, e.event.source] : e.kind))).toEqual([["schedule.applied", "file:/media/usb/s.json"]]);
  });

  it("a rejected or unchanged schedule changes nothing downstream", async () => {
    const rejected = await loader.load(envelope(8, generateKeyPairSync("ed25519").privateKey), "usb");
    expect(rejected).toMatchObject({ state: "rejected", version: 8 });
    await loader.load(envelope(8), "usb");
    calls = [];
    expect(await loader.load(envelope(8), "usb")).toEqual({ state: "unchanged", version: 8 });
    expect(calls).toEqual([]);
  });

  it("loads asked for at once apply one at a time, in order", async () => {
    const results = await Promise.all([loader.load(envelope(8), "a"), loader.load(envelope(10), "b"), loader.load(envelope(9), "c")]);
    expect(results.map((r) => `${r.state} ${r.version}`)).toEqual(["applied 8", "applied 10", "rejected 9"]);
    expect(calls.filter((c) => c.startsWith("playout"))).toEqual(["playout v8", "playout v10"]);
  });

  it("an apply the ledger cannot record fails that load only; the next one applies", async () => {
    failAppends = true;
    await expect(loader.load(envelope(8), "a")).rejects.toThrow(/not applied: the ledger could not record it/);
    failAppends = false;
    expect(await loader.load(envelope(8), "b")).toMatchObject({ state: "applied", version: 8 });
    expect(calls).toEqual([`brightness ${JSON.stringify(BRIGHTNESS)} Asia/Shanghai`, "playout v8"]);
  });
});

describe("scheduleInForce", () => {
  it("a brightness schedule that throws does not keep the playout from the schedule; neither runs when absent", async () => {
    await loader.load(envelope(8), "a");
    const doc = (store.current() as NonNullable<ReturnType<ScheduleStore["current"]>>).document;
    const seen: string[] = [];
    scheduleInForce(doc, {
      brightness: () => ({
        setSchedule: () => {
          throw new Error("bad zone");
        },
      }),
      playout: () => ({
        scheduleApplied: () => {
          seen.push("playout");
          return Promise.reject(new Error("playout stopped"));
        },
      }),
      log: silentLogger(),
    });
    await expect(scheduleInForce(doc, { brightness: () => null, playout: () => null, log: silentLogger() })).resolves.toEqual({ version: 8, onAir: true, rejected: [] });
    expect(seen).toEqual(["playout"]);
  });
});
