// What `ledagent controller status` prints for register values the driver has no name for.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REG } from "../../agent/drivers/novastar/registers.js";
import type { NovaStarSimulator } from "../../agent/drivers/novastar/simulator/server.js";
import { runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";
import { tcpSimulator } from "../drivers/helpers.js";

describe("ledagent controller status", () => {
  const tmp = tempDir("ledagent-cli-controller-");
  const config = join(tmp.dir, "config.yaml");
  let sim: NovaStarSimulator;

  beforeAll(async () => {
    const started = await tcpSimulator();
    sim = started.sim;
    writeFileSync(config, `screenId: test\ndataDir: ${tmp.dir}\npanel: { width: 64, height: 32 }\ncontroller: { driver: novastar, port: "${started.url}", timeoutMs: 500 }\n`);
  });
  afterAll(async () => {
    await sim.close();
    tmp.cleanup();
  });

  it("prints blackout unknown (never no) for kill value 0x80, and pattern unknown for 0x7f", async () => {
    sim.device.poke(0, 0, 0, REG.kill, [0x80, 0x7f]);
    const r = await runCli(["--config", config, "controller", "status"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^blackout {4}unknown$/m);
    expect(r.stdout).toMatch(/^pattern {5}unknown$/m);
    const json = await runCli(["--config", config, "controller", "status", "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ online: true, blackout: null, pattern: null });
  });
});
