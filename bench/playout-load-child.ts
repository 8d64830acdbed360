// Keeps a ledger busy from outside the playout: appends technician.note events to the same
// ledger file as fast as it can (each signed, chained and committed with synchronous=FULL), as a
// second writer such as `ledagent note` does (test/proofs/append-worker.mjs is the same loop).
// Forked with IPC: says "ready", appends until any message comes, then reports its count.
// Usage: playout-load-child.js DATA_DIR SCREEN_ID
import { join } from "node:path";
import { loadPrivateKey } from "../agent/crypto/index.js";
import { Ledger, systemClock } from "../agent/proofs/index.js";
import { openDatabase } from "../agent/store/index.js";

export interface LoadReport {
  type: "done";
  appends: number;
  seconds: number;
}

const [dataDir, screenId] = process.argv.slice(2);
const keys = loadPrivateKey(join(dataDir, "keys", "device.key"));
const db = openDatabase(join(dataDir, "ledagent.db"));
const ledger = new Ledger({ db, screenId, keys, clock: systemClock() });
const send = (m: unknown): void => void process.send?.(m);

let stopping = false;
let appends = 0;
const began = performance.now();
process.on("message", () => (stopping = true));

/** Ten appends, then a turn of the event loop so the stop message can arrive. */
function batch(): void {
  for (let i = 0; i < 10 && !stopping; i++) {
    ledger.event("technician.note", { text: `bench load ${process.pid}/${appends}` });
    appends++;
  }
  if (!stopping) {
    setImmediate(batch);
    return;
  }
  const report: LoadReport = { type: "done", appends, seconds: (performance.now() - began) / 1000 };
  ledger.close();
  db.close();
  send(report);
  process.disconnect?.();
}

send({ type: "ready" });
batch();
