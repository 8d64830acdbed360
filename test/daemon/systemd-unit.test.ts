// The shipped unit, read by systemd's own tools: its sandbox scores at most 2.5 on
// `systemd-analyze security` (lower is safer), and it keeps what the agent's start, watchdog and
// stop rely on.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const unitPath = join(import.meta.dirname, "..", "..", "systemd", "ledagent.service");
const unit = readFileSync(unitPath, "utf8");
const setting = (key: string): string[] => [...unit.matchAll(new RegExp(`^${key}=(.*)$`, "gm"))].map((m) => m[1]);

describe("systemd/ledagent.service", () => {
  it("scores an exposure of at most 2.5 in `systemd-analyze security --offline=true`", () => {
    const run = spawnSync("systemd-analyze", ["security", "--offline=true", "--threshold=25", unitPath], { encoding: "utf8" });
    expect(run.error, "systemd-analyze (Debian package systemd) must be installed").toBeUndefined();
    const level = /Overall exposure level for ledagent\.service: (\d+\.\d)/.exec(run.stdout);
    expect(level, run.stdout + run.stderr).not.toBeNull();
    expect(Number(level?.[1])).toBeLessThanOrEqual(2.5);
    // The threshold is the tool's own verdict on the same number.
    expect(run.status, run.stdout).toBe(0);
  });

  it("is Type=notify with a watchdog only the main process may feed, and restarts for ever", () => {
    expect(setting("Type")).toEqual(["notify"]);
    expect(setting("NotifyAccess")).toEqual(["main"]);
    expect(Number(setting("WatchdogSec")[0])).toBeGreaterThanOrEqual(10);
    expect(setting("Restart")).toEqual(["always"]);
    expect(setting("StartLimitIntervalSec")).toEqual(["0"]);
    // The agent's own stop is 5 s; systemd must wait longer before it kills.
    expect(Number(setting("TimeoutStopSec")[0])).toBeGreaterThan(5);
    expect(setting("KillMode")).toEqual(["mixed"]);
  });

  it("runs as its own user, with the serial port and the display, and systemd-made directories", () => {
    expect(setting("User")).toEqual(["ledagent"]);
    expect(setting("SupplementaryGroups")[0].split(" ")).toEqual(expect.arrayContaining(["dialout", "video"]));
    expect(setting("StateDirectory")).toEqual(["ledagent"]);
    expect(setting("RuntimeDirectory")).toEqual(["ledagent"]);
    expect(setting("ConfigurationDirectory")).toEqual(["ledagent"]);
    expect(setting("ExecStart")).toEqual(["/opt/ledagent/current/bin/ledagent.js run --config /etc/ledagent/config.yaml"]);
  });
});
