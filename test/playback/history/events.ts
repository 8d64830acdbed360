// Ledger entries for the history tests, without a ledger: only the fields the readers use.
import { STORE_FORMAT, validateDocument, type CurrentSchedule } from "../../../agent/playback/schedule/index.js";
import type { EventEntry, EventRecord, PlayEntry, PlayRecord } from "../../../agent/proofs/types.js";
import { play } from "../../proofs/fixtures.js";

export const T0 = Date.parse("2026-12-02T00:00:00Z");
export const MIN = 60_000;
export const H = 3_600_000;

export const iso = (ms: number): string => new Date(ms).toISOString();

/** An event entry at seq `seq`, written at `at` (ms). */
export function eventAt(seq: number, at: number, event: EventRecord): EventEntry {
  return { v: 1, seq, screen: "sz-test", kind: "event", at: iso(at), clock: { synced: true, bootId: "b0", monoMs: at - T0 }, event, prev: "0".repeat(64), sig: "" };
}

/** A play entry at seq `seq` that started at `startedAt` (ms). */
export function playAt(seq: number, startedAt: number, over: Partial<PlayRecord> = {}): PlayEntry {
  const p = play({ startedAt: iso(startedAt), plannedAt: iso(startedAt), endedAt: iso(startedAt + 15_000), ...over });
  return { v: 1, seq, screen: "sz-test", kind: "play", at: iso(startedAt + 15_000), clock: { synced: true, bootId: "b0", monoMs: 0 }, play: p, prev: "0".repeat(64), sig: "" };
}

/** A reader over fixed entries, filtering as LedgerReader does (plays by start, events by `at`; from inclusive, to exclusive). */
export function fakeReader(entries: Array<EventEntry | PlayEntry>): {
  plays(range?: { from?: string; to?: string }): PlayEntry[];
  events(range?: { from?: string; to?: string; type?: string }): EventEntry[];
} {
  const inRange = (t: string, r: { from?: string; to?: string } = {}): boolean => t >= (r.from ?? "") && t < (r.to ?? "\uffff");
  return {
    plays: (r) => entries.filter((e): e is PlayEntry => e.kind === "play" && inRange(e.play.startedAt, r)),
    events: (r) => entries.filter((e): e is EventEntry => e.kind === "event" && inRange(e.at, r) && (r?.type === undefined || e.event.type === r.type)),
  };
}

const HEX = "a".repeat(64);

/** A stored schedule (as ScheduleStore.current() returns it) of `campaigns`, applied at `appliedAt`. */
export function currentSchedule(campaigns: Array<Record<string, unknown>>, opts: { version?: number; appliedAt: number; timezone?: string }): CurrentSchedule {
  const creativeIds = [...new Set(campaigns.flatMap((c) => c.creatives as string[]))];
  const raw = {
    kind: "ledagent.schedule/v1",
    screen: "sz-test",
    version: opts.version ?? 3,
    issuedAt: "2026-11-01T00:00:00Z",
    timezone: opts.timezone ?? "UTC",
    creatives: [...creativeIds, "house"].map((id) => ({ id, url: `https://cdn.example/${id}.mp4`, sha256: HEX, durationMs: id === "house" ? 30_000 : 15_000, approved: true })),
    campaigns,
    fill: ["house"],
  };
  const validation = validateDocument(raw);
  if (!validation.ok) throw new Error(`test schedule is not valid: ${validation.problems.join("; ")}`);
  const at = iso(opts.appliedAt);
  return {
    format: STORE_FORMAT,
    envelope: { schedule: raw, sig: "" },
    appliedAt: at,
    campaignAppliedAt: Object.fromEntries(campaigns.map((c) => [c.id as string, at])),
    document: validation.document,
  };
}
