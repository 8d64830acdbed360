// The whole report: every line in its fixed order, the checks that need a config skipped (and
// said so) when there is none, and the text the technician reads.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { doctorText } from "../../agent/cli/doctor.js";
import type { AgentStatus } from "../../agent/commands/index.js";
import { runDoctor, type DoctorReport } from "../../agent/doctor/index.js";
import type { RunProgram } from "../../agent/doctor/types.js";
import { tempDir } from "../helpers/tmp.js";

/** Tools answer as themselves; systemd is not there. */
const run: RunProgram = async (command) => {
  const name = command.split("/").pop() ?? command;
  if (name === "systemctl") return null;
  return { status: 0, stdout: name === "mpv" ? "mpv 0.35.1 Copyright\n" : `${name} version 5.1\n`, stderr: "" };
};

describe("runDoctor", () => {
  it("without a usable config: the config line fails, the rest that need it are skipped, the others still run", async () => {
    const tmp = tempDir("ledagent-doctor-report-");
    try {
      const report = await runDoctor({ configFile: join(tmp.dir, "none.yaml"), env: { PATH: process.env.PATH }, run });
      expect(report.checks.map((c) => c.name)).toEqual(["config", "user", "ffmpeg", "ffprobe", "mpv", "clock", "watchdog"]);
      expect(report.checks[0].level).toBe("fail");
      expect(report.ok).toBe(false);
      expect(report.skipped).toContain("controller");
      expect(report.daemon).toBeNull();
    } finally {
      tmp.cleanup();
    }
  });
});

describe("doctorText", () => {
  const status: AgentStatus = {
    at: "2026-12-01T08:00:00.000Z",
    playout: { scheduleVersion: 7, nowPlaying: null, next: null, suspension: null, takedowns: [] },
    controller: null,
    ledger: { headSeq: 12 },
    sync: null,
    host: null,
    process: { uptimeS: 30, rssBytes: 50 * 1024 * 1024 },
  };
  const report: DoctorReport = {
    ok: false,
    checks: [
      { name: "config", level: "ok", detail: "/etc/ledagent/config.yaml (screen sz-1; from the default place)" },
      { name: "broker", level: "fail", detail: "mqtt://b:1883: connection refused", fix: "start the broker" },
      { name: "daemon", level: "ok", detail: "running, up 0 min 30 s, answers on /run/ledagent/control.sock" },
    ],
    daemon: status,
    skipped: [],
    timezone: "Asia/Shanghai",
  };

  it("aligns level, name and detail; puts the fix under its line and the agent's status under the daemon line", () => {
    expect(doctorText(report).split("\n")).toEqual([
      "ok   config       /etc/ledagent/config.yaml (screen sz-1; from the default place)",
      "fail broker       mqtt://b:1883: connection refused",
      "                  → fix: start the broker",
      "ok   daemon       running, up 0 min 30 s, answers on /run/ledagent/control.sock",
      "                  on screen   nothing",
      "                  next        nothing planned",
      "                  schedule    v7",
      "                  suspended   no",
      "                  taken down  nothing",
      "                  controller  not running",
      "                  ledger      head seq 12",
      "                  proofs      not synced: no MQTT link runs",
      "                  agent       up 0 min 30 s, 50 MiB, as of 2026-12-01 16:00:00 +08:00",
      "",
      "1 failed, 0 to look at",
    ]);
  });

  it("says so when everything is ok, and which checks a missing config left out", () => {
    const fine: DoctorReport = { ...report, ok: true, checks: [report.checks[0]], daemon: null, skipped: ["ledger", "broker"] };
    expect(doctorText(fine).split("\n").slice(-3)).toEqual(["                  not checked without a usable config: ledger, broker", "", "all checks ok"]);
  });
});
