// Is the playout getting on with it? What the systemd watchdog is fed on: a ping only while the
// loop runs, mpv answers, and what mpv was handed starts and ends about when it should. An idle
// screen (no schedule, a suspension, a blackout) is progressing: it is doing what it was told.
import type { Airing } from "./airing.js";

/** How late a first frame or an end may be before the playout counts as stuck. */
export const STUCK_AFTER_MS = 20_000;
/** The loop ticks every second; this long without a tick means the event loop is wedged. */
export const LOOP_SILENT_AFTER_MS = 5_000;
/** How long mpv gets to answer the liveness question. */
export const PLAYER_ANSWER_MS = 2_000;

export type PlayoutProgress = { ok: true } | { ok: false; why: string };

export interface ProgressFacts {
  running: boolean;
  /** The airings mpv holds, in playing order, the one playing first. */
  handed: readonly Airing[];
  nowWallMs: number;
  /** Monotonic ms since the loop last ticked, and now. */
  lastTickMonoMs: number;
  nowMonoMs: number;
}

/** The stuck cases that need no question to mpv (pure). */
export function judgeProgress(f: ProgressFacts): PlayoutProgress {
  if (!f.running) return { ok: false, why: "the playout is not running" };
  const silentMs = f.nowMonoMs - f.lastTickMonoMs;
  if (silentMs > LOOP_SILENT_AFTER_MS) return { ok: false, why: `the playout loop has not run for ${seconds(silentMs)}` };
  const first = f.handed.find((a) => !a.ending) ?? null;
  if (!first) return { ok: true };
  if (first.startedAt) {
    const endMs = first.startedAt.wallMs + (first.clockShiftMs ?? 0) + first.expectedLengthMs;
    const overMs = f.nowWallMs - endMs;
    if (overMs > STUCK_AFTER_MS) return { ok: false, why: `${first.creative} should have ended ${seconds(overMs)} ago and mpv is still on it` };
    return { ok: true };
  }
  const lateMs = f.nowWallMs - first.expectedStartMs;
  if (lateMs > STUCK_AFTER_MS) return { ok: false, why: `${first.creative} should have shown its first frame ${seconds(lateMs)} ago` };
  return { ok: true };
}

/** Asks mpv something cheap; not answering within PLAYER_ANSWER_MS is not progressing. */
export async function playerAnswers(ask: () => Promise<unknown>): Promise<PlayoutProgress> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<PlayoutProgress>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, why: `mpv did not answer within ${seconds(PLAYER_ANSWER_MS)}` }), PLAYER_ANSWER_MS);
  });
  const answered = ask().then(
    (): PlayoutProgress => ({ ok: true }),
    (err: unknown): PlayoutProgress => ({ ok: false, why: `mpv did not answer: ${err instanceof Error ? err.message : String(err)}` }),
  );
  try {
    return await Promise.race([answered, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}
