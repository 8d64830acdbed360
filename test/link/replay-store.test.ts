import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { openDatabase, type Db } from "../../agent/store/index.js";
import { CommandReplayStore, keptOutcome, MAX_KEPT_RESULT_BYTES, REPLAY_KEEP_MS, replayKeepUntil } from "../../agent/link/replay-store.js";
import { tempDir } from "../helpers/tmp.js";

const NOW = Date.parse("2026-12-01T00:00:00Z");
const MIN = 60_000;
const DIGEST = "a".repeat(64);

let tmp: ReturnType<typeof tempDir>;
let path: string;
const open: Db[] = [];

function connect(): { db: Db; store: CommandReplayStore } {
  const db = openDatabase(path);
  open.push(db);
  return { db, store: new CommandReplayStore(db) };
}

beforeEach(() => {
  tmp = tempDir();
  path = join(tmp.dir, "ledagent.db");
});

afterEach(() => {
  for (const db of open.splice(0)) db.close();
  tmp.cleanup();
});

describe("claim", () => {
  test("the first claim of an id is new; later ones see what was recorded first", () => {
    const { store } = connect();
    const keep = replayKeepUntil(NOW + 5 * MIN, NOW);
    expect(store.claim("cmd-1", DIGEST, "status", keep, NOW)).toEqual({ state: "new" });
    expect(store.claim("cmd-1", "b".repeat(64), "status", keep, NOW + MIN)).toEqual({ state: "seen", digest: DIGEST, receivedAt: NOW, outcome: null });
    store.finish("cmd-1", { ok: true, result: { online: true } });
    expect(store.claim("cmd-1", DIGEST, "status", keep, NOW + 2 * MIN)).toMatchObject({ state: "seen", outcome: { ok: true, result: { online: true } } });
    expect(store.claim("cmd-2", DIGEST, "status", keep, NOW)).toEqual({ state: "new" });
  });

  test("a claim is committed before it returns: another connection (a restarted agent) sees it, outcome unknown", () => {
    const first = connect();
    expect(first.store.claim("cmd-1", DIGEST, "suspend", replayKeepUntil(NOW, NOW), NOW).state).toBe("new");
    const second = connect();
    expect(second.store.claim("cmd-1", DIGEST, "suspend", replayKeepUntil(NOW, NOW), NOW + 1)).toEqual({ state: "seen", digest: DIGEST, receivedAt: NOW, outcome: null });
  });

  test("the outcome outlives the connection that wrote it", () => {
    const first = connect();
    first.store.claim("cmd-1", DIGEST, "resume", replayKeepUntil(NOW, NOW), NOW);
    first.store.finish("cmd-1", { ok: false, error: { code: "not-suspended", message: "nothing is suspended" } });
    first.db.close();
    open.splice(0);
    expect(connect().store.peek("cmd-1")).toEqual({
      state: "seen",
      digest: DIGEST,
      receivedAt: NOW,
      outcome: { ok: false, error: { code: "not-suspended", message: "nothing is suspended" } },
    });
  });

  test("peek claims nothing", () => {
    const { store } = connect();
    expect(store.peek("cmd-1")).toBeNull();
    expect(store.claim("cmd-1", DIGEST, "status", NOW + MIN, NOW).state).toBe("new");
  });

  test("a store on a closed database throws rather than answer new", () => {
    const { db, store } = connect();
    db.close();
    open.splice(0);
    expect(() => store.claim("cmd-1", DIGEST, "status", NOW + MIN, NOW)).toThrow();
  });
});

describe("outcomes kept for replays", () => {
  test("a result over 16 KiB is kept as { omitted } saying why; smaller ones and errors whole", () => {
    const { store } = connect();
    const jpeg = "/9j/".repeat(90_000); // some 350 KB of base64, as a screenshot
    store.claim("shot", DIGEST, "screenshot", NOW + MIN, NOW);
    store.finish("shot", { ok: true, result: { jpeg } });
    const kept = store.peek("shot")?.outcome;
    expect(kept?.ok).toBe(true);
    const result = kept?.ok ? (kept.result as { omitted?: string }) : {};
    expect(result.omitted).toMatch(/the result was \d+ bytes/);
    expect(JSON.stringify(kept).length).toBeLessThan(500);

    const small = { ok: true as const, result: { pad: "x".repeat(MAX_KEPT_RESULT_BYTES - 20) } };
    expect(keptOutcome(small)).toBe(small);
    const failed = { ok: false as const, error: { code: "failed" as const, message: "x".repeat(400) } };
    expect(keptOutcome(failed)).toBe(failed);
  });
});

describe("prune", () => {
  test("ids are kept at least 7 days, and at least 7 days past their command's expiry", () => {
    const { store } = connect();
    store.claim("short", DIGEST, "status", replayKeepUntil(NOW + 5 * MIN, NOW), NOW);
    // Expires before it arrives (an expired redelivery is still looked up): kept from now.
    store.claim("late", DIGEST, "status", replayKeepUntil(NOW - 10 * MIN, NOW), NOW);
    store.claim("long", DIGEST, "status", replayKeepUntil(NOW + 3 * 24 * 3600_000, NOW), NOW);

    expect(store.prune(NOW + REPLAY_KEEP_MS - 1)).toBe(0);
    expect(store.prune(NOW + REPLAY_KEEP_MS)).toBe(0);
    expect(store.peek("late")).not.toBeNull();
    expect(store.prune(NOW + REPLAY_KEEP_MS + 1)).toBe(1);
    expect(store.peek("late")).toBeNull();
    expect(store.prune(NOW + 5 * MIN + REPLAY_KEEP_MS)).toBe(0);
    expect(store.prune(NOW + 5 * MIN + REPLAY_KEEP_MS + 1)).toBe(1);
    expect(store.peek("short")).toBeNull();
    expect(store.prune(NOW + 10 * 24 * 3600_000 - 1)).toBe(0);
    expect(store.peek("long")).not.toBeNull();
    expect(store.prune(NOW + 10 * 24 * 3600_000 + 1)).toBe(1);
  });

  test("a forgotten id can be claimed anew", () => {
    const { store } = connect();
    store.claim("cmd-1", DIGEST, "status", NOW + MIN, NOW);
    store.prune(NOW + 2 * MIN);
    expect(store.claim("cmd-1", DIGEST, "status", NOW + 3 * MIN, NOW + 2 * MIN).state).toBe("new");
  });
});
