// Appends events to the ledger as fast as it can, printing "seq hash" once each append returned.
// The crash test kills it with SIGKILL at random instants. Usage: append-worker.mjs DATA_DIR [COUNT]
import { writeSync } from "node:fs";
import { join } from "node:path";
import { loadPrivateKey } from "../../dist/agent/crypto/index.js";
import { entryHash, Ledger, systemClock } from "../../dist/agent/proofs/index.js";
import { openDatabase } from "../../dist/agent/store/index.js";

const [dataDir, countArg] = process.argv.slice(2);
const count = countArg ? Number(countArg) : Infinity;
const keys = loadPrivateKey(join(dataDir, "keys", "device.key"));
const db = openDatabase(join(dataDir, "ledagent.db"));
const ledger = new Ledger({ db, screenId: "crash-test", keys, clock: systemClock() });
writeSync(1, "ready\n");
for (let i = 0; i < count; i++) {
  const entry = ledger.event("technician.note", { text: `append ${process.pid}/${i}` });
  writeSync(1, `${entry.seq} ${entryHash(entry)}\n`);
}
db.close();
