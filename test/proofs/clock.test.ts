// Whether the wall clock was synchronised, as every entry records it: asked of whichever time
// daemon the host runs, not only systemd-timesyncd.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { processProbeRunner, SYNC_PROBES, systemClock, type CommandAnswer, type ProbeRunner, type SyncProbe } from "../../agent/proofs/clock.js";
import { tempDir } from "../helpers/tmp.js";

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => (tmp = tempDir()));
afterEach(() => tmp.cleanup());

/** A host whose commands answer as given (absent commands: null, as for ENOENT). */
function host(answers: Record<string, CommandAnswer | null>): ProbeRunner & { calls: string[] } {
  const calls: string[] = [];
  const answer = (command: string): CommandAnswer | null => {
    calls.push(command);
    return answers[command] ?? null;
  };
  return { calls, sync: answer, async: async (command) => answer(command) };
}

/** The shipped probes, with the timesyncd marker moved into a temp dir. */
function probes(markerExists: boolean): SyncProbe[] {
  const marker = join(tmp.dir, "synchronized");
  if (markerExists) writeFileSync(marker, "");
  return SYNC_PROBES.map((p) => ("marker" in p ? { ...p, marker } : p));
}

const CHRONY_SYNCED = "Reference ID    : C0A80001 (192.168.0.1)\nStratum         : 3\nLeap status     : Normal\n";
const CHRONY_UNSYNCED = "Reference ID    : 00000000 ()\nStratum         : 0\nLeap status     : Not synchronised\n";

describe("clock sync detection", () => {
  it.each([
    ["systemd-timesyncd's marker", true, {}, true],
    ["timedated saying yes (chrony or ntpd set the kernel's flag)", false, { timedatectl: { status: 0, stdout: "yes\n" } }, true],
    ["timedated saying no", false, { timedatectl: { status: 0, stdout: "no\n" }, chronyc: { status: 0, stdout: CHRONY_SYNCED } }, false],
    ["chrony without timedated, synchronised", false, { chronyc: { status: 0, stdout: CHRONY_SYNCED } }, true],
    ["chrony without timedated, not synchronised", false, { chronyc: { status: 0, stdout: CHRONY_UNSYNCED } }, false],
    ["ntpd (ntpstat exits 0)", false, { ntpstat: { status: 0, stdout: "synchronised to NTP server\n" } }, true],
    ["ntpd (ntpstat exits 1)", false, { ntpstat: { status: 1, stdout: "unsynchronised\n" } }, false],
    ["nothing that can tell", false, { ntpstat: { status: 2, stdout: "" } }, false],
  ] as const)("%s", (_what, marker, answers, expected) => {
    const clock = systemClock({ probes: probes(marker), runner: host(answers) });
    expect(clock.synced()).toBe(expected);
  });

  it("asks once, then refreshes in the background when the verdict is stale, never on the caller's time", async () => {
    const answers: Record<string, CommandAnswer | null> = { chronyc: { status: 0, stdout: CHRONY_UNSYNCED } };
    const runner = host(answers);
    const clock = systemClock({ probes: probes(false), runner, recheckMs: 0 });
    expect(clock.synced()).toBe(false);
    const asked = runner.calls.length;
    expect(clock.synced()).toBe(false); // stale: a refresh starts, the old verdict is returned now
    answers.chronyc = { status: 0, stdout: CHRONY_SYNCED };
    await new Promise((r) => setImmediate(r));
    expect(runner.calls.length).toBeGreaterThan(asked);
    expect(clock.synced()).toBe(true);
  });

  it("on this host, with its real commands, gives an answer and does not throw", () => {
    expect(typeof systemClock().synced()).toBe("boolean");
  });
});

describe("the probe runner", () => {
  it("a probe that cannot be spawned (EACCES: a directory, or a PATH entry this user cannot enter) is no answer, never a crash", async () => {
    const notAProgram = tempDir("ledagent-probe-");
    try {
      expect(processProbeRunner.sync(notAProgram.dir, [])).toBeNull();
      expect(await processProbeRunner.async(notAProgram.dir, [])).toBeNull();
    } finally {
      notAProgram.cleanup();
    }
  });
});
