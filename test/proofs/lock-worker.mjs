// Holds the ledger's writer lock for the writer-lock tests: takes it, prints "took" (or "busy
// CODE"), and keeps it until its stdin ends, then releases it and exits. With --on-go it first
// says "ready" and waits for a "go" line, so that several workers try at the same instant.
// Usage: lock-worker.mjs DB_PATH [--on-go]
import { takeWriterLock } from "../../dist/agent/proofs/writer-lock.js";

const [dbPath, flag] = process.argv.slice(2);
let release = null;

function attempt() {
  try {
    release = takeWriterLock(dbPath);
    process.stdout.write("took\n");
  } catch (err) {
    process.stdout.write(`busy ${err.code ?? err.message}\n`);
  }
}

let buffered = "";
let tried = false;
if (flag === "--on-go") {
  process.stdin.on("data", (chunk) => {
    buffered += chunk.toString();
    if (!tried && buffered.includes("go\n")) {
      tried = true;
      attempt();
    }
  });
  process.stdout.write("ready\n");
} else {
  attempt();
  process.stdin.resume();
}
process.stdin.on("end", () => {
  release?.();
  process.exit(0);
});
