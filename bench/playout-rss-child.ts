// The playout alone in a fresh process, for its resident memory: builds the rig on a data
// directory of its own, plays a schedule of 1 s clips, and reports its RSS over IPC before the
// first play and every `every` plays up to `plays`. mpv is another process and is not counted.
// With --expose-gc each reading follows a full collection, so what grows is kept, not garbage.
// A reading at plays -1 comes first: node and the playout's modules loaded, nothing built.
// Usage (forked): playout-rss-child.js DATA_DIR CLIPS_JSON PLAYS EVERY
import { buildPlayoutRig, benchSchedule, fillCache, type BenchClip } from "./playout-rig.js";

export type RssMessage =
  | { type: "rss"; plays: number; rssMiB: number; heapUsedMiB: number; gc: boolean; atS: number }
  | { type: "done"; statuses: Record<string, number> }
  | { type: "error"; message: string };

const [dataDir, clipsJson, playsArg, everyArg] = process.argv.slice(2);
const clips = JSON.parse(clipsJson) as { paid: BenchClip[]; fill: BenchClip[]; playsPerHour: number };
const total = Number(playsArg);
const every = Number(everyArg);
// global.gc exists only under --expose-gc; it is not in @types/node's globals.
const gc = (globalThis as { gc?: () => void }).gc;
const began = performance.now();
const send = (m: RssMessage): void => void process.send?.(m);

function reading(plays: number): void {
  gc?.();
  const mem = process.memoryUsage();
  send({ type: "rss", plays, rssMiB: mem.rss / 2 ** 20, heapUsedMiB: mem.heapUsed / 2 ** 20, gc: gc !== undefined, atS: (performance.now() - began) / 1000 });
}

try {
  reading(-1);
  const rig = buildPlayoutRig(dataDir);
  const applied = rig.apply(benchSchedule({ version: 1, ...clips }));
  if (applied.state !== "applied") throw new Error(`schedule not applied: ${JSON.stringify(applied)}`);
  // Fitted before the start, so the playout starts as the daemon does, from its cache.
  await fillCache(rig, [...clips.paid, ...clips.fill]);
  const statuses: Record<string, number> = {};
  let plays = 0;
  const finished = new Promise<void>((resolve) => {
    rig.playout.on("play", (entry) => {
      if (plays >= total) return; // the one cut short by the stop
      plays++;
      statuses[entry.play.status] = (statuses[entry.play.status] ?? 0) + 1;
      if (plays % every === 0) reading(plays);
      if (plays >= total) resolve();
    });
  });
  await rig.playout.start();
  reading(0);
  await finished;
  await rig.close();
  send({ type: "done", statuses });
} catch (err) {
  send({ type: "error", message: (err as Error).message });
  process.exitCode = 1;
}
process.disconnect?.();
