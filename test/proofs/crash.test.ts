// Kill -9 at random instants while appending, many times: every append that returned is on disk,
// and the ledger verifies. Two processes appending at once still make one unbroken chain.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKeyFiles } from "../../agent/crypto/index.js";
import { LedgerReader, verifyLines } from "../../agent/proofs/index.js";
import { openDatabase } from "../../agent/store/index.js";
import { tempDir } from "../helpers/tmp.js";

const WORKER = join(import.meta.dirname, "append-worker.mjs");

interface Run {
  acknowledged: Map<number, string>;
  signal: NodeJS.Signals | null;
  code: number | null;
}

function runWorker(dataDir: string, opts: { killAfterMs?: number; count?: number }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER, dataDir, ...(opts.count ? [String(opts.count)] : [])], { stdio: ["ignore", "pipe", "pipe"] });
    const acknowledged = new Map<number, string>();
    let buffered = "";
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.stdout.on("data", (c: Buffer) => {
      buffered += c.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        if (line === "ready") {
          if (opts.killAfterMs !== undefined) setTimeout(() => child.kill("SIGKILL"), opts.killAfterMs);
          continue;
        }
        const [seq, hash] = line.split(" ");
        acknowledged.set(Number(seq), hash);
      }
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code !== 0 && signal === null) reject(new Error(`worker failed (${code}): ${stderr}`));
      else resolve({ acknowledged, signal, code });
    });
  });
}

async function checkLedger(dataDir: string, publicKeyPath: string): Promise<{ seqs: Map<number, string>; head: number }> {
  const db = openDatabase(join(dataDir, "ledagent.db"), { integrityCheck: true });
  try {
    const reader = new LedgerReader(db);
    const rows = [...reader.rows()];
    // A worker killed before its first append (the first one signs the genesis and records the
    // key's mark: some 50 ms) leaves an empty ledger, which has nothing to verify and lost nothing.
    if (rows.length > 0) {
      const { loadPublicKey } = await import("../../agent/crypto/index.js");
      const result = await verifyLines(rows.map((r) => r.body), { publicKey: loadPublicKey(publicKeyPath) });
      expect(result.ok, JSON.stringify(result)).toBe(true);
    }
    return { seqs: new Map(rows.map((r) => [r.seq, r.hash])), head: rows.at(-1)?.seq ?? 0 };
  } finally {
    db.close();
  }
}

describe("crash safety", () => {
  const tmp = tempDir();
  const keyPath = join(tmp.dir, "keys", "device.key");
  const pubPath = join(tmp.dir, "keys", "device.pub.pem");
  beforeAll(() => createKeyFiles(keyPath, pubPath));
  afterAll(() => tmp.cleanup());

  it("SIGKILL at random instants never loses an acknowledged append nor breaks the chain", async () => {
    const kills = 25;
    let killedMidRun = 0;
    let everAcknowledged = 0;
    for (let i = 0; i < kills; i++) {
      const run = await runWorker(tmp.dir, { killAfterMs: 5 + Math.floor(Math.random() * 120) });
      if (run.signal === "SIGKILL") killedMidRun++;
      const { seqs } = await checkLedger(tmp.dir, pubPath);
      for (const [seq, hash] of run.acknowledged) expect(seqs.get(seq), `acknowledged seq ${seq} after kill ${i}`).toBe(hash);
      everAcknowledged += run.acknowledged.size;
    }
    expect(killedMidRun).toBe(kills);
    expect(everAcknowledged).toBeGreaterThan(kills); // the kills did land while appends were going on
  }, 120_000);

  it("two processes opening a brand-new ledger at once both migrate it safely", async () => {
    const fresh = tempDir();
    try {
      createKeyFiles(join(fresh.dir, "keys", "device.key"), join(fresh.dir, "keys", "device.pub.pem"));
      const [a, b] = await Promise.all([runWorker(fresh.dir, { count: 20 }), runWorker(fresh.dir, { count: 20 })]);
      expect(a.acknowledged.size + b.acknowledged.size).toBe(40);
      expect((await checkLedger(fresh.dir, join(fresh.dir, "keys", "device.pub.pem"))).head).toBe(40);
    } finally {
      fresh.cleanup();
    }
  }, 60_000);

  it("two processes appending at once make one contiguous, verifying chain", async () => {
    const before = (await checkLedger(tmp.dir, pubPath)).head;
    const [a, b] = await Promise.all([runWorker(tmp.dir, { count: 60 }), runWorker(tmp.dir, { count: 60 })]);
    const { seqs, head } = await checkLedger(tmp.dir, pubPath);
    expect(head).toBe(before + 120);
    for (const [seq, hash] of [...a.acknowledged, ...b.acknowledged]) expect(seqs.get(seq)).toBe(hash);
    expect(new Set([...a.acknowledged.keys(), ...b.acknowledged.keys()]).size).toBe(120);
  }, 60_000);
});
