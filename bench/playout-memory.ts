// Figure 2: the playout's resident memory over 500 short plays, in a fresh process that runs
// only the playout (bench/playout-rss-child.ts), so what is measured is the playout's own and
// nothing the bench process did before. mpv is another process and is not counted.
import { join } from "node:path";
import { AREA, forkChild, met, progress } from "./playout-common.js";
import { makeClip } from "./playout-rig.js";
import type { RssMessage } from "./playout-rss-child.js";
import type { BenchReport } from "./report.js";

const PLAYS = 500;
const EVERY = 50;
/** 1 s is the schedule format's shortest creative. */
const CLIP_SECONDS = 1;
/** Two 1 s campaigns at this rate each: a paid item every 2 s on average, 1 s fill between. */
const PLAYS_PER_HOUR = 900;
const TARGET_MIB = 80e6 / 2 ** 20;
/** Flat: the last half of the plays added at most this much. */
const FLAT_MIB = 2;

const signed = (n: number): string => `${n >= 0 ? "+" : "−"}${Math.abs(n).toFixed(1)}`;

export async function memoryFigures(report: BenchReport, dir: string): Promise<void> {
  progress(`figure 2: ${PLAYS} plays of ${CLIP_SECONDS} s clips in a child process (about ${Math.round((PLAYS * CLIP_SECONDS) / 60)} min)`);
  const clips = {
    paid: [makeClip(dir, "one", CLIP_SECONDS, "testsrc"), makeClip(dir, "two", CLIP_SECONDS, "rgbtestsrc")],
    fill: [makeClip(dir, "filler", CLIP_SECONDS, "smptebars"), makeClip(dir, "spacer", CLIP_SECONDS, "testsrc2")],
    playsPerHour: PLAYS_PER_HOUR,
  };
  const readings: Array<Extract<RssMessage, { type: "rss" }>> = [];
  let statuses: Record<string, number> = {};
  const { child, first } = forkChild("./playout-rss-child.js", [join(dir, "memory"), JSON.stringify(clips), String(PLAYS), String(EVERY)], ["--expose-gc"]);
  const finished = new Promise<void>((resolve, reject) => {
    const onMessage = (m: RssMessage): void => {
      if (m.type === "rss") {
        readings.push(m);
        if (m.plays > 0 && m.plays % (EVERY * 2) === 0) progress(`figure 2: ${m.plays}/${PLAYS} plays, RSS ${m.rssMiB.toFixed(1)} MiB`);
      } else if (m.type === "done") {
        statuses = m.statuses;
        resolve();
      } else reject(new Error(`the playout child failed: ${m.message}`));
    };
    void first.catch(() => undefined); // its exit is handled below
    child.on("message", (m) => onMessage(m as RssMessage));
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`the playout child exited with ${code}`))));
  });
  await finished;
  const at = (plays: number): Extract<RssMessage, { type: "rss" }> => {
    const r = readings.find((x) => x.plays === plays);
    if (!r) throw new Error(`no RSS reading at ${plays} plays (got ${readings.map((x) => x.plays).join(", ")})`);
    return r;
  };
  const imports = at(-1);
  const start = at(0);
  const half = at(PLAYS / 2);
  const end = at(PLAYS);
  const growth = end.rssMiB - half.rssMiB;
  const gc = end.gc ? "each reading after global.gc() (--expose-gc)" : "no global.gc: readings as they are";
  const series = readings.filter((r) => r.plays >= 0).map((r) => `${r.plays}: ${r.rssMiB.toFixed(1)}`).join(", ");
  const played = Object.entries(statuses).map(([s, n]) => `${n} ${s}`).join(", ");
  report.figure(AREA, "daemon RSS at start, before the first play (child)", start.rssMiB, "MiB", `the baseline: a fresh process that runs only the playout on real parts, read once playout.start() returned; heap used ${start.heapUsedMiB.toFixed(1)} MiB; node and the modules alone, before anything was built: ${imports.rssMiB.toFixed(1)} MiB; ${gc}`);
  report.figure(AREA, `daemon RSS after ${PLAYS} plays (child)`, end.rssMiB, "MiB", `${signed(end.rssMiB - start.rssMiB)} MiB against the start; heap used ${end.heapUsedMiB.toFixed(1)} MiB; ${PLAYS} plays (${played}) of ${CLIP_SECONDS} s clips (2 campaigns × ${PLAYS_PER_HOUR}/h and fill) in ${end.atS.toFixed(0)} s; mpv excluded (its own process); target ≤ 80 MB (${TARGET_MIB.toFixed(1)} MiB): ${met(end.rssMiB <= TARGET_MIB)}`);
  report.figure(AREA, `daemon RSS growth over the last ${PLAYS / 2} plays (child)`, growth, "MiB", `heap used ${(end.heapUsedMiB - half.heapUsedMiB).toFixed(2)} MiB of it; every ${EVERY} plays (plays: MiB) ${series}; target flat (≤ ${FLAT_MIB} MiB): ${met(growth <= FLAT_MIB)}`);
}
