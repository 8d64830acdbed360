// A device's whole ledger, exported and verified with its public key in this process: the code
// behind `proofs export | proofs verify`, for tests that are not about the commands themselves.
import { PassThrough } from "node:stream";
import { expect } from "vitest";
import { loadPublicKey } from "../../agent/crypto/index.js";
import { exportJsonl, openLedgerReader, verifyLines } from "../../agent/proofs/index.js";

/** The exported JSON lines, once they verified under `publicKeyFile`. */
export async function verifiedLedgerLines(where: { dataDir: string; runDir: string }, publicKeyFile: string): Promise<string[]> {
  const { reader, close } = openLedgerReader(where);
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (c: Buffer) => chunks.push(c));
  try {
    await exportJsonl(reader, {}, out);
  } finally {
    close();
  }
  out.end();
  const lines = Buffer.concat(chunks).toString("utf8").split("\n").filter((l) => l !== "");
  const verified = await verifyLines(lines, { publicKey: loadPublicKey(publicKeyFile) });
  expect(verified.ok, JSON.stringify(verified)).toBe(true);
  return lines;
}
