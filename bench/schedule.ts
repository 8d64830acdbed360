// Schedule figures: rejecting the hostile unsigned envelope (two buyouts spanning years 1–9999,
// which once took minutes and over 1 GB) and applying a large legitimate one (500 campaigns),
// each against JSON.parse + signature verify of the same bytes, measured in the same run.
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signCanonical, verifyCanonical } from "../agent/crypto/index.js";
import { applyEnvelopeText, checkEnvelope, ScheduleStore, type ScheduleLedger } from "../agent/playback/schedule/index.js";
import { fixedClock, Ledger } from "../agent/proofs/index.js";
import { openDatabase } from "../agent/store/index.js";
import type { BenchReport } from "./report.js";

const HEX = "a".repeat(64);
const NOW = Date.parse("2026-12-01T01:00:00Z");
const ops = generateKeyPairSync("ed25519");

function document(campaigns: unknown[], version: number): Record<string, unknown> {
  return {
    kind: "ledagent.schedule/v1", screen: "bench-001", version, issuedAt: "2026-12-01T00:00:00Z", timezone: "Asia/Shanghai",
    creatives: Array.from({ length: 50 }, (_, i) => ({ id: `creative-${i}`, url: `https://cdn.example/c${i}.mp4`, sha256: HEX, durationMs: 15000, approved: true })),
    campaigns, fill: ["creative-0"],
  };
}

function hostileText(): string {
  const buyout = (id: string): Record<string, unknown> => ({
    id, customer: id, creatives: ["creative-1"], start: "0001-01-01T00:00:00Z", end: "9999-12-31T00:00:00Z", exclusive: true,
    dayparts: [{ days: [1, 2, 3, 4, 5, 6, 7], from: "10:00", to: "11:00" }],
  });
  return JSON.stringify({ schedule: document([buyout("a"), buyout("b")], 2) });
}

function largeText(version: number): string {
  const campaigns = Array.from({ length: 500 }, (_, i) => ({
    id: `campaign-${i}`, customer: `customer-${i % 40}`, category: `cat-${i % 12}`, creatives: [`creative-${i % 50}`],
    start: "2026-12-01T00:00:00+08:00", end: "2027-03-01T00:00:00+08:00", playsPerHour: 1 + (i % 6), priority: i % 10,
    dayparts: [{ days: [1, 2, 3, 4, 5], from: "07:00", to: "22:00" }],
  }));
  const schedule = document(campaigns, version);
  return JSON.stringify({ schedule, sig: signCanonical(schedule, ops.privateKey) });
}

/** Median milliseconds of `fn` over `runs` calls (after one warm-up). */
function medianMs(runs: number, fn: (i: number) => void): number {
  fn(-1);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn(i);
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)];
}

/** JSON.parse + Ed25519 verify of canonical(schedule): the least any delivery costs. */
function baseline(text: string): void {
  const raw = JSON.parse(text) as { schedule: unknown; sig?: string };
  verifyCanonical(raw.schedule, raw.sig ?? "A".repeat(88), ops.publicKey);
}

const memoryLedger = (): ScheduleLedger => ({ append: () => undefined, lastEvent: () => null });

export async function bench(report: BenchReport): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "ledagent-bench-schedule-"));
  try {
    const store = new ScheduleStore({ path: join(dir, "schedule.json") });
    const deps = { store, opsPublicKey: ops.publicKey, screenId: "bench-001", ledger: memoryLedger(), now: () => new Date(NOW) };
    const hostile = hostileText();
    const base = medianMs(50, () => baseline(hostile));
    const reject = medianMs(50, () => {
      if (applyEnvelopeText(deps, hostile, "bench").state !== "rejected") throw new Error("the hostile envelope was not rejected");
    });
    report.figure("schedule", "reject the hostile unsigned envelope (buyouts 0001–9999)", reject, "ms", `${(reject / base).toFixed(1)}× JSON.parse + verify of the same bytes (${base.toFixed(3)} ms); was minutes and > 1 GB`);
    const badlySigned = JSON.stringify({ ...(JSON.parse(hostile) as object), sig: signCanonical({ other: true }, ops.privateKey) });
    const badBase = medianMs(50, () => baseline(badlySigned));
    const badReject = medianMs(50, () => {
      if (applyEnvelopeText(deps, badlySigned, "bench").state !== "rejected") throw new Error("the badly signed envelope was not rejected");
    });
    report.figure("schedule", "reject the same envelope badly signed", badReject, "ms", `${(badReject / badBase).toFixed(1)}× JSON.parse + verify of the same bytes (${badBase.toFixed(3)} ms)`);

    const large = largeText(1);
    const largeBase = medianMs(20, () => baseline(large));
    const check = medianMs(20, () => {
      if (checkEnvelope(JSON.parse(large), { opsPublicKey: ops.publicKey, screenId: "bench-001", currentVersion: null, now: NOW }).outcome !== "accept") throw new Error("the large schedule was not accepted");
    });
    report.figure("schedule", "check a signed 500-campaign schedule", check, "ms", `${(check / largeBase).toFixed(1)}× JSON.parse + verify of the same ${(large.length / 1024).toFixed(0)} KiB (${largeBase.toFixed(2)} ms)`);

    // The whole apply, with a real ledger (synchronous=FULL) and the durable store write.
    const db = openDatabase(join(dir, "ledger.db"));
    try {
      const ledger = new Ledger({ db, screenId: "bench-001", keys: generateKeyPairSync("ed25519"), clock: fixedClock(new Date(NOW)) });
      const versions = Array.from({ length: 12 }, (_, i) => largeText(i + 1));
      let next = 0;
      const apply = medianMs(10, () => {
        if (applyEnvelopeText({ ...deps, ledger }, versions[next++], "bench", "local").state !== "applied") throw new Error("the large schedule was not applied");
      });
      report.figure("schedule", "apply a signed 500-campaign schedule (ledger + store, durable)", apply, "ms", `${(apply / largeBase).toFixed(1)}× JSON.parse + verify; the rest is the check, one ledger commit and one durable file write`);
    } finally {
      db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
