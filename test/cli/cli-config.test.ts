// `--config` pointing at something that is not a config file, or at one others could replace:
// refused at once, never a hang.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
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

  it("refuses a 0600 config in a 0777 directory, naming the directory and the fix", async () => {
    const open = join(tmp.dir, "open");
    mkdirSync(open);
    chmodSync(open, 0o777);
    const path = join(open, "config.yaml");
    writeFileSync(path, "screenId: a\npanel: { width: 64, height: 32 }\n", { mode: 0o600 });
    const r = await runCli(["--config", path, "proofs", "export"], { timeoutMs: 5000 });
    expect(r.stderr).toBe(
      `ledagent: config ${path}: directory ${open} is writable by group or others (mode 0777), so they could put another file in its place; fix with \`chmod go-w ${open}\`\n`,
    );
    expect(r.code).toBe(1);
  });
});
