// Controller link figures, with the NovaStar simulator as the far end: command round trip over TCP
// and over a socat pty pair (serial), and status polls per second.
import { performance } from "node:perf_hooks";
import { NovaStarController } from "../agent/drivers/novastar/driver.js";
import { openPtyPair } from "../agent/drivers/novastar/simulator/pty.js";
import { NovaStarSimulator } from "../agent/drivers/novastar/simulator/server.js";
import { transportFor } from "../agent/drivers/transport/url.js";
import { silentLogger } from "../agent/log.js";
import type { BenchReport } from "./report.js";

const ROUND_TRIPS = 400;
const POLL_SECONDS = 2;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function driver(url: string): NovaStarController {
  return new NovaStarController({ transport: transportFor(url), log: silentLogger(), clock: { now: () => Date.now() }, options: { link: { timeoutMs: 1000, retries: 0 } } });
}

async function roundTrips(report: BenchReport, label: string, controller: NovaStarController): Promise<void> {
  await controller.start();
  for (let i = 0; i < 20; i++) await controller.probe();
  const times: number[] = [];
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const t = performance.now();
    await controller.setBrightness(i % 101);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  // A pty moves bytes at memory speed: a real 115200 8N1 line adds ≈3.6 ms of wire time to this write (21 + 20 bytes).
  const detail = `${ROUND_TRIPS} brightness writes, one in flight${label.startsWith("pty") ? ", no line-rate delay on a pty" : ""}`;
  report.figure("controller", `round trip p50 (${label})`, percentile(times, 50), "ms", detail);
  report.figure("controller", `round trip p99 (${label})`, percentile(times, 99), "ms", detail);
}

async function statusPolls(report: BenchReport, label: string, controller: NovaStarController): Promise<void> {
  let polls = 0;
  const end = performance.now() + POLL_SECONDS * 1000;
  const start = performance.now();
  while (performance.now() < end) {
    const status = await controller.status();
    if (!status.online) throw new Error(`status went offline during the bench: ${status.detail}`);
    polls++;
  }
  report.figure("controller", `status polls per second (${label})`, polls / ((performance.now() - start) / 1000), "polls/s", "3 register reads each, 1 monitored card");
}

export async function bench(report: BenchReport): Promise<void> {
  const sim = new NovaStarSimulator({ log: silentLogger() });
  const tcp = driver(await sim.listenTcp("127.0.0.1", 0));
  try {
    await roundTrips(report, "tcp", tcp);
    await statusPolls(report, "tcp", tcp);
  } finally {
    await tcp.stop();
    await sim.close();
  }

  const pty = await openPtyPair();
  const serialSim = new NovaStarSimulator({ log: silentLogger() });
  const serial = driver(`serial://${pty.agentPath}?baud=115200`);
  try {
    await serialSim.attachSerial(pty.simulatorPath, 115200);
    await roundTrips(report, "pty 115200", serial);
    await statusPolls(report, "pty 115200", serial);
  } finally {
    await serial.stop();
    await serialSim.close();
    await pty.close();
  }
}
