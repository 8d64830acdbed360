// The verifier decodes each line strictly: bytes that are not UTF-8 are malformed at their seq,
// never decoded to U+FFFD (changing the bytes EF BF BD to FF used to verify).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyFile } from "../../agent/proofs/index.js";
import { tempDir } from "../helpers/tmp.js";
import { exportText } from "./independent-helpers.js";
import { makeLedger, play, type TestLedger } from "./fixtures.js";

describe("verify: strict UTF-8", () => {
  const tmp = tempDir("ledagent-utf8-");
  let t: TestLedger;
  let bytes: Buffer;

  beforeAll(async () => {
    t = makeLedger(tmp.dir);
    t.ledger.event("agent.started");
    t.ledger.append({ kind: "play", play: play({ creative: "cola-\uFFFD-15" }) });
    t.ledger.event("technician.note", { text: "换了3号模组" });
    bytes = Buffer.from(await exportText(t.ledger), "utf8");
  });
  afterAll(() => {
    t.db.close();
    tmp.cleanup();
  });

  const verify = (content: Buffer): ReturnType<typeof verifyFile> => {
    const file = join(tmp.dir, `export-${Math.random().toString(36).slice(2)}.jsonl`);
    writeFileSync(file, content);
    return verifyFile(file, { publicKey: t.publicKey });
  };

  it("verifies the export as written, U+FFFD and CJK included", async () => {
    expect((await verify(bytes)).ok).toBe(true);
  });

  it("refuses U+FFFD's bytes changed to an invalid byte, as malformed at that seq", async () => {
    const at = bytes.indexOf(Buffer.from("efbfbd", "hex"));
    expect(at).toBeGreaterThan(0);
    const bad = Buffer.concat([bytes.subarray(0, at), Buffer.from([0xff]), bytes.subarray(at + 3)]);
    const r = await verify(bad);
    expect(r.ok).toBe(false);
    expect(r.ok ? null : r.message).toBe("malformed at seq 2: line 2 is not valid UTF-8");
  });

  it("refuses a multi-byte character cut short, even across read chunks", async () => {
    const at = bytes.indexOf(Buffer.from("换", "utf8"));
    const bad = Buffer.concat([bytes.subarray(0, at + 2), bytes.subarray(at + 3)]);
    const r = await verify(bad);
    expect(r.ok ? null : r.message).toBe("malformed at seq 3: line 3 is not valid UTF-8");
  });
});
