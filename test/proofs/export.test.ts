import { PassThrough } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { exportCsv } from "../../agent/proofs/index.js";
import { tempDir } from "../helpers/tmp.js";
import { fillLedger, makeLedger, play, type TestLedger } from "./fixtures.js";

async function csv(t: TestLedger, filter = {}, tz = "Asia/Shanghai"): Promise<string[]> {
  const out = new PassThrough();
  let text = "";
  out.on("data", (c: Buffer) => (text += c.toString()));
  await exportCsv(t.ledger, filter, tz, out);
  out.end();
  return text.trimEnd().split("\n");
}

describe("CSV play detail", () => {
  let tmp: ReturnType<typeof tempDir>;
  let t: TestLedger;
  beforeEach(() => {
    tmp = tempDir();
    t = makeLedger(tmp.dir);
    fillLedger(t, 4);
  });
  afterEach(() => {
    t.db.close();
    tmp.cleanup();
  });

  it("one row per play, times in the schedule's zone, events left out", async () => {
    const rows = await csv(t);
    expect(rows[0]).toBe("seq,customer,campaign,creative,start,end,durationMs,status,makeGood,screenVerified");
    expect(rows).toHaveLength(5);
    expect(rows[1]).toBe("2,cola-co,cola-co-dec,cola-co-15,2026-12-01T08:00:00.000+08:00,2026-12-01T08:00:15.000+08:00,15000,completed,false,true");
  });

  it("filters by customer, and never shows another customer's plays", async () => {
    const rows = await csv(t, { customer: "pepsi-co" });
    expect(rows.slice(1).every((r) => r.split(",")[1] === "pepsi-co")).toBe(true);
    expect(rows).toHaveLength(3);
  });

  it("quotes fields that hold commas or quotes", async () => {
    t.ledger.append({ kind: "play", play: play({ customer: 'Acme, "Best" Co', campaign: "x", status: "dark" }) });
    const rows = await csv(t, { campaign: "x" }, "UTC");
    expect(rows[1]).toContain('"Acme, ""Best"" Co"');
    expect(rows[1]).toContain(",dark,");
  });
});

describe("what was on screen at an instant", () => {
  it("finds the play in progress, else the last event before", () => {
    const tmp = tempDir();
    const t = makeLedger(tmp.dir);
    try {
      fillLedger(t, 2); // seq 1 agent.started @0s, plays 00:00:00–15 and 00:00:15–30, seq 4 note @30s
      expect(t.ledger.onScreenAt("2026-12-01T00:00:20.000Z")).toMatchObject({ seq: 3, kind: "play" });
      expect(t.ledger.onScreenAt("2026-12-01T00:00:05.000Z")).toMatchObject({ seq: 2, kind: "play" });
      expect(t.ledger.onScreenAt("2026-12-01T00:05:00.000Z")).toMatchObject({ seq: 4, event: { type: "technician.note" } });
      expect(t.ledger.onScreenAt("2026-11-30T00:00:00.000Z")).toBeNull();
    } finally {
      t.db.close();
      tmp.cleanup();
    }
  });
});

describe("paging", () => {
  it("reads, exports and verifies across many pages without losing or repeating a row", async () => {
    const tmp = tempDir();
    const t = makeLedger(tmp.dir);
    try {
      t.db.pragma("synchronous = OFF"); // speed only: durability is not what this test is about
      fillLedger(t, 2600); // 2,602 entries: several pages of 250 and 1,000
      const rows = [...t.ledger.rows()];
      expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 2602 }, (_, i) => i + 1));
      expect([...t.ledger.rows(999, 2001)].map((r) => r.seq)).toEqual(Array.from({ length: 1003 }, (_, i) => i + 999));
      expect([...t.ledger.plays()]).toHaveLength(2600);

      const out = new PassThrough();
      const lines: string[] = [];
      let buf = "";
      out.on("data", (c: Buffer) => {
        buf += c.toString();
        const parts = buf.split("\n");
        buf = parts.pop() ?? "";
        lines.push(...parts);
      });
      const { exportJsonl, verifyLines } = await import("../../agent/proofs/index.js");
      const r = await exportJsonl(t.ledger, { customer: "pepsi-co" }, out);
      out.end();
      expect(r).toMatchObject({ entries: 1300, firstSeq: 3, lastSeq: 2602 });
      expect(lines).toHaveLength(2600);
      expect((await verifyLines(lines, { publicKey: t.publicKey, head: t.ledger.checkpoint() })).ok).toBe(true);
      expect(await csv(t, { customer: "cola-co" })).toHaveLength(1301);
    } finally {
      t.db.close();
      tmp.cleanup();
    }
  });
});
