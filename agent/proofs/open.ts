// Opens the ledger the way every command and the daemon do: the agent database, the device key.
import type { Logger } from "pino";
import type { Config } from "../config.js";
import { loadPrivateKey } from "../crypto/index.js";
import { agentPaths } from "../paths.js";
import { openDatabase } from "../store/index.js";
import { systemClock, type ClockSource } from "./clock.js";
import { Ledger, LedgerReader } from "./ledger.js";

export interface OpenedLedger {
  ledger: Ledger;
  close(): void;
}

export function openLedger(config: Pick<Config, "dataDir" | "runDir" | "screenId">, opts: { clock?: ClockSource; log?: Logger } = {}): OpenedLedger {
  const paths = agentPaths(config);
  const keys = loadPrivateKey(paths.deviceKey);
  const db = openDatabase(paths.database);
  try {
    const ledger = new Ledger({ db, screenId: config.screenId, keys, clock: opts.clock ?? systemClock(), log: opts.log });
    return { ledger, close: () => db.close() };
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Read-only use (exports, reports): needs no key. */
export function openLedgerReader(config: Pick<Config, "dataDir" | "runDir">): { reader: LedgerReader; close(): void } {
  const db = openDatabase(agentPaths(config).database, { mustExist: true });
  try {
    return { reader: new LedgerReader(db), close: () => db.close() };
  } catch (err) {
    db.close();
    throw err;
  }
}
