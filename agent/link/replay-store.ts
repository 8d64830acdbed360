// The ids of commands received over MQTT, kept in the agent's database so a command runs at most
// once, even across a restart or a kill -9: its id is claimed (committed, synchronous=FULL) before
// it runs, and its outcome is written when it ends. A claimed id without an outcome is a command
// the agent stopped while running: it is never run again, and its outcome is reported as unknown.
import type { CommandOutcome } from "../commands/types.js";
import { migrate, type Db, type Migration } from "../store/index.js";

/** How long ids are kept after the command could last be accepted (spec: ≥ 7 days). */
export const REPLAY_KEEP_MS = 7 * 24 * 3600_000;
/** Results bigger than this (a screenshot is some 350 KB of base64) are not kept for replays. */
export const MAX_KEPT_RESULT_BYTES = 16 * 1024;
/** How often the daemon should prune. */
export const REPLAY_PRUNE_INTERVAL_MS = 3600_000;

const migrations: Migration[] = [
  {
    version: 1,
    name: "ids of commands received over MQTT",
    sql: `
      CREATE TABLE link_commands (
        id          TEXT PRIMARY KEY,
        digest      TEXT NOT NULL,     -- sha256 of canonical(envelope): a redelivery or another command?
        name        TEXT NOT NULL,
        received_at INTEGER NOT NULL,  -- UTC ms
        keep_until  INTEGER NOT NULL,  -- UTC ms
        outcome     TEXT               -- JSON of the CommandOutcome; NULL until it finished
      ) STRICT;
      CREATE INDEX link_commands_keep_until ON link_commands (keep_until);
    `,
  },
];

export type ClaimResult = { state: "new" } | SeenCommand;

export interface SeenCommand {
  state: "seen";
  digest: string;
  /** When the id was first received, UTC ms. */
  receivedAt: number;
  /** The outcome of the first execution; null when it never finished. */
  outcome: CommandOutcome | null;
}

interface Row {
  digest: string;
  received_at: number;
  outcome: string | null;
}

/** Until when an id must be kept: at least 7 days, and at least 7 days past the command's expiry. */
export function replayKeepUntil(expiresAtMs: number, nowMs: number): number {
  return Math.max(expiresAtMs, nowMs) + REPLAY_KEEP_MS;
}

export class CommandReplayStore {
  private readonly insert;
  private readonly select;
  private readonly update;
  private readonly remove;

  constructor(private readonly db: Db) {
    migrate(db, "link-commands", migrations);
    this.insert = db.prepare("INSERT INTO link_commands (id, digest, name, received_at, keep_until) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING");
    this.select = db.prepare("SELECT digest, received_at, outcome FROM link_commands WHERE id = ?");
    this.update = db.prepare("UPDATE link_commands SET outcome = ? WHERE id = ?");
    this.remove = db.prepare("DELETE FROM link_commands WHERE keep_until < ?");
  }

  /**
   * Claims `id` for one execution: "new" when this call recorded it (durably, before returning),
   * else what was recorded for it first. Throws when the database cannot record it: the command
   * must then not run, since nothing would stop a second run.
   */
  claim(id: string, digest: string, name: string, keepUntilMs: number, nowMs: number): ClaimResult {
    const inserted = this.insert.run(id, digest, name, nowMs, keepUntilMs);
    if (inserted.changes === 1) return { state: "new" };
    const seen = this.peek(id);
    // Only a prune between the insert and the read could lose the row, and prune keeps every row
    // younger than 7 days: claim again rather than report a stranger's state.
    return seen ?? this.claim(id, digest, name, keepUntilMs, nowMs);
  }

  /** What is recorded for `id`, without claiming it; null when it is not known. */
  peek(id: string): SeenCommand | null {
    const row = this.select.get(id) as Row | undefined;
    if (!row) return null;
    return { state: "seen", digest: row.digest, receivedAt: row.received_at, outcome: parseOutcome(row.outcome) };
  }

  /** Records how the command ended, with a large result left out (see keptOutcome). */
  finish(id: string, outcome: CommandOutcome): void {
    this.update.run(JSON.stringify(keptOutcome(outcome)), id);
  }

  /** Forgets ids whose keep_until passed; returns how many. */
  prune(nowMs: number): number {
    return this.remove.run(nowMs).changes;
  }
}

/** The outcome as kept for replays: a result over MAX_KEPT_RESULT_BYTES becomes `{ omitted }`. */
export function keptOutcome(outcome: CommandOutcome): CommandOutcome {
  if (!outcome.ok) return outcome;
  const bytes = Buffer.byteLength(JSON.stringify(outcome.result) ?? "null", "utf8");
  if (bytes <= MAX_KEPT_RESULT_BYTES) return outcome;
  return { ok: true, result: { omitted: `the result was ${bytes} bytes; results over ${MAX_KEPT_RESULT_BYTES} are not kept for replies to redeliveries` } };
}

function parseOutcome(text: string | null): CommandOutcome | null {
  if (text === null) return null;
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed === "object" && parsed !== null && typeof (parsed as { ok?: unknown }).ok === "boolean") return parsed as CommandOutcome;
  } catch {
    // fall through: an unreadable outcome is as good as none
  }
  return null;
}
