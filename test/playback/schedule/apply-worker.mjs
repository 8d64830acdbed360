// Applies the envelopes named on the command line, in order, as fast as it can, each through the
// real store and ledger (as `schedule load` does), printing one line per outcome. The concurrency
// test runs two of these at once. Usage: apply-worker.mjs DATA_DIR OPS_PUB ENVELOPE…
import { readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { loadPrivateKey, loadPublicKey } from "../../../dist/agent/crypto/index.js";
import { applyEnvelopeText, ScheduleStore } from "../../../dist/agent/playback/schedule/index.js";
import { Ledger, systemClock } from "../../../dist/agent/proofs/index.js";
import { openDatabase } from "../../../dist/agent/store/index.js";

const [dataDir, opsPub, ...files] = process.argv.slice(2);
const keys = loadPrivateKey(join(dataDir, "keys", "device.key"));
const db = openDatabase(join(dataDir, "ledagent.db"));
const ledger = new Ledger({ db, screenId: "sz-race-001", keys, clock: systemClock() });
const deps = { store: new ScheduleStore({ path: join(dataDir, "schedule.json") }), opsPublicKey: loadPublicKey(opsPub), screenId: "sz-race-001", ledger, now: () => new Date() };
for (const file of files) {
  const r = applyEnvelopeText(deps, readFileSync(file), `file:${file}`, "local");
  writeSync(1, `${r.state} ${r.version}\n`);
}
db.close();
