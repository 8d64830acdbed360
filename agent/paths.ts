// Where the agent keeps things under its data and run directories: one place, so the CLI,
// the daemon and the docs agree.
import { join } from "node:path";
import type { Config } from "./config.js";

export interface AgentPaths {
  deviceKey: string;
  devicePublicKey: string;
  /** Where retired ledgers go, each in a dated directory with its public key and final signed head. */
  archiveDir: string;
  database: string;
  creativesDir: string;
  scheduleFile: string;
  controlSocket: string;
}

export function agentPaths(config: Pick<Config, "dataDir" | "runDir">): AgentPaths {
  return {
    deviceKey: join(config.dataDir, "keys", "device.key"),
    devicePublicKey: join(config.dataDir, "keys", "device.pub.pem"),
    archiveDir: join(config.dataDir, "archive"),
    database: join(config.dataDir, "ledagent.db"),
    creativesDir: join(config.dataDir, "creatives"),
    scheduleFile: join(config.dataDir, "schedule.json"),
    controlSocket: join(config.runDir, "control.sock"),
  };
}
