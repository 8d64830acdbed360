// `ledagent init --root DIR`: what an installer uses to set up a root filesystem other than the
// running one. Files land under DIR; the config names the paths the agent will see there.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { registerInitCommands } from "../../agent/cli/init.js";
import { runCliInProcess } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";

describe("ledagent init --root", () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir("ledagent-init-root-");
  });
  afterEach(() => tmp.cleanup());

  const init = (extra: string[] = []) =>
    runCliInProcess(registerInitCommands, ["--config", "/etc/ledagent/config.yaml", "init", "--screen", "img-001", "--root", tmp.dir, "--data-dir", "/var/lib/ledagent", "--run-dir", "/run/ledagent", ...extra]);

  it("writes the config and the key under the root, naming the paths as seen from inside it", async () => {
    const r = await init();
    expect(r.code, r.stderr).toBe(0);
    const config = readFileSync(join(tmp.dir, "etc/ledagent/config.yaml"), "utf8");
    expect(config).toMatch(/^dataDir: "\/var\/lib\/ledagent"/m);
    expect(config).toMatch(/^runDir: "\/run\/ledagent"/m);
    expect(config).not.toContain(tmp.dir);
    const key = join(tmp.dir, "var/lib/ledagent/keys/device.key");
    expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(r.stdout).toContain(`config: ${join(tmp.dir, "etc/ledagent/config.yaml")}`);
    expect(r.stdout).toContain(`device key: ${key} (new)`);
    expect(r.stdout).toContain(readFileSync(join(tmp.dir, "var/lib/ledagent/keys/device.pub.pem"), "utf8"));
  });

  it("finds an existing config and key under the root: refused without --force, kept with it", async () => {
    expect((await init()).code).toBe(0);
    const key = readFileSync(join(tmp.dir, "var/lib/ledagent/keys/device.key"));
    const again = await init();
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`${join(tmp.dir, "etc/ledagent/config.yaml")} already exists`);
    const forced = await init(["--force", "--panel", "640x320"]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain("(kept)");
    expect(readFileSync(join(tmp.dir, "var/lib/ledagent/keys/device.key"))).toEqual(key);
    expect(readFileSync(join(tmp.dir, "etc/ledagent/config.yaml"), "utf8")).toMatch(/^ {2}width: 640$/m);
    expect(existsSync(join(tmp.dir, "var/lib/ledagent/ledagent.db"))).toBe(false);
  });
});
