import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { streamLines } from "../../agent/proofs/index.js";
import { tempDir } from "../helpers/tmp.js";
import { fillLedger, makeLedger } from "./fixtures.js";

async function collect(chunks: (string | Buffer)[]): Promise<string[]> {
  const out: string[] = [];
  for await (const line of streamLines(Readable.from(chunks.map((c) => (typeof c === "string" ? Buffer.from(c) : c))))) out.push(line);
  return out;
}

describe("export lines", () => {
  it("splits on LF and CRLF, keeps a last line without a newline, and multi-byte characters cut across chunks", async () => {
    const text = Buffer.from("a\r\nb\n模组\nlast", "utf8");
    const cut = text.indexOf(Buffer.from("模")) + 1; // inside the first character's three bytes
    expect(await collect([text.subarray(0, cut), text.subarray(cut)])).toEqual(["a", "b", "模组", "last"]);
    expect(await collect(["x\n\ny\n"])).toEqual(["x", "", "y"]);
  });

  it("a line longer than 1 MiB is skipped as it streams and stands in as too long, the next line intact", async () => {
    const chunk = "x".repeat(64 * 1024);
    const lines = await collect(["first\n", ...Array.from({ length: 40 }, () => chunk), "\nafter\n"]);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe("first");
    expect(lines[1].length).toBeGreaterThan(1024 * 1024);
    expect(lines[2]).toBe("after");
  });
});

describe("entry size", () => {
  it("the ledger refuses an entry too long for a verifier to read, and stays verifiable", async () => {
    const tmp = tempDir();
    const t = makeLedger(tmp.dir);
    try {
      fillLedger(t, 2);
      expect(() => t.ledger.event("technician.note", { text: "x".repeat(70_000) })).toThrow(/more than 65536; shorten its detail/);
      expect(t.ledger.event("technician.note", { text: "x".repeat(60_000) }).seq).toBe(5);
      const { verifyLines } = await import("../../agent/proofs/index.js");
      expect((await verifyLines([...t.ledger.rows()].map((r) => r.body), { publicKey: t.publicKey })).ok).toBe(true);
    } finally {
      t.db.close();
      tmp.cleanup();
    }
  });
});
