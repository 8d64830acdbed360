// Commands about the agent as a whole: what it is doing, proof sync, restart, and the
// technician's maintenance note.
import type { ControllerStatus } from "../drivers/types.js";
import { noArgs, noteArgs, restartArgs } from "./args.js";
import { defineCommand, need, nowMs, type Command } from "./definition.js";
import type { CommandDeps, CommandOrigin, PlayoutStatus, ProofSyncStatus } from "./types.js";

/**
 * `status`, and the telemetry the MQTT link publishes (the same object): each part that is
 * running says what it knows; a part that is not is null.
 */
export interface AgentStatus {
  at: string;
  playout: PlayoutStatus | null;
  controller: ControllerStatus | null;
  ledger: { headSeq: number | null } | null;
  /** The proof outbox; null when no MQTT link runs. */
  sync: ProofSyncStatus | null;
  host: { diskFreeBytes: number | null; clockSynced: boolean; linkConnected: boolean | null } | null;
  process: { uptimeS: number; rssBytes: number };
}

export async function agentStatus(deps: CommandDeps): Promise<AgentStatus> {
  // Read side by side: a slow controller read must not hold up the playout's answer.
  const [playout, controller] = await Promise.all([deps.playout?.status() ?? null, deps.controller?.status() ?? null]);
  const host = deps.host;
  return {
    at: new Date(nowMs(deps)).toISOString(),
    playout,
    controller,
    ledger: deps.ledger ? { headSeq: deps.ledger.head()?.seq ?? null } : null,
    sync: deps.proofSync?.status() ?? null,
    host: host ? { diskFreeBytes: host.diskFreeBytes(), clockSynced: host.clockSynced(), linkConnected: host.linkConnected() } : null,
    process: { uptimeS: Math.round(process.uptime()), rssBytes: process.memoryUsage.rss() },
  };
}

const status = defineCommand({
  name: "status",
  summary: "what plays now and next, the schedule version, the controller, live orders",
  args: noArgs,
  changes: false,
  run: (_args, deps) => agentStatus(deps),
});

const proofsSync = defineCommand({
  name: "proofs.sync",
  summary: "pushes the proof outbox now; the result says through which seq the collector acked",
  args: noArgs,
  changes: false,
  // Waits for the collector's ack, which may take several batches.
  timeoutMs: 120_000,
  run: (_args, deps) => need(deps, "proofSync", "the proof sync (MQTT link)").syncNow(),
});

function describeOrigin(origin: CommandOrigin): string {
  return origin.kind === "local" ? `local user ${origin.user}` : `MQTT command ${origin.commandId}`;
}

const agentRestart = defineCommand({
  name: "agent.restart",
  summary: "a clean exit; systemd starts the agent again",
  args: restartArgs,
  changes: true,
  async run(args, deps, ctx) {
    const agent = need(deps, "agent", "the agent's lifecycle");
    agent.restart(args.reason ?? `restart asked by ${describeOrigin(ctx.origin)}`);
    return { restarting: true };
  },
});

const note = defineCommand({
  name: "note",
  summary: "appends a technician.note event to the ledger; answers once it is committed",
  args: noteArgs,
  // Its own technician.note entry is the record; a command.executed beside it would say it twice.
  changes: false,
  localOnly: true,
  async run(args, deps, ctx) {
    const ledger = need(deps, "ledger", "the ledger");
    const by = args.by ?? (ctx.origin.kind === "local" ? ctx.origin.user : undefined);
    const entry = ledger.event("technician.note", { text: args.text, ...(by ? { by } : {}) });
    return { seq: entry.seq };
  },
});

export const agentCommands: readonly Command[] = [status, proofsSync, agentRestart, note];
