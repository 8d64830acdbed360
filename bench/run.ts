// `npm run bench`: every area's figures, each measured against a baseline taken in the same run.
// `npm run bench -- ledger planner` runs only the named areas.
import { consoleReport, type BenchReport } from "./report.js";

type Bench = (report: BenchReport) => Promise<void>;

const areas: Record<string, () => Promise<Bench>> = {
  ledger: async () => (await import("./ledger.js")).bench,
  controller: async () => (await import("./controller.js")).bench,
  creatives: async () => (await import("./creatives.js")).bench,
  planner: async () => (await import("./planner.js")).bench,
  schedule: async () => (await import("./schedule.js")).bench,
  player: async () => (await import("./player.js")).bench,
  playout: async () => (await import("./playout.js")).bench,
  link: async () => (await import("./link.js")).bench,
  box: async () => (await import("./box.js")).bench,
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const unknown = wanted.filter((a) => !(a in areas));
if (unknown.length > 0) {
  console.error(`bench: no area ${unknown.join(", ")} (areas: ${Object.keys(areas).join(", ")})`);
  process.exit(2);
}
const report = consoleReport();
let failed = false;
for (const [name, load] of Object.entries(areas)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  try {
    await (await load())(report);
  } catch (err) {
    failed = true;
    console.log(`${name}: failed: ${(err as Error).message}`);
  }
}
process.exit(failed ? 1 : 0);
