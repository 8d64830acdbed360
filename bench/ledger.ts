// Ledger figures: append rate against raw single-row synchronous=FULL inserts measured in the same
// run, verify rate, and a 100k-entry export and verify each in its own process (time, peak RSS).
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
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

function samplePlay(i: number): PlayRecord {
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
    const appendRates: number[] = [];
    for (let round = 0; round < SLICES; round++) {
      rawRates.push(rate(SECONDS / SLICES, () => ins.run(++rawSeq, body, "c".repeat(64))));
      appendRates.push(
        rate(SECONDS / SLICES, () => {
          clock.advance(15_000);
          ledger.append({ kind: "play", play: samplePlay(appended++) });
        }),
      );
    }
    raw.close();
    const rawRate = median(rawRates);
    const appendRate = median(appendRates);
    report.figure("ledger", "raw insert (synchronous=FULL, 1 row per commit)", rawRate, "rows/s");
    report.figure("ledger", "append (sign + chain + commit)", appendRate, "entries/s", `${((appendRate / rawRate) * 100).toFixed(0)}% of raw insert; target ≥ 50%`);

    // Fill to 100k entries for the export/verify figures; durability is not what is measured here.
    db.pragma("synchronous = OFF");
    const fillTo = 100_000;
    for (let i = ledger.head()?.seq ?? 0; i < fillTo; i++) {
      clock.advance(15_000);
      ledger.append(i % 10 === 0 ? { kind: "event", event: { type: "brightness.changed", percent: i % 100 } } : { kind: "play", play: samplePlay(i) });
    }
    const sample = [...ledger.rows(1, 20_000)].map((r) => r.body);
    db.close();
    const t0 = performance.now();
    const v = await verifyLines(sample, { publicKey: keys.publicKey });
    if (!v.ok) throw new Error(v.message);
    report.figure("ledger", "verify (in memory, 20k entries)", sample.length / ((performance.now() - t0) / 1000), "entries/s", "target ≥ 3000");

    const out = join(dir, "export.jsonl");
    const pub = join(dir, "device.pub.pem");
    writeFileSync(pub, publicKeyPem(keys.publicKey));
    const ex = child(["export", join(dir, "ledger.db"), out]);
    report.figure("ledger", `export of ${ex.count} entries`, ex.ms / 1000, "s", `peak RSS ${ex.maxRssMiB.toFixed(0)} MiB; target < 150 MiB`);
    const ve = child(["verify", out, pub]);
    report.figure("ledger", `verify of ${ve.count} entries (file)`, ve.ms / 1000, "s", `${(ve.count / (ve.ms / 1000)).toFixed(0)} entries/s, peak RSS ${ve.maxRssMiB.toFixed(0)} MiB; target < 150 MiB`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
