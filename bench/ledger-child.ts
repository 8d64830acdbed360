// Runs one ledger export or verify in its own process, so its peak RSS is its own.
// Usage: ledger-child.js export DB OUT | verify FILE PUBKEY
import { createWriteStream } from "node:fs";
import { finished } from "node:stream/promises";
import { loadPublicKey } from "../agent/crypto/index.js";
import { exportJsonl, LedgerReader, verifyFile } from "../agent/proofs/index.js";
import { openDatabase } from "../agent/store/index.js";

const [mode, a, b] = process.argv.slice(2);
const started = performance.now();
let count = 0;
if (mode === "export") {
  const db = openDatabase(a);
  const out = createWriteStream(b);
  count = (await exportJsonl(new LedgerReader(db), {}, out)).lines;
  out.end();
  await finished(out);
  db.close();
} else {
  const r = await verifyFile(a, { publicKey: loadPublicKey(b) });
  if (!r.ok) throw new Error(r.message);
  count = r.entries;
}
const ms = performance.now() - started;
process.stdout.write(JSON.stringify({ count, ms, maxRssMiB: process.resourceUsage().maxRSS / 1024 }) + "\n");
