// MQTT link figures, on a real mosquitto on loopback, a real `ledagent run` playing on headless mpv
// and `ledagent ops collect` in its own process:
//  1. backlog drain: 100,000 play entries written beforehand (weeks offline), from the daemon's
//     start to the collector holding all of them, entries/s (target ≥ 2,000/s). Baseline: the
//     same bytes published raw through the same broker to a subscriber, one batch at a time;
//  2. the playout's transition gaps while the backlog drains, against the gaps after it drained;
//  3. command round trip (ops client → broker → daemon → registry → broker → ops client), `status`,
//     p50 and p99, the first one (cold) apart. Baseline: an MQTT 5 request/response echo through
//     the same broker.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { CollectorStore } from "../agent/collector/index.js";
import { loadPrivateKey } from "../agent/crypto/index.js";
import { newCommand, signCommand } from "../agent/link/command-envelope.js";
import { connectOps } from "../agent/link/ops-client.js";
import { sendWithoutDelay } from "../agent/link/types.js";
import { openLedgerReader } from "../agent/proofs/open.js";
import type { PlayEntry } from "../agent/proofs/types.js";
import { buildLinkRig, startChild, writeBacklog, type LinkRig } from "./link-rig.js";
import { percentile } from "./player.js";
import { met, progress } from "./playout-common.js";
import { benchConfig, SCREEN } from "./playout-rig.js";
import type { BenchReport } from "./report.js";

const AREA = "link";
const BACKLOG = 100_000;
const TARGET_PER_S = 2000;
const AFTER_DRAIN_MS = 40_000;
const ROUND_TRIPS = 200;
const DRAIN_TIMEOUT_MS = 300_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function storedHead(db: string): number {
  const store = CollectorStore.open(db);
  try {
    return store.screens().find((s) => s.screen === SCREEN)?.headSeq ?? 0;
  } finally {
    store.close();
  }
}

interface Drain {
  spawnedAt: number;
  firstAt: number;
  doneAt: number;
}

/** Polls the collector's database until it holds the backlog through `through`. */
async function drain(rig: LinkRig, through: number, daemonAlive: () => string | null): Promise<Drain> {
  const spawnedAt = Date.now();
  let firstAt = 0;
  for (;;) {
    const head = storedHead(rig.collectorDb);
    if (head > 0 && firstAt === 0) firstAt = Date.now();
    if (head >= through) return { spawnedAt, firstAt, doneAt: Date.now() };
    const gone = daemonAlive();
    if (gone) throw new Error(gone);
    if (Date.now() - spawnedAt > DRAIN_TIMEOUT_MS) throw new Error(`the collector held seq ${head} of ${through} after ${DRAIN_TIMEOUT_MS / 1000} s`);
    await sleep(100);
  }
}

/** End of each play to the first frame of the next, wall ms, with when the next started. */
function gapsOf(plays: PlayEntry[]): Array<{ at: number; gap: number }> {
  return plays.slice(1).map((p, i) => ({ at: Date.parse(p.play.startedAt), gap: Date.parse(p.play.startedAt) - Date.parse(plays[i].play.endedAt) }));
}

/** The plays the daemon recorded: every play entry after the backlog. */
function playsAfter(rig: LinkRig, seq: number): PlayEntry[] {
  const { reader, close } = openLedgerReader(benchConfig(rig.dataDir));
  try {
    return [...reader.rows(seq + 1)].map((r) => JSON.parse(r.body) as PlayEntry | { kind: "event" }).filter((e): e is PlayEntry => e.kind === "play");
  } finally {
    close();
  }
}

/** MQTT 5 request/response through the broker with nothing behind it: the round trip's floor. */
async function echoRoundTrips(url: string, n: number): Promise<number[]> {
  const server = await mqtt.connectAsync(url, { protocolVersion: 5, clientId: "bench-echo-server" });
  const client = await mqtt.connectAsync(url, { protocolVersion: 5, clientId: "bench-echo-client" });
  sendWithoutDelay(server);
  sendWithoutDelay(client);
  try {
    await server.subscribeAsync("bench/echo/req", { qos: 1 });
    server.on("message", (_t, payload, packet) => {
      const p = packet.properties;
      if (p?.responseTopic) void server.publishAsync(p.responseTopic, payload, { qos: 1, properties: { correlationData: p.correlationData } });
    });
    await client.subscribeAsync("bench/echo/res", { qos: 1 });
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const correlation = Buffer.from(String(i));
      const began = performance.now();
      const answered = new Promise<void>((resolve) => {
        const on = (_t: string, _p: Buffer, packet: { properties?: { correlationData?: Buffer } }): void => {
          if (!packet.properties?.correlationData?.equals(correlation)) return;
          client.off("message", on);
          resolve();
        };
        client.on("message", on);
      });
      await client.publishAsync("bench/echo/req", JSON.stringify({ i, pad: "x".repeat(300) }), { qos: 1, properties: { responseTopic: "bench/echo/res", correlationData: correlation } });
      await answered;
      times.push(performance.now() - began);
    }
    return times;
  } finally {
    await client.endAsync();
    await server.endAsync();
  }
}

/** The backlog's own bytes in batches of the sync's limits, published through the broker to a subscriber one at a time: the drain's floor without signatures checked or anything stored. */
async function rawBatchRate(rig: LinkRig): Promise<number> {
  const { reader, close } = openLedgerReader(benchConfig(rig.dataDir));
  const batches: string[] = [];
  let entries = 0;
  try {
    let bodies: string[] = [];
    let bytes = 0;
    for (const row of reader.rows()) {
      if (bodies.length === 500 || bytes + row.body.length > 256 * 1024) {
        batches.push(`{"batch":"raw","entries":[${bodies.join(",")}]}`);
        bodies = [];
        bytes = 0;
      }
      bodies.push(row.body);
      bytes += row.body.length + 1;
      entries++;
    }
    if (bodies.length > 0) batches.push(`{"batch":"raw","entries":[${bodies.join(",")}]}`);
  } finally {
    close();
  }
  const sub = await mqtt.connectAsync(rig.broker.url, { protocolVersion: 5, clientId: "bench-raw-sub" });
  const pub = await mqtt.connectAsync(rig.broker.url, { protocolVersion: 5, clientId: "bench-raw-pub" });
  sendWithoutDelay(sub);
  sendWithoutDelay(pub);
  try {
    await sub.subscribeAsync("bench/raw/proofs", { qos: 1 });
    let received: (() => void) | null = null;
    sub.on("message", () => received?.());
    const began = performance.now();
    for (const batch of batches) {
      const got = new Promise<void>((resolve) => (received = resolve));
      await pub.publishAsync("bench/raw/proofs", batch, { qos: 1 });
      await got;
    }
    return (entries * 1000) / (performance.now() - began);
  } finally {
    await pub.endAsync();
    await sub.endAsync();
  }
}

async function commandRoundTrips(rig: LinkRig, n: number): Promise<number[]> {
  const ops = await connectOps({ url: rig.broker.url });
  const key = loadPrivateKey(rig.opsKey).privateKey;
  try {
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const envelope = signCommand(newCommand({ screen: SCREEN, name: "status" }), key);
      const began = performance.now();
      const reply = await ops.command(envelope, { timeoutMs: 10_000 });
      times.push(performance.now() - began);
      if (!reply.ok) throw new Error(`status refused: ${JSON.stringify(reply)}`);
    }
    return times;
  } finally {
    await ops.close();
  }
}

const fmt = (xs: number[]): string => `p50 ${percentile(xs, 50).toFixed(1)} ms, p99 ${percentile(xs, 99).toFixed(1)} ms, n=${xs.length}`;

export async function bench(report: BenchReport): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "ledagent-bench-link-"));
  let rig: LinkRig | null = null;
  const children: Array<{ stop(): Promise<void> }> = [];
  try {
    progress("link: building the device, its schedule and a backlog");
    rig = await buildLinkRig(dir);
    const backlogMs = writeBacklog(rig, BACKLOG);
    const through = (() => {
      const { reader, close } = openLedgerReader(benchConfig(rig.dataDir));
      try {
        return reader.head()?.seq ?? 0;
      } finally {
        close();
      }
    })();
    progress(`link: ${BACKLOG} entries written in ${(backlogMs / 1000).toFixed(1)} s; the raw broker baseline`);
    const raw = await rawBatchRate(rig);
    progress("link: starting the collector and the daemon");
    const collector = startChild(["ops", "collect", "--url", rig.broker.url, "--keys", rig.keysDir, "--db", rig.collectorDb, "--json"]);
    children.push(collector);
    await sleep(1500);
    const daemon = startChild(["run", "--config", rig.configFile]);
    children.push(daemon);
    const drained = await drain(rig, through, () => (daemon.child.exitCode === null ? null : `ledagent run exited ${daemon.child.exitCode}:\n${daemon.output().slice(-2000)}`));
    const rate = (through * 1000) / Math.max(1, drained.doneAt - drained.firstAt);
    const fromSpawn = (through * 1000) / Math.max(1, drained.doneAt - drained.spawnedAt);
    progress(`link: drained in ${((drained.doneAt - drained.firstAt) / 1000).toFixed(1)} s; playing ${AFTER_DRAIN_MS / 1000} s more for the baseline gaps`);
    await sleep(AFTER_DRAIN_MS);

    progress("link: command round trips");
    const echo = await echoRoundTrips(rig.broker.url, ROUND_TRIPS);
    const commands = await commandRoundTrips(rig, ROUND_TRIPS + 1);
    await daemon.stop();
    await collector.stop();

    const gaps = gapsOf(playsAfter(rig, through));
    const during = gaps.filter((g) => g.at >= drained.firstAt && g.at <= drained.doneAt).map((g) => g.gap);
    const after = gaps.filter((g) => g.at > drained.doneAt).map((g) => g.gap);
    report.figure(AREA, "backlog drain to the collector", rate, "entries/s", `${through} entries (play entries ~0.6 KB each) from the collector's first store to its last, ${((drained.doneAt - drained.firstAt) / 1000).toFixed(1)} s; ${fromSpawn.toFixed(0)}/s counted from the daemon's spawn (cold: node start, ledger check, playout start); playout running; ${(rate / raw).toFixed(2)}× the baseline: the same batches published raw through the broker, one at a time, ${raw.toFixed(0)}/s; target ≥ ${TARGET_PER_S}/s: ${met(rate >= TARGET_PER_S)}`);
    report.figure(AREA, "transition gap while the backlog drains, p99", percentile(during, 99), "ms", `${fmt(during)}; the baseline after the drain: ${fmt(after)}`);
    report.figure(AREA, "command round trip (status) through broker and daemon, p50", percentile(commands.slice(1), 50), "ms", `${fmt(commands.slice(1))} warm; the first (cold) ${commands[0].toFixed(1)} ms; the baseline MQTT 5 echo through the same broker: ${fmt(echo)}`);
    report.figure(AREA, "command round trip (status) through broker and daemon, p99", percentile(commands.slice(1), 99), "ms", `${(percentile(commands.slice(1), 99) / Math.max(0.001, percentile(echo, 99))).toFixed(1)}× the echo's p99`);
  } finally {
    for (const c of children.reverse()) await c.stop().catch(() => undefined);
    await rig?.broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
