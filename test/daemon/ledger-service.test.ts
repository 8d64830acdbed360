// The daemon's ledger service on a real ledger and device key: what agent.started and
// agent.stopped say, and the close after a stop deadline.
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { validateConfig, type Config } from "../../agent/config.js";
import { createKeyFiles } from "../../agent/crypto/index.js";
import { LedgerService, previousRunUnclean } from "../../agent/daemon/ledger-service.js";
import { noParts } from "../../agent/daemon/parts.js";
import { silentLogger } from "../../agent/log.js";
import { openLedger, openLedgerReader } from "../../agent/proofs/index.js";
import { tempDir } from "../helpers/tmp.js";

let tmp: ReturnType<typeof tempDir>;
let config: Config;

beforeEach(() => {
  tmp = tempDir("ledagent-ledger-service-");
  config = validateConfig({ screenId: "sz-001", dataDir: join(tmp.dir, "data"), runDir: join(tmp.dir, "run"), panel: { width: 64, height: 32 } });
  createKeyFiles(join(config.dataDir, "keys", "device.key"), join(config.dataDir, "keys", "device.pub.pem"));
});
afterEach(() => tmp.cleanup());

const service = (pid = 4242) => new LedgerService({ config, parts: noParts(), log: silentLogger(), version: "9.9.9", pid });

function events(): Array<Record<string, unknown>> {
  const { reader, close } = openLedgerReader(config);
  try {
    return [...reader.events()].map((e) => e.event);
  } finally {
    close();
  }
}

describe("previousRunUnclean", () => {
  it("is unclean only when the last start has no stop after it", () => {
    expect(previousRunUnclean(null, null)).toBe(false);
    expect(previousRunUnclean({ seq: 5 }, null)).toBe(true);
    expect(previousRunUnclean({ seq: 5 }, { seq: 3 })).toBe(true);
    expect(previousRunUnclean({ seq: 5 }, { seq: 6 })).toBe(false);
  });
});

describe("LedgerService", () => {
  it("brackets a run with agent.started and agent.stopped, and puts the ledger in the parts while open", async () => {
    const parts = noParts();
    const s = new LedgerService({ config, parts, log: silentLogger(), version: "9.9.9", pid: 4242 });
    await s.start();
    expect(parts.ledger?.head()?.seq).toBe(1);
    s.stoppingBecause("SIGTERM");
    await s.stop();
    expect(parts.ledger).toBeNull();
    expect(events()).toEqual([
      { type: "agent.started", version: "9.9.9", pid: 4242 },
      { type: "agent.stopped", reason: "SIGTERM" },
    ]);
  });

  it("a start after a run that never stopped says unclean and the last seq; a note after a clean stop does not", async () => {
    // What a run killed with -9 leaves: its agent.started and nothing after it but a technician's note.
    const { ledger, close } = openLedger(config);
    ledger.event("agent.started", { version: "9.9.8", pid: 1 });
    ledger.event("technician.note", { text: "found the PC off" });
    close();
    const next = service(2);
    await next.start();
    next.stoppingBecause("restart", "asked by local user tech");
    await next.stop();
    const third = service(3);
    const noted = openLedger(config);
    noted.ledger.event("technician.note", { text: "cleaned the panel while stopped" });
    noted.close();
    await third.start();
    third.close(["playout", "creatives"]);
    expect(events()).toEqual([
      { type: "agent.started", version: "9.9.8", pid: 1 },
      { type: "technician.note", text: "found the PC off" },
      { type: "agent.started", version: "9.9.9", pid: 2, unclean: true, lastSeq: 2 },
      { type: "agent.stopped", reason: "restart", detail: "asked by local user tech" },
      { type: "technician.note", text: "cleaned the panel while stopped" },
      { type: "agent.started", version: "9.9.9", pid: 3 },
      { type: "agent.stopped", reason: "start-failed", abandoned: ["playout", "creatives"] },
    ]);
  });

  it("closes once: a stop after the deadline's close records nothing more", async () => {
    const s = service();
    await s.start();
    s.stoppingBecause("SIGINT");
    s.close(["playout"]);
    await s.stop();
    expect(events().slice(1)).toEqual([{ type: "agent.stopped", reason: "SIGINT", abandoned: ["playout"] }]);
  });

  it("a missing device key fails the start with the key's reason", async () => {
    const bare = validateConfig({ screenId: "sz-001", dataDir: join(tmp.dir, "other"), runDir: join(tmp.dir, "run"), panel: { width: 64, height: 32 } });
    const s = new LedgerService({ config: bare, parts: noParts(), log: silentLogger(), version: "9.9.9", pid: 1 });
    await expect(s.start()).rejects.toThrow(/device\.key/);
  });
});
