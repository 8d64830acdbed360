// `--config` pointing at something that is not a config file: refused at once, never a hang.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";

describe("ledagent --config", () => {
  const tmp = tempDir("ledagent-cli-config-");
  afterAll(() => tmp.cleanup());

  it("refuses /dev/zero at once instead of reading it forever", async () => {
    const r = await runCli(["--config", "/dev/zero", "proofs", "export"], { timeoutMs: 5000 });
    expect(r.stderr).toBe("ledagent: config /dev/zero: is a device, not a regular file\n");
    expect(r.code).toBe(1);
  });

  it("refuses a FIFO (with no writer) at once instead of waiting for one", async () => {
    const fifo = join(tmp.dir, "config.fifo");
    execFileSync("mkfifo", [fifo]);
    const r = await runCli(["--config", fifo, "proofs", "export"], { timeoutMs: 5000 });
    expect(r.stderr).toBe(`ledagent: config ${fifo}: is a FIFO, not a regular file\n`);
    expect(r.code).toBe(1);
  });
});
