// Two appliers at once (a daemon's MQTT delivery and a technician's `schedule load`, or two
// loads): the floor read, the record and the store write must be one step, or an older version
// lands after a newer one and the ledger's previousVersion lies.
import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKeyFiles, publicKeyPem, signCanonical } from "../../../agent/crypto/index.js";
import { ScheduleStore } from "../../../agent/playback/schedule/index.js";
import { LedgerReader } from "../../../agent/proofs/index.js";
import { openDatabase } from "../../../agent/store/index.js";
import { tempDir } from "../../helpers/tmp.js";

const WORKER = join(import.meta.dirname, "apply-worker.mjs");
const tmp = tempDir("ledagent-apply-race-");
const dataDir = join(tmp.dir, "data");
const ops = generateKeyPairSync("ed25519");
const opsPub = join(tmp.dir, "ops.pub.pem");

function envelopeFile(version: number): string {
  const schedule = {
    kind: "ledagent.schedule/v1",
    screen: "sz-race-001",
    version,
    issuedAt: "2026-11-01T00:00:00Z",
    timezone: "UTC",
    creatives: [{ id: "house", url: "file:///srv/house.mp4", sha256: "a".repeat(64), durationMs: 10000, approved: true }],
    campaigns: [],
    fill: ["house"],
  };
  const path = join(tmp.dir, `v${version}.json`);
  writeFileSync(path, JSON.stringify({ schedule, sig: signCanonical(schedule, ops.privateKey) }));
  return path;
}

function worker(files: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER, dataDir, opsPub, ...files], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`worker exited ${code}: ${err}`))));
  });
}

beforeAll(() => {
  createKeyFiles(join(dataDir, "keys", "device.key"), join(dataDir, "keys", "device.pub.pem"));
  writeFileSync(opsPub, publicKeyPem(ops.publicKey));
});
afterAll(() => tmp.cleanup());

describe("schedule applies from two processes at once", () => {
  it("never let an older version in after a newer one; the store ends on the ledger's last applied version", async () => {
    // One worker applies 2, 4, 6 …, the other 1, 3, 5 …: without one applier at a time, a worker
    // that read the floor before the other's apply records and stores its older version after it.
    const evens = Array.from({ length: 30 }, (_, i) => envelopeFile(2 * (i + 1)));
    const odds = Array.from({ length: 30 }, (_, i) => envelopeFile(2 * i + 1));
    await Promise.all([worker(evens), worker(odds)]);
    const db = openDatabase(join(dataDir, "ledagent.db"));
    try {
      const applied = [...new LedgerReader(db).events({ type: "schedule.applied" })].map((e) => e.event as unknown as { version: number; previousVersion: number | null });
      expect(applied.length).toBeGreaterThan(1);
      for (let i = 1; i < applied.length; i++) {
        expect(applied[i].version, `applied #${i}`).toBeGreaterThan(applied[i - 1].version);
        expect(applied[i].previousVersion, `applied #${i}`).toBe(applied[i - 1].version);
      }
      expect(new ScheduleStore({ path: join(dataDir, "schedule.json") }).current()?.document.version).toBe(applied.at(-1)?.version);
    } finally {
      db.close();
    }
  });
});
