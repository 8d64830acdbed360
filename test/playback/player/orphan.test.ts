// An mpv left running by an agent killed with -9 is told to quit when the next player starts,
// so two never show on the same output.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../../agent/log.js";
import { Player } from "../../../agent/playback/player/index.js";
import { quitOrphan } from "../../../agent/playback/player/mpv-process.js";
import { tmp, until } from "./mpv-harness.js";

afterAll(() => tmp.cleanup());

describe("an orphaned mpv", () => {
  it("is told to quit before a new one starts on the same socket", async () => {
    const runDir = mkdtempSync(join(tmp.dir, "orphan-"));
    const socket = join(runDir, "mpv.sock");
    const orphan = spawn("mpv", ["--idle=yes", "--vo=null", "--ao=null", "--no-terminal", `--input-ipc-server=${socket}`], { stdio: "ignore" });
    let orphanExit: string | null = null;
    orphan.once("exit", (code, signal) => (orphanExit = signal ?? `code ${code}`));
    await until("the orphan's socket", () => existsSync(socket));
    await new Promise((r) => setTimeout(r, 200));
    const player = new Player({ mpvPath: "mpv", runDir, panel: { width: 64, height: 32 }, output: { x: 0, y: 0 }, headless: true, audio: false, log: silentLogger() });
    try {
      await player.start();
      await until("the orphan to exit", () => orphanExit !== null, 5000);
      expect(orphanExit).toBe("code 0");
      expect(player.isRunning).toBe(true);
    } finally {
      await player.close();
      if (orphanExit === null) orphan.kill("SIGKILL");
    }
  });

  it("costs nothing when there is none: a stale socket file nobody listens on", async () => {
    const runDir = mkdtempSync(join(tmp.dir, "stale-"));
    expect(await quitOrphan(join(runDir, "mpv.sock"))).toBe(false);
    writeFileSync(join(runDir, "mpv.sock"), "");
    expect(await quitOrphan(join(runDir, "mpv.sock"))).toBe(false);
  });
});
