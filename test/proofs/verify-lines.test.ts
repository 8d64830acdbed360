// The verifier's reading of a file (trailing blank lines, a last line without newline, CRLF) and
// of a head checkpoint (as strict as an export line), and what it says of a head behind a stub.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signCanonical } from "../../agent/crypto/index.js";
import { verifyFile, verifyLines, type Checkpoint, type VerifyResult } from "../../agent/proofs/index.js";
import { tempDir } from "../helpers/tmp.js";
import { exportText, toLines } from "./independent-helpers.js";
import { fillLedger, makeLedger, type TestLedger } from "./fixtures.js";

describe("verify: lines of a file and strict heads", () => {
  const tmp = tempDir("ledagent-verify-");
  let t: TestLedger;
  let text: string;
  let head: Checkpoint;

  beforeAll(async () => {
    t = makeLedger(tmp.dir);
    fillLedger(t, 6); // seq 1 agent.started, 2..7 plays (cola, pepsi alternating), 8 note
    head = t.ledger.checkpoint();
    text = await exportText(t.ledger);
  });
  afterAll(() => {
    t.db.close();
    tmp.cleanup();
  });

  async function verifyText(content: string, h?: unknown): Promise<VerifyResult> {
    const file = join(tmp.dir, `export-${Math.random().toString(36).slice(2)}.jsonl`);
    writeFileSync(file, content);
    return verifyFile(file, { publicKey: t.publicKey, head: h });
  }

  describe("a file's lines", () => {
    it.each([
      ["trailing blank lines", (s: string) => `${s}\n\n\n`],
      ["trailing lines of spaces, tabs and CRs", (s: string) => `${s} \n\t\n\r\n`],
      ["a last line without its newline", (s: string) => s.trimEnd()],
      ["CRLF line ends", (s: string) => s.replace(/\n/g, "\r\n")],
    ])("ignores %s", async (_what, change) => {
      const r = await verifyText(change(text), head);
      expect(r).toMatchObject({ ok: true, firstSeq: 1, lastSeq: 8 });
    });

    it("still refuses a blank line between entries, naming the seq expected there", async () => {
      const lines = toLines(text);
      const r = await verifyText([...lines.slice(0, 3), "", ...lines.slice(3)].join("\n") + "\n");
      expect(r).toMatchObject({ ok: false, reason: "malformed", seq: 4, message: "malformed at seq 4: line 4 is not JSON" });
    });
  });

  describe("a head is parsed as strictly as an export line", () => {
    const resign = (h: Record<string, unknown>): Record<string, unknown> => {
      const { sig: _sig, ...unsigned } = h;
      return { ...unsigned, sig: signCanonical(unsigned, t.privateKey) };
    };

    it("refuses a head with a field twice, even one JSON.parse would read as valid", async () => {
      const json = JSON.stringify(head).replace(/^\{/, `{"seq":${head.seq + 5},`);
      const r = await verifyLines(toLines(text), { publicKey: t.publicKey, headText: json });
      expect(r).toMatchObject({ ok: false, reason: "bad head", seq: null, message: 'bad head: the head has the field "seq" twice' });
    });

    it("refuses a signed head with an extra field", async () => {
      const r = await verifyLines(toLines(text), { publicKey: t.publicKey, head: resign({ ...head, note: "x" }) });
      expect(r).toMatchObject({ ok: false, reason: "bad head", message: 'bad head: the head has a field the format does not define: "note"' });
    });

    it.each([
      ["seq as a string", { seq: "8" }, "seq is not an integer ≥ 1"],
      ["seq 0", { seq: 0 }, "seq is not an integer ≥ 1"],
      ["an upper-case hash", { hash: "A".repeat(64) }, "hash is not 64 lowercase hex digits"],
      ["an empty screen", { screen: "" }, "screen is not a non-empty string"],
      ["at not a time", { at: "yesterday" }, "at is not a UTC time with milliseconds"],
    ])("refuses a signed head with %s", async (_what, change, why) => {
      const r = await verifyLines(toLines(text), { publicKey: t.publicKey, head: resign({ ...head, ...change }) });
      expect(r).toMatchObject({ ok: false, reason: "bad head", message: `bad head: ${why}` });
    });

    it("refuses a head whose sig is not canonical base64", async () => {
      const sig = head.sig.replace(/(.)==$/, (_m, c: string) => `${String.fromCharCode(c.charCodeAt(0) + 1)}==`);
      const r = await verifyLines(toLines(text), { publicKey: t.publicKey, head: { ...head, sig } });
      expect(r).toMatchObject({ ok: false, reason: "bad head", message: "bad head: the head's signature does not verify with this key" });
    });

    it("accepts the head as the ledger wrote it, as text", async () => {
      const r = await verifyLines(toLines(text), { publicKey: t.publicKey, headText: JSON.stringify(head) });
      expect(r).toMatchObject({ ok: true, headSeq: 8, headWhole: true });
    });
  });

  describe("a head reached only through a stub", () => {
    it("says the head's entry is not in the export, instead of claiming it verified", async () => {
      const filtered = await exportText(t.ledger, { customer: "cola-co" });
      const lines = toLines(filtered);
      expect(JSON.parse(lines[lines.length - 1])).toEqual({ seq: 8, hash: head.hash }); // the note, as a stub
      const r = await verifyLines(lines, { publicKey: t.publicKey, head });
      expect(r).toMatchObject({ ok: true, headSeq: 8, headWhole: false });
      expect(r.ok && r.summary).toMatch(/head seq 8 matches a stub: the head's entry is not in this export, only its hash$/);
    });
  });
});
