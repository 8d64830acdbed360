// Every way an export can be falsified is caught, and named by seq.
import { generateKeyPairSync } from "node:crypto";
import { PassThrough } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { signCanonical } from "../../agent/crypto/index.js";
import { exportJsonl, verifyLines, type Checkpoint, type VerifyFailure } from "../../agent/proofs/index.js";
import { tempDir } from "../helpers/tmp.js";
import { fillLedger, makeLedger, type TestLedger } from "./fixtures.js";

async function exportLines(t: TestLedger, filter = {}): Promise<string[]> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (c: Buffer) => chunks.push(c));
  await exportJsonl(t.ledger, filter, out);
  out.end();
  return Buffer.concat(chunks).toString("utf8").split("\n").filter((l) => l !== "");
}

function edit(line: string, fn: (x: Record<string, unknown>) => void): string {
  const x = JSON.parse(line) as Record<string, unknown>;
  fn(x);
  return JSON.stringify(x);
}

describe("verify catches tampering", () => {
  let tmp: ReturnType<typeof tempDir>;
  let t: TestLedger;
  let lines: string[];

  beforeEach(async () => {
    tmp = tempDir();
    t = makeLedger(tmp.dir);
    fillLedger(t, 8); // seq 1 event, 2..9 plays, 10 event
    lines = await exportLines(t);
  });
  afterEach(() => {
    t.db.close();
    tmp.cleanup();
  });

  async function failure(ls: string[], head?: Checkpoint, key = t.publicKey): Promise<VerifyFailure> {
    const r = await verifyLines(ls, { publicKey: key, head });
    expect(r.ok, JSON.stringify(r)).toBe(false);
    return r as VerifyFailure;
  }

  it("accepts the untouched export", async () => {
    const r = await verifyLines(lines, { publicKey: t.publicKey });
    expect(r).toMatchObject({ ok: true, entries: 10, whole: 10, stubs: 0, firstSeq: 1, lastSeq: 10 });
  });

  it("an edited play (status) is a bad signature at its seq", async () => {
    lines[4] = edit(lines[4], (x) => ((x.play as Record<string, unknown>).status = "failed"));
    expect(await failure(lines)).toMatchObject({ reason: "bad signature", seq: 5 });
  });

  it("a play with a status the format does not know is malformed", async () => {
    lines[4] = edit(lines[4], (x) => ((x.play as Record<string, unknown>).status = "done"));
    expect(await failure(lines)).toMatchObject({ reason: "malformed", seq: 5 });
  });

  it("an edited time is a bad signature at its seq", async () => {
    lines[2] = edit(lines[2], (x) => (x.at = "2026-12-01T09:00:00.000Z"));
    expect(await failure(lines)).toMatchObject({ reason: "bad signature", seq: 3 });
  });

  it("a deleted entry is a gap naming the missing seq", async () => {
    lines.splice(5, 1);
    expect(await failure(lines)).toMatchObject({ reason: "gap", seq: 6 });
  });

  it("a deleted last entry is caught against a signed head (truncation)", async () => {
    const head = t.ledger.checkpoint();
    expect(await failure(lines.slice(0, -2), head)).toMatchObject({ reason: "truncated", seq: 9 });
    expect((await verifyLines(lines, { publicKey: t.publicKey, head })).ok).toBe(true);
  });

  it("a head with a forged signature is refused", async () => {
    const head = { ...t.ledger.checkpoint(), seq: 4 };
    expect(await failure(lines, head)).toMatchObject({ reason: "bad head" });
  });

  it("an entry rewritten after the checkpoint is a head mismatch", async () => {
    const head = t.ledger.checkpoint();
    const forged = edit(lines[9], (x) => (x.sig = (x.sig as string).replace(/^./, (c) => (c === "A" ? "B" : "A"))));
    lines[9] = forged;
    const f = await failure(lines, head);
    expect(f.seq).toBe(10);
  });

  it("an inserted forged entry is caught at its seq", async () => {
    const forged = edit(lines[3], (x) => {
      x.seq = 5;
      (x.play as Record<string, unknown>).customer = "forged-co";
    });
    lines.splice(4, 0, forged);
    // The forgery claims seq 5 after seq 4: in sequence, but its signature cannot verify.
    expect(await failure(lines)).toMatchObject({ reason: "bad signature", seq: 5 });
  });

  it("a copied entry inserted again is a duplicate", async () => {
    lines.splice(4, 0, lines[3]);
    expect(await failure(lines)).toMatchObject({ reason: "duplicate", seq: 4 });
  });

  it("two swapped entries are a reorder", async () => {
    [lines[3], lines[4]] = [lines[4], lines[3]];
    expect(await failure(lines)).toMatchObject({ reason: "reorder", seq: 4 });
  });

  it("an entry moved far back is a reorder at that seq", async () => {
    const [moved] = lines.splice(2, 1);
    lines.splice(6, 0, moved);
    const f = await failure(lines);
    expect(["gap", "reorder"]).toContain(f.reason);
    expect(f.seq).toBe(3);
  });

  it("a relinked chain (prev rewritten without the key) is a bad signature", async () => {
    lines[6] = edit(lines[6], (x) => (x.prev = "f".repeat(64)));
    expect(await failure(lines)).toMatchObject({ reason: "bad signature", seq: 7 });
  });

  it("a head signed for another screen is a bad head, an entry forged onto another screen a bad signature", async () => {
    const other = makeLedger(tmp.dir + "/other", "sz-other-002");
    try {
      // Same key, different screen: sign the other ledger's head with this ledger's key.
      other.ledger.event("agent.started");
      const head = other.ledger.head();
      if (!head) throw new Error("the other ledger has no head");
      const unsigned = { screen: "sz-other-002", seq: head.seq, hash: head.hash, at: t.clock.now().toISOString() };
      const otherHead: Checkpoint = { ...unsigned, sig: signCanonical(unsigned, t.privateKey) };
      expect(await failure(lines, otherHead)).toMatchObject({ reason: "bad head", seq: null });
    } finally {
      other.db.close();
    }
    lines[0] = edit(lines[0], (x) => (x.screen = "sz-forged-003"));
    expect(await failure(lines, t.ledger.checkpoint())).toMatchObject({ reason: "bad signature", seq: 1 });
  });

  it("a wrong key fails at the first entry", async () => {
    const other = generateKeyPairSync("ed25519").publicKey;
    expect(await failure(lines, undefined, other)).toMatchObject({ reason: "bad signature", seq: 1 });
  });

  it.each([
    ["not JSON", "{seq: 4"],
    ["an array", "[1,2,3]"],
    ["missing sig", JSON.stringify({ v: 1, seq: 4 })],
    ["an empty line", ""],
  ])("a malformed line (%s) is named with the seq it should have been", async (_what, bad) => {
    lines[3] = bad;
    expect(await failure(lines)).toMatchObject({ reason: "malformed", seq: 4, line: 4 });
  });

  it("an export starting mid-ledger still verifies its links", async () => {
    const r = await verifyLines(lines.slice(3), { publicKey: t.publicKey });
    expect(r).toMatchObject({ ok: true, firstSeq: 4, lastSeq: 10 });
  });

  it("a first entry that claims seq 1 must link to zeros", async () => {
    const r = await failure(lines.slice(1).map((l, i) => (i === 0 ? edit(l, (x) => (x.seq = 1)) : l)));
    expect(r.seq).toBe(1);
  });

  it("an empty export is not a proof", async () => {
    expect(await failure([])).toMatchObject({ reason: "empty" });
  });
});

describe("filtered export", () => {
  let tmp: ReturnType<typeof tempDir>;
  let t: TestLedger;

  beforeEach(() => {
    tmp = tempDir();
    t = makeLedger(tmp.dir);
    fillLedger(t, 8);
  });
  afterEach(() => {
    t.db.close();
    tmp.cleanup();
  });

  it("shows one customer's plays whole and everything else as stubs, and still verifies against the head", async () => {
    const lines = await exportLines(t, { customer: "pepsi-co" });
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed[0].seq).toBe(3); // first pepsi play
    expect(parsed.at(-1)?.seq).toBe(10); // through the head
    for (const x of parsed) {
      if ("hash" in x) expect(Object.keys(x).sort()).toEqual(["hash", "seq"]);
      else expect((x.play as { customer: string }).customer).toBe("pepsi-co");
    }
    expect(lines.join("\n")).not.toContain("cola");
    const head = t.ledger.checkpoint();
    const r = await verifyLines(lines, { publicKey: t.publicKey, head });
    expect(r).toMatchObject({ ok: true, whole: 4, stubs: 4 });
  });

  it("a falsified stub hash breaks the link into the next whole entry", async () => {
    const lines = await exportLines(t, { customer: "pepsi-co" });
    lines[1] = edit(lines[1], (x) => (x.hash = "0".repeat(64)));
    const r = await verifyLines(lines, { publicKey: t.publicKey });
    expect(r).toMatchObject({ ok: false, reason: "broken link", seq: 5 });
  });

  it("a time window exports whole entries only", async () => {
    const lines = await exportLines(t, { from: "2026-12-01T00:00:30.000Z", to: "2026-12-01T00:01:00.000Z" });
    expect(lines.map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([4, 5]);
  });
});
