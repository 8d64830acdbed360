import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { commandLogger, createLogger } from "../agent/log.js";

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

describe("log levels", () => {
  it("LEDAGENT_LOG_LEVEL is a config key checked by the schema: an unknown level is a config error naming it, not a crash", async () => {
    const { parseConfig } = await import("../agent/config.js");
    const yaml = "screenId: s1\npanel: { width: 64, height: 32 }\n";
    expect(() => parseConfig(yaml, { LEDAGENT_LOG_LEVEL: "verbose" })).toThrow(/logLevel: "verbose": expected one of/);
    expect(parseConfig(yaml, { LEDAGENT_LOG_LEVEL: "debug" }).logLevel).toBe("debug");
  });

  it("createLogger takes its level from its caller, never straight from the environment", () => {
    const saved = process.env.LEDAGENT_LOG_LEVEL;
    process.env.LEDAGENT_LOG_LEVEL = "verbose";
    try {
      expect(createLogger({ destination: new PassThrough() }).level).toBe("info");
      expect(createLogger({ destination: new PassThrough(), level: "debug" }).level).toBe("debug");
    } finally {
      if (saved === undefined) delete process.env.LEDAGENT_LOG_LEVEL;
      else process.env.LEDAGENT_LOG_LEVEL = saved;
    }
  });

  it("a command's logger shows warnings (info is quieted to warn), and more detail when asked", () => {
    expect(commandLogger("info").level).toBe("warn");
    expect(commandLogger("debug").level).toBe("debug");
    expect(commandLogger("error").level).toBe("error");
  });
});
