import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { signCanonical } from "../../../agent/crypto/index.js";
import type { AppendInput } from "../../../agent/proofs/types.js";
import { applyEnvelope, applyEnvelopeText, checkEnvelope, scheduleJsonSchema, ScheduleStore, validateDocument } from "../../../agent/playback/schedule/index.js";
import { tempDir } from "../../helpers/tmp.js";
import { memoryLedger } from "./fakes.js";

const ops = generateKeyPairSync("ed25519");
const other = generateKeyPairSync("ed25519");
const HEX = "a".repeat(64);

function doc(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    kind: "ledagent.schedule/v1",
    screen: "sz-001",
    version: 7,
    issuedAt: "2026-12-01T00:00:00Z",
    timezone: "Asia/Shanghai",
    creatives: [
      { id: "cola-15", url: "https://cdn.example/cola.mp4", sha256: HEX, durationMs: 15000, approved: true },
      { id: "house", url: "https://cdn.example/house.mp4", sha256: HEX, durationMs: 30000, approved: true },
      { id: "draft", url: "https://cdn.example/d.mp4", sha256: HEX, durationMs: 15000, approved: false },
    ],
    campaigns: [
      { id: "cola-dec", customer: "cola-co", category: "beverage", creatives: ["cola-15"], start: "2026-12-01T00:00:00+08:00", end: "2027-01-01T00:00:00+08:00", playsPerHour: 4 },
    ],
    fill: ["house"],
    ...over,
  };
}

const sign = (schedule: unknown, key = ops.privateKey): { schedule: unknown; sig: string } => ({ schedule, sig: signCanonical(schedule, key) });
const check = { opsPublicKey: ops.publicKey, screenId: "sz-001", currentVersion: 6, now: Date.parse("2026-12-01T01:00:00Z") };

describe("schedule document validation", () => {
  it("accepts the spec's example shape", () => {
    expect(validateDocument(doc())).toMatchObject({ ok: true });
  });

  it("names every problem with its path, not just the first", () => {
    const bad = doc({
      version: 0,
      timezone: "Mars/Olympus",
      campaigns: [
        { id: "a", customer: "x", creatives: ["nope"], start: "2026-12-02T00:00:00Z", end: "2026-12-01T00:00:00Z", playsPerHour: 2, playsPerDay: 3 },
        { id: "x", customer: "x", creatives: ["draft"], start: "2026-12-01T00:00:00Z", end: "2026-12-02T00:00:00Z", exclusive: true },
      ],
    });
    const shape = validateDocument(bad);
    expect(shape.ok).toBe(false);
    if (!shape.ok) expect(shape.problems.join("\n")).toContain("version");
    const semantic = validateDocument({ ...bad, version: 1 });
    expect(semantic.ok).toBe(false);
    if (!semantic.ok) {
      const text = semantic.problems.join("\n");
      expect(text).toContain("timezone");
      expect(text).toContain("unknown creative nope");
      expect(text).toContain("end 2026-12-01T00:00:00Z is not after start");
      expect(text).toContain("exactly one of playsPerHour or playsPerDay");
      expect(text).toContain("draft, which is not approved");
    }
  });

  it("rejects overlapping exclusive campaigns, naming both", () => {
    const x = (id: string, from: string, to: string): Record<string, unknown> => ({
      id, customer: id, creatives: ["cola-15"], start: "2026-12-01T00:00:00Z", end: "2026-12-10T00:00:00Z", exclusive: true, dayparts: [{ days: [1, 2, 3, 4, 5, 6, 7], from, to }],
    });
    const r = validateDocument(doc({ campaigns: [x("a", "10:00", "12:00"), x("b", "11:30", "13:00"), x("c", "12:00", "13:00")] }));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.problems.some((p) => p.includes("a and b"))).toBe(true);
      expect(r.problems.some((p) => p.includes("b and c"))).toBe(true);
      expect(r.problems.some((p) => p.includes("a and c"))).toBe(false); // touching, not overlapping
    }
  });

  it("accepts touching buyouts, unless they compete: then one would follow the other", () => {
    const x = (id: string, category: string, from: string, to: string, separateFrom: string[] = []): Record<string, unknown> => ({
      id, customer: id, category, separateFrom, creatives: ["cola-15"], start: "2026-12-01T00:00:00Z", end: "2026-12-10T00:00:00Z", exclusive: true,
      dayparts: [{ days: [1, 2, 3, 4, 5, 6, 7], from, to }],
    });
    expect(validateDocument(doc({ campaigns: [x("a", "telecom", "10:00", "11:00"), x("b", "beverage", "11:00", "12:00")] })).ok).toBe(true);
    const same = validateDocument(doc({ campaigns: [x("a", "beverage", "10:00", "11:00"), x("b", "beverage", "11:00", "12:00")] }));
    expect(same.ok).toBe(false);
    if (!same.ok) expect(same.problems.join("\n")).toMatch(/campaigns a and b: competing exclusive campaigns meet back to back at 2026-12-0\dT03:00:00.000Z/);
    const excluded = validateDocument(doc({ campaigns: [x("a", "beer", "11:00", "12:00", []), x("b", "juice", "10:00", "11:00", ["beer"])] }));
    expect(excluded.ok).toBe(false);
    // Flights that meet end to start compete too.
    const y = (id: string, start: string, end: string): Record<string, unknown> => ({ id, customer: id, category: "auto", creatives: ["cola-15"], start, end, exclusive: true });
    expect(validateDocument(doc({ campaigns: [y("a", "2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z"), y("b", "2026-12-01T11:00:00Z", "2026-12-01T12:00:00Z")] })).ok).toBe(false);
  });

  it("names shape and semantic problems together: an unknown creative, overlapping buyouts and a bad field type", () => {
    const x = (id: string, from: string, to: string): Record<string, unknown> => ({
      id, customer: id, creatives: ["cola-15"], start: "2026-12-01T00:00:00Z", end: "2026-12-10T00:00:00Z", exclusive: true, dayparts: [{ days: [1, 2, 3, 4, 5, 6, 7], from, to }],
    });
    const ghost = { id: "ghost-dec", customer: "g", creatives: ["ghost-15"], start: "2026-12-01T00:00:00Z", end: "2027-01-01T00:00:00Z", playsPerHour: 4 };
    const r = validateDocument(doc({ campaigns: [ghost, x("a", "10:00", "12:00"), { ...x("b", "11:30", "13:00"), priority: "high" }] }));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      const text = r.problems.join("\n");
      expect(text).toContain("campaigns.2.priority:"); // the bad type
      expect(text).toContain("campaigns.0 (ghost-dec).creatives.0: unknown creative ghost-15");
      expect(text).toContain("campaigns a and b: exclusive campaigns overlap");
    }
  });

  it("a malformed part hides nothing else, and causes no made-up problems elsewhere", () => {
    const creatives = [...(doc().creatives as Record<string, unknown>[])];
    creatives[0] = { ...creatives[0], sha256: "not-hex" }; // cola-15 exists, malformed
    const campaigns = [
      { id: "cola-dec", customer: "cola-co", creatives: ["cola-15"], start: "2026-12-01T00:00:00Z", end: "2027-01-01T00:00:00Z", playsPerHour: "4" },
      { id: "late", customer: "x", creatives: ["cola-15"], start: "2026-12-02T00:00:00Z", end: "2026-12-01T00:00:00Z", playsPerDay: 3 },
    ];
    const r = validateDocument(doc({ creatives, campaigns, version: "7", suspensions: [{ from: "2026-12-01T10:00:00Z", to: "2026-12-01T11:00:00Z", reason: "x", campaigns: ["who"] }] }));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      const text = r.problems.join("\n");
      expect(text).toContain("version:");
      expect(text).toContain("creatives.0.sha256:");
      expect(text).toContain("campaigns.0.playsPerHour:");
      expect(text).toContain("campaigns.1 (late): end 2026-12-01T00:00:00Z is not after start");
      expect(text).toContain("suspensions.0.campaigns.0: unknown campaign who");
      expect(text).not.toContain("unknown creative cola-15"); // it exists, only malformed
      expect(text).not.toContain("exactly one of playsPerHour"); // its playsPerHour is there, only malformed
    }
  });

  it("rejects unknown ids in fill and suspensions, and unknown keys", () => {
    const r = validateDocument(doc({ fill: ["ghost"], suspensions: [{ from: "2026-12-01T10:00:00Z", to: "2026-12-01T09:00:00Z", reason: "x", campaigns: ["who"] }], extra: 1 }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.join("\n")).toContain("extra: unknown key");
    const r2 = validateDocument(doc({ fill: ["ghost"], suspensions: [{ from: "2026-12-01T10:00:00Z", to: "2026-12-01T09:00:00Z", reason: "x", campaigns: ["who"] }] }));
    expect(r2.ok).toBe(false);
    if (!r2.ok) {
      const text = r2.problems.join("\n");
      expect(text).toContain("fill.0: unknown creative ghost");
      expect(text).toContain("unknown campaign who");
      expect(text).toContain("is not after from");
    }
  });
});

describe("envelope checks", () => {
  it("accepts a newer signed schedule for this screen", () => {
    expect(checkEnvelope(sign(doc()), check).outcome).toBe("accept");
  });
  it.each([
    ["unsigned", { schedule: doc() }, "unsigned"],
    ["signed by another key", sign(doc(), other.privateKey), "bad signature"],
    ["tampered after signing", { ...sign(doc()), schedule: doc({ version: 8 }) }, "bad signature"],
    ["for another screen", sign(doc({ screen: "sz-002" })), "wrong screen"],
    ["stale", sign(doc({ version: 5 })), "stale"],
    ["malformed", sign(doc({ fill: [] })), "malformed"],
    ["not an object", [1, 2], "malformed"],
  ])("rejects %s", (_name, raw, reason) => {
    const d = checkEnvelope(raw, check);
    expect(d.outcome).toBe("reject");
    if (d.outcome === "reject") expect(d.reasons.join(" ")).toContain(reason);
  });
  it("treats an equal version as a no-op", () => {
    expect(checkEnvelope(sign(doc({ version: 6 })), check)).toEqual({ outcome: "unchanged", version: 6 });
  });
  it("rejects everything when no ops key is configured", () => {
    const d = checkEnvelope(sign(doc()), { ...check, opsPublicKey: null });
    expect(d.outcome).toBe("reject");
  });
});

describe("applyEnvelope and the store", () => {
  let cleanup = (): void => {};
  afterEach(() => cleanup());

  it("stores the newest valid envelope, keeps campaign applied times, records ledger events", () => {
    const tmp = tempDir();
    cleanup = tmp.cleanup;
    const events: AppendInput[] = [];
    const store = new ScheduleStore({ path: join(tmp.dir, "schedule.json") });
    let now = new Date("2026-12-01T01:00:00Z");
    const deps = { store, opsPublicKey: ops.publicKey, screenId: "sz-001", ledger: memoryLedger(events), now: () => now };
    expect(applyEnvelope(deps, sign(doc({ version: 1 })), "test")).toMatchObject({ state: "applied", version: 1 });
    now = new Date("2026-12-02T01:00:00Z");
    const campaigns = [...(doc().campaigns as object[]), { id: "new", customer: "n", creatives: ["cola-15"], start: "2026-12-01T00:00:00Z", end: "2026-12-30T00:00:00Z", playsPerDay: 3 }];
    expect(applyEnvelope(deps, sign(doc({ version: 2, campaigns })), "test")).toMatchObject({ state: "applied", previousVersion: 1 });
    expect(applyEnvelope(deps, sign(doc({ version: 2, campaigns })), "test")).toMatchObject({ state: "unchanged" });
    expect(applyEnvelope(deps, sign(doc({ version: 1 })), "test")).toMatchObject({ state: "rejected" });
    const current = store.current();
    expect(current?.document.version).toBe(2);
    expect(current?.campaignAppliedAt).toEqual({ "cola-dec": "2026-12-01T01:00:00.000Z", new: "2026-12-02T01:00:00.000Z" });
    expect(events.map((e) => (e.kind === "event" ? e.event.type : e.kind))).toEqual(["schedule.applied", "schedule.applied", "schedule.rejected"]);
    expect(JSON.parse(readFileSync(join(tmp.dir, "schedule.json"), "utf8")).envelope.sig).toBe(sign(doc({ version: 2, campaigns })).sig);
  });
});

describe("rejections are recorded, every reason named, capped", () => {
  const deps = (events: AppendInput[]) => {
    const tmp = tempDir();
    return {
      cleanup: tmp.cleanup,
      deps: { store: new ScheduleStore({ path: join(tmp.dir, "schedule.json") }), opsPublicKey: ops.publicKey, screenId: "sz-001", ledger: memoryLedger(events), now: () => new Date("2026-12-01T00:00:00Z") },
    };
  };

  it("a badly signed envelope for another screen names both", () => {
    const d = checkEnvelope(sign(doc({ screen: "sz-002" }), other.privateKey), check);
    expect(d.outcome).toBe("reject");
    if (d.outcome === "reject") expect(d.reasons).toEqual(["bad signature: not signed by the configured ops key", "wrong screen: for sz-002, this is sz-001"]);
  });

  it("applyEnvelope records at most 50 reasons of at most 500 characters, and how many more there were", () => {
    const events: AppendInput[] = [];
    const { deps: d, cleanup } = deps(events);
    try {
      const campaigns = Array.from({ length: 200 }, (_, i) => ({ id: `c${i}`, customer: "x", creatives: [`gone-${i}`], start: "2026-12-01T00:00:00Z", end: "2027-01-01T00:00:00Z", playsPerHour: 1 }));
      const result = applyEnvelope(d, { ...sign(doc({ campaigns })), ["k".repeat(3000)]: true }, "mqtt");
      expect(result).toMatchObject({ state: "rejected", moreReasons: 151 });
      const event: Record<string, unknown> = events[0].kind === "event" ? events[0].event : {};
      expect(event).toMatchObject({ type: "schedule.rejected", version: 7, source: "mqtt", moreReasons: 151 });
      const reasons = event.reasons as string[];
      expect(reasons).toHaveLength(50);
      expect(reasons[0]).toHaveLength(500);
      expect(reasons[0].endsWith("…")).toBe(true);
      expect(reasons[1]).toContain("unknown creative gone-0");
    } finally {
      cleanup();
    }
  });

  it("applyEnvelopeText rejects and records text that is not JSON", () => {
    const events: AppendInput[] = [];
    const { deps: d, cleanup } = deps(events);
    try {
      expect(applyEnvelopeText(d, Buffer.from('{"schedule": {"kind"'), "mqtt")).toMatchObject({ state: "rejected", version: null });
      expect(events).toEqual([{ kind: "event", event: { type: "schedule.rejected", version: null, source: "mqtt", reasons: [expect.stringMatching(/^not JSON: /)] } }]);
      expect(applyEnvelopeText(d, JSON.stringify(sign(doc())), "mqtt")).toMatchObject({ state: "applied", version: 7 });
    } finally {
      cleanup();
    }
  });
});

describe("JSON Schema export", () => {
  it("docs/schedule.schema.json matches the schema the agent validates with", () => {
    const committed = JSON.parse(readFileSync(new URL("../../../docs/schedule.schema.json", import.meta.url), "utf8"));
    expect(committed).toEqual(scheduleJsonSchema());
  });
});
