import { relative } from "node:path";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

// The fleet's end-to-end files (a daemon draining proofs at full speed on both cores) run after the
// rest, so the real-time playout tests never share the machine with them. That is ordering, not a
// cure for a timing failure: see the clock-step case in clock-jump.scenario.ts.
const FLEET_END_TO_END = ["test/link/agent-schedule.test.ts", "test/link/agent-commands.test.ts", "test/link/sync-faults.test.ts", "test/system/field.test.ts"];

/**
 * About how long (s) the long files take in a full run on two cores. Without a results cache (a
 * fresh clone, as CI runs) vitest starts the largest files first, and a short file that runs long,
 * started last, kept one worker busy alone for minutes while the other sat idle. These start
 * first, longest first, within their group; the rest follow in vitest's own order.
 */
const LONG_FILES: Record<string, number> = {
  "test/playback/playout/timed-hour.test.ts": 150,
  "test/link/sync-faults.test.ts": 92,
  "test/cli/demo.test.ts": 61,
  // 85 s, but not beside timed-hour's start: ten rigs starting mpv and ffmpeg at once kept the
  // two-minute run's player from starting for 13 s and more, and its first windows' plays then
  // went past their ends. It starts once the file before it is done.
  "test/playback/playout/timed-orders.test.ts": 40,
  "test/drivers/cli.test.ts": 36,
  "test/link/agent-schedule.test.ts": 34,
  "test/cli/proofs-cli.test.ts": 34,
  "test/link/agent-commands.test.ts": 31,
  "test/system/field.test.ts": 30,
  "test/playback/planner/edge-properties.test.ts": 29,
  "test/playback/creatives/pipeline.test.ts": 29,
  "test/playback/creatives/concurrent-fetch.test.ts": 27,
  "test/proofs/crash.test.ts": 27,
  "test/deploy/installer.test.ts": 27,
  "test/playback/playout/interjections.test.ts": 26,
  "test/daemon/schedule-loads.test.ts": 24,
  "test/playback/player/clear.test.ts": 24,
  "test/playback/playout/new-schedule.test.ts": 23,
  "test/playback/playout/playout.test.ts": 23,
  "test/playback/playout/interjection-orders.test.ts": 23,
  "test/cli/cli-output.test.ts": 22,
  "test/daemon/daemon-process.test.ts": 20,
  "test/cli/ledger-lifecycle.test.ts": 20,
};

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = new Map(sorted.map((f, i) => [f, i]));
    const group = (f: TestSpecification): number => f.project.config.sequence.groupOrder;
    const seconds = (f: TestSpecification): number => LONG_FILES[relative(f.project.config.root, f.moduleId)] ?? 0;
    // A stable reorder inside each group: the groups still run one after the other.
    return [...sorted].sort((a, b) => group(a) - group(b) || seconds(b) - seconds(a) || rank.get(a)! - rank.get(b)!);
  }
}

export default defineConfig({
  test: {
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Two cores: integration tests spawn ffmpeg, mpv, mosquitto and socat themselves.
    maxWorkers: 2,
    sequence: { sequencer: LongestFirst },
    projects: [
      { extends: true, test: { name: "agent", include: ["test/**/*.test.ts"], exclude: FLEET_END_TO_END, sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: "fleet", include: FLEET_END_TO_END, sequence: { groupOrder: 1 } } },
    ],
  },
});
