// The MQTT link as a daemon service: optional (a broker that cannot be reached, a certificate
// that cannot be read, leave the screen playing from its stored schedule), started last, after the
// command registry it feeds. Its outbox cursor and command ids live in the agent's database,
// beside the ledger, on the ledger's own connection.
import { statfsSync } from "node:fs";
import type { Config } from "../config.js";
import { agentStatus, type CommandDeps, type HostFacts } from "../commands/index.js";
import { AlertCursor } from "../link/alert-cursor.js";
import { CommandGate } from "../link/command-gate.js";
import { MqttConnection } from "../link/connection.js";
import { connectionOptionsFromConfig } from "../link/connection-options.js";
import { Link } from "../link/link.js";
import { ProofSync } from "../link/proof-sync.js";
import { CommandReplayStore } from "../link/replay-store.js";
import type { Logger } from "../log.js";
import { loadOpsPublicKey } from "../playback/schedule/index.js";
import { systemClock } from "../proofs/clock.js";
import { ProofOutbox } from "../proofs/outbox.js";
import { VERSION } from "../version.js";
import { required, type DaemonParts } from "./parts.js";
import type { Service } from "./services.js";

export interface LinkServiceDeps {
  config: Config;
  log: Logger;
  parts: DaemonParts;
  /** What the registry's commands see (the status command's object is the telemetry). */
  commandDeps: CommandDeps;
}

/** Free space, the clock and the link, as status and telemetry report them. */
export function hostFacts(config: Pick<Config, "dataDir">, parts: DaemonParts): HostFacts {
  const clock = systemClock();
  return {
    diskFreeBytes: () => {
      try {
        const s = statfsSync(config.dataDir);
        return s.bavail * s.bsize;
      } catch {
        return null;
      }
    },
    clockSynced: () => clock.synced(),
    linkConnected: () => parts.link?.connected ?? null,
  };
}

export function linkService(deps: LinkServiceDeps): Service {
  let link: Link | null = null;
  return {
    name: "MQTT link",
    optional: true,
    async start() {
      const { config, parts } = deps;
      if (!config.mqtt) throw new Error("no mqtt section in the config: the screen plays its stored schedule and syncs nothing");
      const log = deps.log.child({ part: "link" });
      const ledger = required(parts, "ledger", "the MQTT link");
      const registry = required(parts, "commands", "the MQTT link");
      const loader = required(parts, "scheduleLoader", "the MQTT link");
      const connection = new MqttConnection({ options: connectionOptionsFromConfig(config.mqtt, config.screenId, VERSION), log });
      const outbox = new ProofOutbox(ledger.db);
      const proofSync = new ProofSync({ outbox, publish: (t, p, o) => connection.publish(t, p, o), screenId: config.screenId, connected: () => connection.connected, log });
      const replay = new CommandReplayStore(ledger.db);
      const gate = new CommandGate({ registry, replay, opsPublicKey: opsKeyOrNull(config, log), screenId: config.screenId, now: () => Date.now(), log, ledger });
      link = new Link({
        screenId: config.screenId,
        connection,
        schedules: { apply: (text, source, origin) => loader.apply(text, source, origin) },
        gate,
        proofSync,
        ledger,
        status: () => agentStatus(deps.commandDeps),
        telemetryIntervalS: config.telemetryIntervalS,
        alertCursor: new AlertCursor(ledger.db),
        log,
      });
      parts.proofSync = proofSync;
      parts.link = link;
      link.start();
    },
    async stop() {
      deps.parts.link = null;
      deps.parts.proofSync = null;
      await link?.stop();
      link = null;
    },
  };
}

/** The ops key, or null (every command then refused as unverifiable) with the reason in the log. */
function opsKeyOrNull(config: Config, log: Logger): ReturnType<typeof loadOpsPublicKey> {
  try {
    const key = loadOpsPublicKey(config);
    if (!key) log.warn("no opsPublicKey in the config: every MQTT command and schedule is refused");
    return key;
  } catch (err) {
    log.error({ err }, "the ops public key cannot be used: every MQTT command is refused until it is fixed and the agent restarted");
    return null;
  }
}
