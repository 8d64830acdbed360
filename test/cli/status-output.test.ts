// `ledagent status` for people: every part of the agent's status on its own line.
import { describe, expect, it } from "vitest";
import type { AgentStatus, ControllerStatus } from "../../agent/commands/index.js";
import { statusText } from "../../agent/cli/status-output.js";

const controller: ControllerStatus = { online: true, brightness: 60, blackout: false, pattern: "off", temperatureC: 41, faults: ["temperature.high"], detail: "card 0/0 at 81 °C", confirmed: true, readAt: 0 };

const base: AgentStatus = {
  at: "2026-12-01T11:30:00.000Z",
  playout: {
    scheduleVersion: 12,
    nowPlaying: { campaign: "cola-dec", creative: "cola-15", since: "2026-12-01T11:29:50.000Z", makeGood: true, test: false },
    next: { campaign: null, creative: "house-30", at: "2026-12-01T11:30:05.000Z" },
    suspension: { reason: "typhoon signal 8", until: "2026-12-01T14:00:00.000Z", campaigns: null, blackout: true, since: "2026-12-01T11:00:00.000Z" },
    takedowns: [
      { campaign: "pepsi-dec", creative: null, since: "2026-12-01T09:00:00.000Z" },
      { campaign: null, creative: "cola-30", since: "2026-12-01T10:00:00.000Z" },
    ],
  },
  controller,
  ledger: { headSeq: 4211 },
  sync: { ackedThrough: 4200, unsynced: 11, inFlight: null },
  host: { diskFreeBytes: 12 * 1024 ** 3, clockSynced: true, linkConnected: true },
  process: { uptimeS: 3 * 86_400 + 4 * 3600 + 120, rssBytes: 120 * 1024 * 1024 },
};

describe("statusText", () => {
  it("says what is on screen, what is next, the schedule, the orders, the controller and the ledger, in the configured zone", () => {
    expect(statusText(base, "Asia/Shanghai").split("\n")).toEqual([
      "on screen   cola-dec / cola-15 (make-good) since 2026-12-01 19:29:50 +08:00",
      "next        house-30 at 2026-12-01 19:30:05 +08:00",
      "schedule    v12",
      "suspended   the whole screen since 2026-12-01 19:00:00 +08:00, until 2026-12-01 22:00:00 +08:00, blacked out: typhoon signal 8",
      "taken down  campaign pepsi-dec since 2026-12-01 17:00:00 +08:00",
      "            creative cola-30 since 2026-12-01 18:00:00 +08:00",
      "controller  online, brightness 60 %, blackout off, 41 °C, faults temperature.high (card 0/0 at 81 °C)",
      "ledger      head seq 4211",
      "proofs      link connected, collector acked through seq 4200, 11 waiting",
      "host        12.0 GiB free, clock synchronised",
      "agent       up 3 d 4 h, 120 MiB, as of 2026-12-01 19:30:00 +08:00",
    ]);
  });

  it("says plainly when a part is not running or there is nothing", () => {
    const idle: AgentStatus = { ...base, playout: null, controller: null, ledger: null, sync: null, host: null, process: { uptimeS: 75, rssBytes: 0 } };
    expect(statusText(idle, "UTC").split("\n")).toEqual([
      "on screen   unknown: the playout is not running",
      "controller  not running",
      "ledger      not open",
      "proofs      not synced: no MQTT link runs",
      "agent       up 1 min 15 s, 0 MiB, as of 2026-12-01 11:30:00 +00:00",
    ]);
    const test: AgentStatus = {
      ...base,
      playout: { scheduleVersion: null, nowPlaying: { campaign: null, creative: "grid", since: "2026-12-01T11:29:00.000Z", makeGood: false, test: true }, next: null, suspension: null, takedowns: [] },
      controller: { ...controller, online: false, detail: "controller tcp://10.0.0.5:5200 refused the connection (ECONNREFUSED)" },
    };
    const written: AgentStatus = { ...base, controller: { ...controller, faults: [], confirmed: false } };
    expect(statusText(written, "UTC")).toMatch(/^controller {2}online, brightness 60 %, blackout off, 41 °C, no faults, as written \(not yet read back\)$/m);
    expect(statusText(test, "UTC").split("\n").slice(0, 6)).toEqual([
      "on screen   grid (technician's test) since 2026-12-01 11:29:00 +00:00",
      "next        nothing planned",
      "schedule    none loaded",
      "suspended   no",
      "taken down  nothing",
      "controller  offline: controller tcp://10.0.0.5:5200 refused the connection (ECONNREFUSED)",
    ]);
  });
});
