import { defineConfig } from "vitest/config";

// The fleet's end-to-end tests each run a daemon that drains proofs at full speed on both cores:
// they run after everything else, so the real-time playout tests never share the machine with them.
const FLEET_END_TO_END = ["test/link/agent-schedule.test.ts", "test/link/agent-commands.test.ts", "test/link/sync-faults.test.ts"];

export default defineConfig({
  test: {
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Two cores: integration tests spawn ffmpeg, mpv, mosquitto and socat themselves.
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: "agent", include: ["test/**/*.test.ts"], exclude: FLEET_END_TO_END, sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: "fleet", include: FLEET_END_TO_END, sequence: { groupOrder: 1 } } },
    ],
  },
});
