// The gate every command delivered over MQTT passes: the envelope's checks, then the replay store's
// claim, then the command registry. A command runs at most once, and only when the ops key signed
// it for this screen and it is in date. Every refusal is answered with its code, logged, and
// reaches the ledger: command by command when the ops key signed it (the ops side's own mistake,
// worth an audit line each), summarised once a minute at most when it did not (a forger's flood
// must not flood the ledger).
import type { KeyObject } from "node:crypto";
import type { Logger } from "pino";
import type { CommandContext, CommandLedger, CommandOutcome } from "../commands/types.js";
import { checkCommandEnvelope, type CommandBody, type CommandRefusal } from "./command-envelope.js";
import { replayKeepUntil, type ClaimResult, type CommandReplayStore, type SeenCommand } from "./replay-store.js";
import type { LinkRefusalCode } from "./types.js";

/** At most this many commands from the link run at once; more wait their turn (see CommandGate). */
export const MAX_RUNNING_COMMANDS = 8;
/** Unsigned refusals reach the ledger at most once per this interval, as a count. */
export const REFUSAL_SUMMARY_INTERVAL_MS = 60_000;
/**
 * Signed refusals recorded one by one per interval; beyond that they join the summary. A valid
 * signature proves who issued a command, not who sent it now: anyone who captured an envelope can
 * replay it, or send it to another screen, as often as they like.
 */
export const SIGNED_REFUSALS_PER_INTERVAL = 10;

export type CommandReply =
  | { id: string | null; ok: true; result: unknown }
  | { id: string | null; ok: false; error: { code: string; message: string }; original?: CommandOutcome | null };

export interface CommandExecutor {
  execute(name: string, args: unknown, ctx: CommandContext): Promise<CommandOutcome>;
}

export interface CommandGateDeps {
  registry: CommandExecutor;
  replay: CommandReplayStore;
  opsPublicKey: KeyObject | null;
  screenId: string;
  /** Wall clock, UTC ms. */
  now: () => number;
  log: Logger;
  ledger?: CommandLedger;
  /** Instead of MAX_RUNNING_COMMANDS (tests). */
  maxRunning?: number;
  /** Instead of REFUSAL_SUMMARY_INTERVAL_MS (tests). */
  summaryIntervalMs?: number;
}

/** Unsigned refusals counted since the last summary written to the ledger. */
interface RefusalTally {
  count: number;
  byCode: Partial<Record<LinkRefusalCode, number>>;
  lastCode: LinkRefusalCode;
}

/**
 * Commands beyond the limit are queued in arrival order rather than refused: a `busy` code is not
 * in the spec, only the ops key holder can get a command this far, and a queued command was
 * claimed already, so it still runs at most once.
 */
export class CommandGate {
  /** Commands claimed by this gate and not finished: a duplicate delivery waits for its outcome. */
  private readonly running = new Map<string, Promise<CommandOutcome>>();
  private readonly waiting: Array<() => void> = [];
  private slotsInUse = 0;
  private tally: RefusalTally | null = null;
  private signedWindow = { since: -Infinity, recorded: 0 };
  private lastSummaryAt: number | null = null;
  private summaryTimer: NodeJS.Timeout | null = null;

  constructor(private readonly deps: CommandGateDeps) {}

  /** Writes a pending refusal summary now, and waits for the commands running. */
  async stop(): Promise<void> {
    this.flushSummary();
    await Promise.allSettled([...this.running.values()]);
  }

  /** Forgets ids past their keep time (call it hourly); a failure is logged, and tried again at the next prune. */
  prune(): number {
    try {
      const forgotten = this.deps.replay.prune(this.deps.now());
      if (forgotten > 0) this.deps.log.info({ forgotten }, "forgot command ids past their keep time");
      return forgotten;
    } catch (err) {
      this.deps.log.error({ err }, "command ids could not be pruned");
      return 0;
    }
  }

  /** The answer to one delivery on `cmd`: the shape of cmd/result. Never throws. */
  async handle(payload: Buffer): Promise<CommandReply> {
    try {
      return await this.answer(payload);
    } catch (err) {
      // Every step catches its own failures; this keeps a mistake from leaving a sender unanswered.
      this.deps.log.error({ err }, "a command delivery could not be answered");
      return { id: null, ok: false, error: { code: "failed", message: `the command could not be handled: ${(err as Error).message}` } };
    }
  }

  private async answer(payload: Buffer): Promise<CommandReply> {
    const check = checkCommandEnvelope(payload, { opsPublicKey: this.deps.opsPublicKey, screenId: this.deps.screenId, nowMs: this.deps.now() });
    if (!check.ok) return this.refused(check);
    return this.admit(check.command, check.digest);
  }

  private async refused(refusal: CommandRefusal): Promise<CommandReply> {
    // A redelivery that arrives after its expiry (the agent was offline, a PUBACK was lost) is
    // still a duplicate of a command that ran: its sender gets the original, not "expired".
    if (refusal.code === "expired" && refusal.signed) {
      const seen = this.peek(refusal.id);
      if (seen && seen.digest === refusal.signed.digest) return this.replayed(refusal.id as string, refusal.signed.name, seen);
    }
    const reply = this.refusalReply(refusal.id, refusal.code, refusal.message);
    if (refusal.signed) this.recordRefusal({ name: refusal.signed.name, commandId: refusal.id, error: refusal.code, message: refusal.message });
    else this.countRefusal(refusal.code);
    return reply;
  }

  /** Claims the id and runs the command, or answers a replay. */
  private async admit(command: CommandBody, digest: string): Promise<CommandReply> {
    const now = this.deps.now();
    let claim: ClaimResult;
    try {
      claim = this.deps.replay.claim(command.id, digest, command.name, replayKeepUntil(Date.parse(command.expiresAt), now), now);
    } catch (err) {
      // Without a durable claim nothing would stop a second run: refuse to run at all.
      this.deps.log.error({ err, id: command.id, command: command.name }, "command not run: its id could not be recorded");
      return { id: command.id, ok: false, error: { code: "failed", message: `not run: the command id could not be recorded (${(err as Error).message}); send it again later` } };
    }
    if (claim.state === "seen") return this.replayed(command.id, command.name, claim, digest);
    // No await between the claim and this: a duplicate arriving meanwhile must find it running.
    const run = this.run(command);
    this.running.set(command.id, run);
    const outcome = await run;
    return { id: command.id, ...outcome };
  }

  private async run(command: CommandBody): Promise<CommandOutcome> {
    await this.takeSlot();
    let outcome: CommandOutcome;
    try {
      outcome = await this.deps.registry.execute(command.name, command.args, { origin: { kind: "mqtt", commandId: command.id } });
    } catch (err) {
      // The registry never throws; should it, the command still ends with an outcome.
      outcome = { ok: false, error: { code: "failed", message: `${command.name} failed: ${(err as Error).message}` } };
    } finally {
      this.releaseSlot();
    }
    try {
      this.deps.replay.finish(command.id, outcome);
    } catch (err) {
      this.deps.log.error({ err, id: command.id }, "the command's outcome could not be recorded; a redelivery will report it unknown");
    }
    this.running.delete(command.id);
    return outcome;
  }

  /**
   * The answer to an id seen before: never run again. The same envelope gets the first outcome
   * (waiting for it while it runs); another command under a used id learns nothing of the first.
   */
  private async replayed(id: string, name: string, seen: SeenCommand, digest = seen.digest): Promise<CommandReply> {
    const first = new Date(seen.receivedAt).toISOString();
    let reply: CommandReply & { ok: false };
    if (digest !== seen.digest) {
      reply = this.refusalReply(id, "replayed", `id ${id} was used at ${first} for a different command; not run`);
    } else {
      const inFlight = this.running.get(id);
      const original = inFlight ? await inFlight : seen.outcome;
      const unknown = original === null ? "; outcome unknown: the agent stopped while it ran (it may or may not have taken effect)" : "";
      reply = { ...this.refusalReply(id, "replayed", `command ${id} was first received at ${first} and is never run twice${unknown}`), original };
    }
    this.recordRefusal({ name, commandId: id, error: "replayed", message: reply.error.message });
    return reply;
  }

  /** A refusal's reply, with its log line. */
  private refusalReply(id: string | null, code: LinkRefusalCode, message: string): CommandReply & { ok: false } {
    this.deps.log.warn({ code, id }, `command ${id ?? "(no readable id)"} refused (${code}): ${message}`);
    return { id, ok: false, error: { code, message } };
  }

  private peek(id: string | null): SeenCommand | null {
    if (id === null) return null;
    try {
      return this.deps.replay.peek(id);
    } catch (err) {
      this.deps.log.error({ err, id }, "the replay store could not be read");
      return null;
    }
  }

  private takeSlot(): Promise<void> {
    if (this.slotsInUse < (this.deps.maxRunning ?? MAX_RUNNING_COMMANDS)) {
      this.slotsInUse++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve)); // the slot passes straight to it
  }

  private releaseSlot(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.slotsInUse--;
  }

  // ---- the ledger ----

  private recordRefusal(detail: { name: string; commandId: string | null; error: LinkRefusalCode; message: string }): void {
    const now = this.deps.now();
    if (now - this.signedWindow.since >= this.summaryIntervalMs()) this.signedWindow = { since: now, recorded: 0 };
    if (this.signedWindow.recorded >= SIGNED_REFUSALS_PER_INTERVAL) {
      this.countRefusal(detail.error);
      return;
    }
    this.signedWindow.recorded++;
    this.record({ name: detail.name, origin: "mqtt", commandId: detail.commandId, ok: false, error: detail.error, message: detail.message });
  }

  private summaryIntervalMs(): number {
    return this.deps.summaryIntervalMs ?? REFUSAL_SUMMARY_INTERVAL_MS;
  }

  /** The first refusal counted is recorded at once; later ones are counted into the next minute's summary. */
  private countRefusal(code: LinkRefusalCode): void {
    const tally = (this.tally ??= { count: 0, byCode: {}, lastCode: code });
    tally.count++;
    tally.byCode[code] = (tally.byCode[code] ?? 0) + 1;
    tally.lastCode = code;
    const interval = this.summaryIntervalMs();
    const sinceLast = this.lastSummaryAt === null ? Infinity : this.deps.now() - this.lastSummaryAt;
    if (sinceLast >= interval) this.flushSummary();
    // Clamped: a wall clock stepped back must not hold the count for longer than one interval.
    else this.summaryTimer ??= setTimeout(() => this.flushSummary(), Math.min(interval, interval - sinceLast)).unref();
  }

  private flushSummary(): void {
    if (this.summaryTimer) clearTimeout(this.summaryTimer);
    this.summaryTimer = null;
    const tally = this.tally;
    if (!tally) return;
    this.tally = null;
    this.lastSummaryAt = this.deps.now();
    this.record({ origin: "mqtt", ok: false, error: tally.lastCode, refusedSinceLast: tally.count, byCode: tally.byCode });
  }

  private record(detail: Record<string, unknown>): void {
    if (!this.deps.ledger) return;
    try {
      this.deps.ledger.event("command.executed", detail);
    } catch (err) {
      this.deps.log.error({ err, error: detail.error }, "a command refusal could not be recorded in the ledger");
    }
  }
}
