// Helpers the playout's real-mpv tests share: what the ledger holds, waiting on the playout's
// events, refusals, mpv's process, and the whole-ledger verification.
import { execFileSync } from "node:child_process";
import { PassThrough } from "node:stream";
import { expect } from "vitest";
import type { CommandErrorCode, CommandOrigin } from "../../../agent/commands/types.js";
import { loadPublicKey } from "../../../agent/crypto/index.js";
import { agentPaths } from "../../../agent/paths.js";
import type { Airing } from "../../../agent/playback/playout/airing.js";
import { exportJsonl, verifyLines, type VerifyResult } from "../../../agent/proofs/index.js";
import type { EventEntry, EventType, PlayRecord } from "../../../agent/proofs/types.js";
import type { Rig } from "./rig.js";

export const HOUR_MS = 3_600_000;

/**
 * A clock offset (≥ 0, under an hour) that puts a rig's clock `intoHourMs` into a UTC clock hour
 * right now: a test then knows which hour it runs in and where the next one starts.
 */
export function offsetInto(intoHourMs: number): number {
  const now = Date.now();
  let target = Math.floor(now / HOUR_MS) * HOUR_MS + intoHourMs;
  if (target < now) target += HOUR_MS;
  return target - now;
}

/** A campaign flight around the rig's clock: from `fromMs` before it to `toMs` after it. */
export function flight(rig: Rig, fromMs = HOUR_MS, toMs = HOUR_MS): { start: string; end: string } {
  const now = rig.now();
  return { start: new Date(now - fromMs).toISOString(), end: new Date(now + toMs).toISOString() };
}

export const tech: CommandOrigin = { kind: "local", user: "tester" };

export const ms = (iso: string): number => Date.parse(iso);
export const sleep = (t: number): Promise<void> => new Promise((r) => setTimeout(r, t));

export function playsOf(rig: Rig): PlayRecord[] {
  return rig.plays.map((e) => e.play);
}

export function eventsOf(rig: Rig, type: EventType): EventEntry[] {
  return [...rig.ledger.events({ type })];
}

/** A paid play: not house content. */
export const paid = (p: PlayRecord): boolean => p.customer !== "fill";

/** Every airing that showed its first frame, as it happens. */
export function watchStarts(rig: Rig): Airing[] {
  const seen: Airing[] = [];
  rig.playout.on("started", (a) => seen.push(a));
  return seen;
}

/** The next airing to show its first frame that `test` accepts. */
export function nextStart(rig: Rig, test: (a: Airing) => boolean, timeoutMs = 30_000): Promise<Airing> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      rig.playout.off("started", on);
      reject(new Error("timed out waiting for an airing to start"));
    }, timeoutMs);
    const on = (a: Airing): void => {
      if (!test(a)) return;
      clearTimeout(timer);
      rig.playout.off("started", on);
      resolve(a);
    };
    rig.playout.on("started", on);
  });
}

/** The recorded play of an airing that started (matched by its first frame's time), if recorded yet. */
export function playOfAiring(rig: Rig, airing: Airing): PlayRecord | undefined {
  const at = airing.startedAt?.wallMs;
  return at === undefined ? undefined : playsOf(rig).find((p) => Math.abs(ms(p.startedAt) - at) <= 1 && p.creative === airing.creative);
}

/** The refusal a promise rejects with: asserts its code and the gist of its message. */
export async function expectRefused(p: Promise<unknown>, code: CommandErrorCode, gist: RegExp): Promise<void> {
  const err: unknown = await p.then(
    (v) => new Error(`expected a refusal (${code}), got ${JSON.stringify(v)}`),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  expect((err as { code?: unknown }).code, (err as Error).message).toBe(code);
  expect((err as Error).message).toMatch(gist);
}

/** mpv processes serving this rig's socket. */
export function mpvPids(rig: Rig): number[] {
  try {
    const out = execFileSync("pgrep", ["-f", `${rig.config.runDir}/mpv.sock`], { encoding: "utf8" });
    return out.split("\n").filter((l) => l.trim() !== "").map(Number).filter((pid) => pid !== process.pid);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

/** The whole ledger exported and verified with the device's public key, as a third party would. */
export async function verifyLedger(rig: Rig): Promise<{ result: VerifyResult; lines: string[] }> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (c: Buffer) => chunks.push(c));
  await exportJsonl(rig.ledger, {}, out);
  out.end();
  const lines = Buffer.concat(chunks).toString("utf8").split("\n").filter((l) => l !== "");
  const publicKey = loadPublicKey(agentPaths(rig.config).devicePublicKey);
  return { result: await verifyLines(lines, { publicKey }), lines };
}

/** Each play starts after the one before it ended (a few ms of clock jitter allowed). */
export function expectBackToBack(plays: readonly PlayRecord[]): void {
  for (let i = 1; i < plays.length; i++) {
    const gap = ms(plays[i]!.startedAt) - ms(plays[i - 1]!.endedAt);
    expect(gap, `play ${i} (${plays[i]!.creative}) starts ${-gap} ms before the one before it ended`).toBeGreaterThanOrEqual(-5);
  }
}

/** The plays as a table on the console, when DUMP is set. */
export function dump(label: string, plays: readonly PlayRecord[], t0 = 0): void {
  if (!process.env.DUMP) return;
  console.log(`--- ${label}`);
  for (const p of plays) {
    const rel = (iso: string): string => (t0 ? `${((ms(iso) - t0) / 1000).toFixed(2)}` : iso.slice(11));
    console.log(p.customer.padEnd(8), p.creative.padEnd(8), p.status.padEnd(11), `v${p.scheduleVersion}`, p.makeGood ? "MG" : "  ", rel(p.plannedAt), rel(p.startedAt), rel(p.endedAt), p.durationMs, JSON.stringify(p.screenState));
  }
}
