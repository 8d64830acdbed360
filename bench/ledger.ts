// Ledger figures: append rate against raw single-row synchronous=FULL inserts measured in the same
// run, verify rate, and a 100k-entry export and verify each in its own process (time, peak RSS).
import { execFileSync } from "node:child_process";
import { generateKeyPairSync, sign } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { publicKeyPem } from "../agent/crypto/index.js";
import { fixedClock, Ledger, verifyLines, type PlayRecord } from "../agent/proofs/index.js";
import { openDatabase } from "../agent/store/index.js";
import type { BenchReport } from "./report.js";

const SECONDS = 4;
const SLICES = 8;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export function samplePlay(i: number): PlayRecord {
  const t = new Date(Date.UTC(2026, 11, 1) + i * 15_000).toISOString();
  return {
    campaign: `campaign-${i % 50}`, customer: `customer-${i % 20}`, creative: `creative-${i % 80}`,
    creativeSha256: "a".repeat(64), renditionSha256: "b".repeat(64), scheduleVersion: 7,
    plannedAt: t, startedAt: t, endedAt: t, durationMs: 15_000, status: "completed", makeGood: false,
    screenState: { verified: true, online: true, brightness: 85, blackout: false },
  };
}

/** Runs `fn` repeatedly for about `seconds`; returns operations per second. */
function rate(seconds: number, fn: (i: number) => void): number {
  const start = performance.now();
  let i = 0;
  while (performance.now() - start < seconds * 1000) fn(i++);
  return i / ((performance.now() - start) / 1000);
}

function child(args: string[]): { count: number; ms: number; maxRssMiB: number } {
  const script = fileURLToPath(new URL("./ledger-child.js", import.meta.url));
  return JSON.parse(execFileSync(process.execPath, [script, ...args], { encoding: "utf8" })) as { count: number; ms: number; maxRssMiB: number };
}

export async function bench(report: BenchReport): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "ledagent-bench-"));
  try {
    const keys = generateKeyPairSync("ed25519");
    const body = JSON.stringify({ ...samplePlay(0), sig: "x".repeat(88), prev: "0".repeat(64) });

    // Raw inserts and ledger appends alternate in short slices, so whatever else the machine is
    // doing weighs on both alike.
    const raw = openDatabase(join(dir, "raw.db"));
    raw.exec("CREATE TABLE t (seq INTEGER PRIMARY KEY, body TEXT NOT NULL, hash TEXT NOT NULL)");
    const ins = raw.prepare("INSERT INTO t (seq, body, hash) VALUES (?, ?, ?)");
    const db = openDatabase(join(dir, "ledger.db"));
    const clock = fixedClock(new Date("2026-12-01T00:00:00Z"));
    const ledger = new Ledger({ db, screenId: "bench-001", keys, clock });
    let rawSeq = 0;
    let appended = 0;
    const rawRates: number[] = [];
    const rawAfterSignRates: number[] = [];
    const appendRates: number[] = [];
    const bodyBytes = Buffer.from(body);
    for (let round = 0; round < SLICES; round++) {
      rawRates.push(rate(SECONDS / SLICES, () => ins.run(++rawSeq, body, "c".repeat(64))));
      // The same raw insert, each after one Ed25519 signature: on virtual disks a commit that
      // follows CPU work costs more than one right after another, and this shows how much.
      rawAfterSignRates.push(
        rate(SECONDS / SLICES, () => {
          sign(null, bodyBytes, keys.privateKey);
          ins.run(++rawSeq, body, "c".repeat(64));
        }),
      );
      appendRates.push(
        rate(SECONDS / SLICES, () => {
          clock.advance(15_000);
          ledger.append({ kind: "play", play: samplePlay(appended++) });
        }),
      );
    }
    raw.close();
    const rawRate = median(rawRates);
    const rawAfterSignRate = median(rawAfterSignRates);
    const appendRate = median(appendRates);
    report.figure("ledger", "raw insert (synchronous=FULL, 1 row per commit)", rawRate, "rows/s");
    report.figure("ledger", "append (sign + chain + commit)", appendRate, "entries/s", `${((appendRate / rawRate) * 100).toFixed(0)}% of raw insert; target ≥ 50%: ${appendRate / rawRate >= 0.5 ? "met" : "MISSED"}`);
    report.figure("ledger", "raw insert after one signature each", rawAfterSignRate, "rows/s", `append is ${((appendRate / rawAfterSignRate) * 100).toFixed(0)}% of this; the rest of the gap is the disk's commit cost after CPU work`);

    // Fill to 100k entries for the export/verify figures; durability is not what is measured here.
    // The fill doubles as a measure of the append's own work (build, validate, sign, hash,
    // insert) without the commit's fsync: what a device's disk adds on top of this is its fsync.
    db.pragma("synchronous = OFF");
    const fillTo = 100_000;
    const fillFrom = ledger.head()?.seq ?? 0;
    const fillStart = performance.now();
    for (let i = fillFrom; i < fillTo; i++) {
      clock.advance(15_000);
      ledger.append(i % 10 === 0 ? { kind: "event", event: { type: "brightness.changed", percent: i % 100 } } : { kind: "play", play: samplePlay(i) });
    }
    const cpuUs = ((performance.now() - fillStart) * 1000) / (fillTo - fillFrom);
    report.figure("ledger", "append work without fsync (synchronous=OFF)", cpuUs, "µs/entry", `raw commit here: ${(1e6 / rawRate).toFixed(0)} µs; on a disk whose fsync takes 1 ms, append ≈ ${((1000 / (1000 + cpuUs)) * 100).toFixed(0)}% of raw`);
    const sample = [...ledger.rows(1, 20_000)].map((r) => r.body);
    db.close();
    const t0 = performance.now();
    const v = await verifyLines(sample, { publicKey: keys.publicKey });
    if (!v.ok) throw new Error(v.message);
    const verifyRate = sample.length / ((performance.now() - t0) / 1000);
    report.figure("ledger", "verify (in memory, 20k entries)", verifyRate, "entries/s", `target ≥ 3000: ${verifyRate >= 3000 ? "met" : "MISSED"}`);

    const out = join(dir, "export.jsonl");
    const pub = join(dir, "device.pub.pem");
    writeFileSync(pub, publicKeyPem(keys.publicKey));
    const ex = child(["export", join(dir, "ledger.db"), out]);
    report.figure("ledger", `export of ${ex.count} entries`, ex.ms / 1000, "s", `peak RSS ${ex.maxRssMiB.toFixed(0)} MiB; target < 150 MiB: ${ex.maxRssMiB < 150 ? "met" : "MISSED"}`);
    const ve = child(["verify", out, pub]);
    report.figure("ledger", `verify of ${ve.count} entries (file)`, ve.ms / 1000, "s", `${(ve.count / (ve.ms / 1000)).toFixed(0)} entries/s, peak RSS ${ve.maxRssMiB.toFixed(0)} MiB; target < 150 MiB: ${ve.maxRssMiB < 150 ? "met" : "MISSED"}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
