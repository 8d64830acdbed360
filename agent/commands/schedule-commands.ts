// `schedule.load`: the technician's `ledagent schedule load F` while the daemon runs. The daemon
// applies the envelope (one apply at a time) and hands the schedule in force to the playout; the
// CLI only reads the file. A rejection is a result (`state: "rejected"`, recorded in the ledger as
// schedule.rejected), not a refusal: the command did its job, the schedule was judged.
import { createHash } from "node:crypto";
import { scheduleLoadArgs } from "./args.js";
import { defineCommand, need, type Command } from "./definition.js";

/** Longer than the registry's default: a 4 MiB envelope is parsed, validated and verified. */
const SCHEDULE_LOAD_TIMEOUT_MS = 50_000;

const scheduleLoad = defineCommand({
  name: "schedule.load",
  summary: "applies a signed schedule envelope from a file (same checks as an MQTT delivery); the result says applied, unchanged or rejected",
  args: scheduleLoadArgs,
  changes: true,
  localOnly: true,
  timeoutMs: SCHEDULE_LOAD_TIMEOUT_MS,
  // The envelope may be megabytes, far over what one ledger entry holds: command.executed names
  // it by size and hash (schedule.applied / schedule.rejected record what it held).
  recordedArgs: (args) => ({
    source: args.source,
    envelopeBytes: Buffer.byteLength(args.envelope),
    envelopeSha256: createHash("sha256").update(args.envelope).digest("hex"),
  }),
  run: (args, deps) => need(deps, "schedule", "the schedule loader").load(args.envelope, args.source),
});

export const scheduleCommands: readonly Command[] = [scheduleLoad];
