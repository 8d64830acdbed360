// A racer for the ledger's writer lock that races again and again, so a test of many rounds starts
// its processes once (each start loads the store: about a quarter of a second of CPU). Says
// "ready", then for each line on stdin: "go" tries to take the lock and answers "took" or
// "busy CODE"; "release" lets go of it if held and answers "released". Exits when stdin ends.
// Usage: lock-racer.mjs DB_PATH
import { createInterface } from "node:readline";
import { takeWriterLock } from "../../dist/agent/proofs/writer-lock.js";

const [dbPath] = process.argv.slice(2);
let release = null;

createInterface({ input: process.stdin }).on("line", (line) => {
  if (line === "go") {
    try {
      release = takeWriterLock(dbPath);
      process.stdout.write("took\n");
    } catch (err) {
      process.stdout.write(`busy ${err.code ?? err.message}\n`);
    }
  } else if (line === "release") {
    release?.();
    release = null;
    process.stdout.write("released\n");
  }
}).on("close", () => {
  release?.();
  process.exit(0);
});
process.stdout.write("ready\n");
