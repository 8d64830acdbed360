// A schedule is checked cheaply first and applied wholly or not at all: untrusted envelopes never
// reach the document check, every costly check is bounded, the ledger records before the store
// changes, no downgrade past what the ledger applied, and network schedules name http(s) only.
import { generateKeyPairSync } from "node:crypto";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { signCanonical } from "../../../agent/crypto/index.js";
import {
  applyEnvelope,
  applyEnvelopeText,
  checkEnvelope,
  MAX_BUYOUT_WINDOWS,
  MAX_CAMPAIGNS,
  MAX_ENVELOPE_BYTES,
  MAX_EVENT_CAMPAIGN_IDS,
  MAX_FIRST_VERSION,
  MAX_TOTAL_PLAYS_PER_HOUR,
  ScheduleApplyError,
  ScheduleStore,
  validateDocument,
  type ApplyDeps,
} from "../../../agent/playback/schedule/index.js";
import { Ledger, MAX_ENTRY_CHARS } from "../../../agent/proofs/ledger.js";
import { fixedClock } from "../../../agent/proofs/index.js";
import type { AppendInput } from "../../../agent/proofs/types.js";
import { openDatabase } from "../../../agent/store/index.js";
import { tempDir } from "../../helpers/tmp.js";
import { memoryLedger } from "./fakes.js";

const ops = generateKeyPairSync("ed25519");
const other = generateKeyPairSync("ed25519");
const HEX = "a".repeat(64);
const NOW = Date.parse("2026-12-01T01:00:00Z");

function doc(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    kind: "ledagent.schedule/v1",
    screen: "sz-001",
    version: 7,
    issuedAt: "2026-12-01T00:00:00Z",
    timezone: "Asia/Shanghai",
    creatives: [{ id: "cola-15", url: "https://cdn.example/cola.mp4", sha256: HEX, durationMs: 15000, approved: true }],
    campaigns: [{ id: "cola-dec", customer: "cola-co", creatives: ["cola-15"], start: "2026-12-01T00:00:00+08:00", end: "2027-01-01T00:00:00+08:00", playsPerHour: 4 }],
    fill: ["cola-15"],
    ...over,
  };
}
const sign = (schedule: unknown, key = ops.privateKey): { schedule: unknown; sig: string } => ({ schedule, sig: signCanonical(schedule, key) });
const check = { opsPublicKey: ops.publicKey, screenId: "sz-001", currentVersion: 6, now: NOW };

/** Two buyouts of the whole screen from year 1 to year 9999: minutes and gigabytes for a naive overlap check. */
const hostile = (): Record<string, unknown> => {
  const x = (id: string): Record<string, unknown> => ({ id, customer: id, creatives: ["cola-15"], start: "0001-01-01T00:00:00Z", end: "9999-12-31T00:00:00Z", exclusive: true, dayparts: [{ days: [1, 2, 3, 4, 5, 6, 7], from: "10:00", to: "11:00" }] });
  return doc({ campaigns: [x("a"), x("b")] });
};

function reasonsOf(d: ReturnType<typeof checkEnvelope>): string[] {
  if (d.outcome !== "reject") throw new Error(`expected a rejection, got ${d.outcome}`);
  return d.reasons;
}

describe("defect 1: cheap checks first, every costly check bounded", () => {
  it.each([
    ["unsigned", { schedule: hostile() }, ["unsigned: the envelope has no sig"]],
    ["badly signed", sign(hostile(), other.privateKey), ["bad signature: not signed by the configured ops key"]],
    ["badly signed, for another screen", sign({ ...hostile(), screen: "sz-002" }, other.privateKey), ["bad signature: not signed by the configured ops key", "wrong screen: for sz-002, this is sz-001"]],
    ["signed, for another screen", sign({ ...hostile(), screen: "sz-002" }), ["wrong screen: for sz-002, this is sz-001"]],
    ["signed, stale", sign({ ...hostile(), version: 2 }), ["stale: version 2 is older than the current 6"]],
  ])("the hostile envelope %s is rejected without the document check ever running", (_name, raw, reasons) => {
    const validate = vi.fn(validateDocument);
    expect(reasonsOf(checkEnvelope(raw, { ...check, validate }))).toEqual(reasons);
    expect(validate).not.toHaveBeenCalled();
  });

  it("the same hostile document, correctly signed, is refused for its times, not checked for overlaps", () => {
    const reasons = reasonsOf(checkEnvelope(sign(hostile()), check));
    expect(reasons).toContain("malformed: campaigns.0 (a).start: 0001-01-01T00:00:00Z is before 2000-01-01T00:00:00Z");
    expect(reasons).toContain("malformed: campaigns.1 (b).end: 9999-12-31T00:00:00Z is more than 5 years after issuedAt 2026-12-01T00:00:00Z");
    expect(reasons.join("\n")).not.toContain("overlap");
  });

  it("suspensions and issuedAt far outside the horizon are refused, naming which", () => {
    const r = validateDocument(doc({ issuedAt: "1999-12-31T00:00:00Z", suspensions: [{ from: "2026-12-01T00:00:00Z", to: "2040-01-01T00:00:00Z", reason: "x", campaigns: null }] }));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.problems).toContain("issuedAt: 1999-12-31T00:00:00Z is before 2000-01-01T00:00:00Z");
      expect(r.problems).toContain("suspensions.0.to: 2040-01-01T00:00:00Z is more than 5 years after issuedAt 1999-12-31T00:00:00Z");
    }
  });

  it("buyouts inside the horizon but with too many daily windows are refused before any window is computed", () => {
    const dayparts = Array.from({ length: 50 }, (_, i) => ({ days: [1, 2, 3, 4, 5, 6, 7], from: `${String(Math.floor(i / 3)).padStart(2, "0")}:${String((i % 3) * 20).padStart(2, "0")}`, to: `${String(Math.floor(i / 3)).padStart(2, "0")}:${String((i % 3) * 20 + 10).padStart(2, "0")}` }));
    const x = (id: string): Record<string, unknown> => ({ id, customer: id, creatives: ["cola-15"], start: "2026-12-01T00:00:00Z", end: "2030-12-01T00:00:00Z", exclusive: true, dayparts });
    const r = validateDocument(doc({ campaigns: [x("a"), x("b")] }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems).toEqual([expect.stringMatching(new RegExp(`^campaigns: the exclusive campaigns span about \\d+ daily windows .*more than the limit of ${MAX_BUYOUT_WINDOWS}`))]);
  });

  it("a list over its limit is the only problem named: no element is looked at", () => {
    const campaigns = Array.from({ length: MAX_CAMPAIGNS + 1 }, (_, i) => ({ id: `c${i}`, customer: "x", creatives: ["ghost"], start: "0001-01-01T00:00:00Z", end: "9999-01-01T00:00:00Z", exclusive: true }));
    expect(validateDocument(doc({ campaigns }))).toEqual({ ok: false, problems: [`campaigns: ${MAX_CAMPAIGNS + 1} entries, more than the limit of ${MAX_CAMPAIGNS}`] });
    const r = validateDocument(doc({ campaigns: [{ ...(doc().campaigns as object[])[0], dayparts: Array.from({ length: 51 }, () => ({ days: [1], from: "10:00", to: "11:00" })) }] }));
    expect(r).toEqual({ ok: false, problems: ["campaigns.0.dayparts: 51 entries, more than the limit of 50"] });
  });

  it("campaigns asking for more plays an hour than MAX_TOTAL_PLAYS_PER_HOUR are refused before the planner could be asked", () => {
    const campaign = (i: number, rate: Record<string, number>): Record<string, unknown> => ({ id: `c${i}`, customer: "x", creatives: ["cola-15"], start: "2026-12-01T00:00:00Z", end: "2027-01-01T00:00:00Z", ...rate });
    const many = Array.from({ length: 2000 }, (_, i) => campaign(i, { playsPerHour: 3600 }));
    expect(validateDocument(doc({ campaigns: many }))).toEqual({
      ok: false,
      problems: [`campaigns: together they ask for 7200000 plays an hour (playsPerHour, playsPerDay / 24), more than the limit of ${MAX_TOTAL_PLAYS_PER_HOUR}`],
    });
    const atLimit = [...Array.from({ length: 9 }, (_, i) => campaign(i, { playsPerHour: 3600 })), campaign(9, { playsPerHour: 3599 }), campaign(10, { playsPerDay: 24 })];
    expect(validateDocument(doc({ campaigns: atLimit })).ok).toBe(true);
  });

  it("envelope text over MAX_ENVELOPE_BYTES is rejected before it is parsed, and recorded", () => {
    const events: AppendInput[] = [];
    const tmp = tempDir();
    try {
      const parse = vi.spyOn(JSON, "parse");
      const text = `{"schedule":${" ".repeat(MAX_ENVELOPE_BYTES)}}`;
      const result = applyEnvelopeText(deps(tmp.dir, events), text, "mqtt");
      expect(parse).not.toHaveBeenCalled();
      parse.mockRestore();
      expect(result).toEqual({ state: "rejected", version: null, reasons: [`too large: ${MAX_ENVELOPE_BYTES + 13} bytes, more than the limit of ${MAX_ENVELOPE_BYTES}`], moreReasons: 0 });
      expect(events.map((e) => (e.kind === "event" ? e.event.type : ""))).toEqual(["schedule.rejected"]);
    } finally {
      tmp.cleanup();
    }
  });
});

function deps(dir: string, events: AppendInput[], over: Partial<ApplyDeps> = {}): ApplyDeps {
  return { store: new ScheduleStore({ path: join(dir, "schedule.json") }), opsPublicKey: ops.publicKey, screenId: "sz-001", ledger: memoryLedger(events), now: () => new Date(NOW), ...over };
}

describe("defect 2: record, then apply", () => {
  let cleanup = (): void => {};
  afterEach(() => cleanup());

  it("a 2,000-campaign schedule with long ids is recorded in one event under the ledger's entry limit, ids summarised", () => {
    const tmp = tempDir();
    cleanup = tmp.cleanup;
    const db = openDatabase(join(tmp.dir, "ledger.db"));
    try {
      const ledger = new Ledger({ db, screenId: "sz-001", keys: generateKeyPairSync("ed25519"), clock: fixedClock(new Date(NOW)) });
      const id = (i: number): string => `${"c".repeat(120)}-${String(i).padStart(4, "0")}`;
      const campaigns = Array.from({ length: MAX_CAMPAIGNS }, (_, i) => ({ id: id(i), customer: "x", creatives: ["cola-15"], start: "2026-12-01T00:00:00Z", end: "2027-01-01T00:00:00Z", playsPerDay: 1 }));
      const result = applyEnvelope({ ...deps(tmp.dir, []), ledger }, sign(doc({ campaigns })), "file:big.json", "local");
      expect(result).toMatchObject({ state: "applied", version: 7 });
      const entry = ledger.lastEvent("schedule.applied");
      expect(entry?.event).toMatchObject({ version: 7, campaignCount: MAX_CAMPAIGNS, scheduleSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect(entry?.event.campaigns).toEqual(campaigns.slice(0, MAX_EVENT_CAMPAIGN_IDS).map((c) => c.id));
      expect(JSON.stringify(entry).length).toBeLessThan(MAX_ENTRY_CHARS);
    } finally {
      db.close();
    }
  });

  it("a ledger that cannot record the event leaves the store untouched", () => {
    const tmp = tempDir();
    cleanup = tmp.cleanup;
    const events: AppendInput[] = [];
    let failing = false;
    const d = deps(tmp.dir, events, { ledger: memoryLedger(events, { failAppends: () => failing }) });
    expect(applyEnvelope(d, sign(doc({ version: 8 })), "test")).toMatchObject({ state: "applied", version: 8 });
    failing = true;
    expect(() => applyEnvelope(d, sign(doc({ version: 9 })), "test")).toThrow(ScheduleApplyError);
    expect(() => applyEnvelope(d, sign(doc({ version: 9 })), "test")).toThrow(/^schedule v9 not applied: the ledger could not record it \(ledger append refused: disk full \(test\)\); the schedule in force is unchanged$/);
    expect(d.store.current()?.document.version).toBe(8);
  });

  it("a crash between record and store: the same envelope again completes the store, once; an older one stays refused", () => {
    const tmp = tempDir();
    cleanup = tmp.cleanup;
    const events: AppendInput[] = [];
    const store = new ScheduleStore({ path: join(tmp.dir, "schedule.json") });
    const d = deps(tmp.dir, events, { store });
    expect(applyEnvelope(d, sign(doc({ version: 8 })), "test")).toMatchObject({ state: "applied" });
    const save = vi.spyOn(store, "save").mockImplementationOnce(() => {
      throw new Error("power cut (test)");
    });
    expect(() => applyEnvelope(d, sign(doc({ version: 9 })), "test")).toThrow(/recorded in the ledger but could not be stored \(power cut \(test\)\); deliver it again/);
    save.mockRestore();
    expect(store.current()?.document.version).toBe(8);
    expect(applyEnvelope(d, sign(doc({ version: 8 })), "test")).toMatchObject({ state: "rejected", reasons: ["stale: version 8 is older than the last applied (ledger) 9"] });
    expect(applyEnvelope(d, sign(doc({ version: 9, fill: ["cola-15", "cola-15"] })), "test")).toMatchObject({ state: "rejected", reasons: ["stale: version 9 was applied already, with other content"] });
    expect(applyEnvelope(d, sign(doc({ version: 9 })), "test")).toEqual({ state: "applied", version: 9, previousVersion: 8, completed: true });
    expect(store.current()?.document.version).toBe(9);
    expect(applyEnvelope(d, sign(doc({ version: 9 })), "test")).toEqual({ state: "unchanged", version: 9 });
    const applied = events.filter((e) => e.kind === "event" && e.event.type === "schedule.applied").map((e) => (e.kind === "event" ? e.event.version : 0));
    expect(applied).toEqual([8, 9]);
  });
});

describe("defect 3: no downgrade, no implausible version, nothing issued in the future", () => {
  it("deleting the schedule file does not let an older version in: the ledger remembers", () => {
    const tmp = tempDir();
    try {
      const events: AppendInput[] = [];
      const d = deps(tmp.dir, events);
      expect(applyEnvelope(d, sign(doc({ version: 9 })), "test")).toMatchObject({ state: "applied" });
      rmSync(join(tmp.dir, "schedule.json"));
      expect(existsSync(join(tmp.dir, "schedule.json"))).toBe(false);
      expect(applyEnvelope(d, sign(doc({ version: 8 })), "test")).toMatchObject({ state: "rejected", reasons: ["stale: version 8 is older than the last applied (ledger) 9"] });
      expect(d.store.current()).toBeNull();
    } finally {
      tmp.cleanup();
    }
  });

  it("a version more than MAX_VERSION_STEP above the current one is implausible", () => {
    expect(reasonsOf(checkEnvelope(sign(doc({ version: 6 + 1e12 + 1 })), check))).toEqual(["implausible version: 1000000000007 is more than 1000000000000 above the current 6"]);
    expect(checkEnvelope(sign(doc({ version: 6 + 1e12 })), check).outcome).toBe("accept");
  });

  it("a screen with no schedule yet refuses a first version above MAX_FIRST_VERSION: 2^53 - 1 would leave every later schedule stale for good", () => {
    const fresh = { ...check, currentVersion: null, lastApplied: null };
    expect(reasonsOf(checkEnvelope(sign(doc({ version: Number.MAX_SAFE_INTEGER })), fresh))).toEqual([
      `implausible version: ${Number.MAX_SAFE_INTEGER} is more than ${MAX_FIRST_VERSION}, the highest first version a screen accepts`,
    ]);
    expect(checkEnvelope(sign(doc({ version: MAX_FIRST_VERSION })), fresh).outcome).toBe("accept");
    expect(checkEnvelope(sign(doc({ version: Date.parse("2026-12-01T00:00:00Z") })), fresh).outcome).toBe("accept"); // a millisecond timestamp
  });

  it("issuedAt more than 10 minutes ahead of the agent's clock is refused; within the allowance it is accepted", () => {
    const at = (iso: string): ReturnType<typeof checkEnvelope> => checkEnvelope(sign(doc({ issuedAt: iso })), check);
    expect(reasonsOf(at("2026-12-01T01:11:00Z"))).toEqual([
      "issued in the future: issuedAt 2026-12-01T01:11:00Z is 11 minutes ahead of this agent's clock (2026-12-01T01:00:00.000Z); at most 10 are allowed",
    ]);
    expect(at("2026-12-01T01:09:00Z").outcome).toBe("accept");
  });
});

describe("defect 4: where a schedule came from decides which creative URLs it may name", () => {
  const withFile = (): Record<string, unknown> => doc({ creatives: [...(doc().creatives as object[]), { id: "house", url: "file:///srv/house.mp4", sha256: HEX, durationMs: 30000, approved: true }] });

  it("over the network (the default) a file: URL is refused; from local media it is accepted", () => {
    const reason = "creatives.1 (house): a file: URL in a schedule delivered over the network; only http: and https: are allowed (file: is for `schedule load` from local media)";
    expect(reasonsOf(checkEnvelope(sign(withFile()), check))).toEqual([reason]);
    expect(reasonsOf(checkEnvelope(sign(withFile()), { ...check, origin: "network" }))).toEqual([reason]);
    expect(checkEnvelope(sign(withFile()), { ...check, origin: "local" }).outcome).toBe("accept");
    const tmp = tempDir();
    try {
      expect(applyEnvelope(deps(tmp.dir, []), sign(withFile()), "mqtt")).toMatchObject({ state: "rejected", reasons: [reason] });
      expect(applyEnvelope(deps(tmp.dir, []), sign(withFile()), "file:usb", "local")).toMatchObject({ state: "applied" });
    } finally {
      tmp.cleanup();
    }
  });

  it.each([
    ["a second line after a good URL", "https://cdn.example/a.mp4\njavascript:alert(1)"],
    ["a script URL before a good one", "javascript:x\nhttps://cdn.example/a.mp4"],
    ["a trailing newline", "https://cdn.example/a.mp4\n"],
    ["a space inside", "https://cdn.example/a b.mp4"],
    ["a NUL inside", "https://cdn.example/a\u0000.mp4"],
    ["no host", "https:///a.mp4"],
    ["another scheme", "ftp://cdn.example/a.mp4"],
    ["a bare file:", "file://"],
  ])("the URL pattern is anchored at both ends: %s is refused", (_name, url) => {
    const r = validateDocument(doc({ creatives: [{ id: "cola-15", url, sha256: HEX, durationMs: 15000, approved: true }] }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems).toEqual([expect.stringMatching(/^creatives\.0\.url: an https:, http: or file: URL, one token/)]);
  });
});
