import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "../agent/log.js";

describe("log", () => {
  it("writes JSON lines with the part, and redacts secrets wherever they appear", async () => {
    const out = new PassThrough();
    let text = "";
    out.on("data", (c: Buffer) => (text += c.toString()));
    const log = createLogger({ destination: out, level: "info" }).child({ part: "proofs" });
    log.info({ privateKey: "-----BEGIN PRIVATE KEY-----abc", mqtt: { password: "hunter2" } }, "opened");
    log.debug("not at info level");
    await new Promise((r) => setImmediate(r));
    const lines = text.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ part: "proofs", msg: "opened", level: 30, privateKey: "[redacted]", mqtt: { password: "[redacted]" } });
    expect(text).not.toContain("hunter2");
    expect(text).not.toContain("BEGIN PRIVATE KEY");
  });
});
