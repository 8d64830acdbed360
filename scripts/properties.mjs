#!/usr/bin/env node
// `npm run properties`: every property test with at least 1,000 runs each and a fresh seed (or
// `--seed N` to replay one), for a nightly job or before a release. Prints the seed first, so a
// failure can be reproduced with `npm run properties -- --seed N`.
import { spawnSync } from "node:child_process";

const args = process.argv.slice(2);
const at = args.indexOf("--seed");
const seed = at >= 0 ? Number(args[at + 1]) : Math.floor(Math.random() * 2 ** 31);
if (!Number.isInteger(seed)) {
  console.error("properties: --seed takes an integer");
  process.exit(2);
}
const runs = process.env.LEDAGENT_PROPERTY_RUNS ?? "1000";
console.log(`properties: seed ${seed}, at least ${runs} runs each (replay: npm run properties -- --seed ${seed})`);
// Property tests live in files whose names say so (…propert….test.ts) or mark themselves with
// "property" in the test name.
const r = spawnSync("npx", ["vitest", "run", "--testNamePattern", "propert", "--testTimeout", "1800000"], {
  stdio: "inherit",
  env: { ...process.env, LEDAGENT_PROPERTY_RUNS: runs, LEDAGENT_PROPERTY_SEED: String(seed) },
});
process.exit(r.status ?? 1);
