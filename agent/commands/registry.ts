// The one registry of commands that the control socket (local CLI) and the MQTT link both call.
// execute() never throws: every outcome is `{ ok, result }` or `{ ok: false, error: { code,
// message } }`, the shape of spec/mqtt-api.md's cmd/result. Commands that change something run
// one at a time and each leaves a command.executed entry saying who asked and how it ended.
import { ControllerError } from "../drivers/types.js";
import { agentCommands } from "./agent-commands.js";
import { describeArgsIssues } from "./args.js";
import { controllerCommands } from "./controller-commands.js";
import type { Command } from "./definition.js";
import { playoutCommands } from "./playout-commands.js";
import { scheduleCommands } from "./schedule-commands.js";
import { CommandFailure, PART_REFUSAL_CODES, type CommandContext, type CommandDeps, type CommandError, type CommandErrorCode, type CommandOutcome } from "./types.js";

/** Every command the agent knows, in the order docs list them. */
export const ALL_COMMANDS: readonly Command[] = [...agentCommands, ...controllerCommands, ...playoutCommands, ...scheduleCommands];

export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;

/** Error messages travel to operators and into the ledger: one line, bounded. */
const MAX_MESSAGE_CHARS = 500;

export interface RegistryOptions {
  /** Instead of ALL_COMMANDS (tests). */
  commands?: readonly Command[];
  defaultTimeoutMs?: number;
}

export class CommandRegistry {
  private readonly commands = new Map<string, Command>();
  private readonly defaultTimeoutMs: number;
  /** The tail of the queue of changing commands: two suspends never interleave. */
  private changesTail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: CommandDeps,
    options: RegistryOptions = {},
  ) {
    for (const command of options.commands ?? ALL_COMMANDS) {
      if (this.commands.has(command.name)) throw new Error(`command ${command.name} is registered twice`);
      this.commands.set(command.name, command);
    }
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  }

  names(): string[] {
    return [...this.commands.keys()];
  }

  get(name: string): Command | undefined {
    return this.commands.get(name);
  }

  async execute(name: string, rawArgs: unknown, ctx: CommandContext): Promise<CommandOutcome> {
    const command = typeof name === "string" ? this.commands.get(name) : undefined;
    if (!command) {
      const outcome = refusal("unknown-command", `unknown command ${clip(JSON.stringify(name) ?? String(name), 80)}`);
      // A signed command from ops that could not run is on record, whatever it was.
      if (ctx.origin.kind === "mqtt") this.record({ name: clip(String(name), 80), recordedArgs: () => undefined }, undefined, ctx, outcome);
      return outcome;
    }
    const { outcome, args } = await this.outcomeOf(command, rawArgs, ctx);
    if (command.changes || (ctx.origin.kind === "mqtt" && !outcome.ok)) this.record(command, args, ctx, outcome);
    this.deps.log?.info({ command: command.name, origin: ctx.origin, ok: outcome.ok, code: outcome.ok ? undefined : outcome.error.code }, "command");
    return outcome;
  }

  /** The outcome, and the args as checked (undefined when they never were, or were refused). */
  private async outcomeOf(command: Command, rawArgs: unknown, ctx: CommandContext): Promise<{ outcome: CommandOutcome; args?: unknown }> {
    if (command.localOnly && ctx.origin.kind !== "local") {
      return { outcome: refusal("local-only", `${command.name} is a technician's command, only for the local CLI`) };
    }
    const input = rawArgs === undefined ? {} : rawArgs;
    const parsed = command.args.safeParse(input);
    if (!parsed.success) return { outcome: refusal("bad-args", `${command.name}: ${describeArgsIssues(parsed.error, input)}`) };
    return { outcome: await this.runInTurn(command, () => this.run(command, parsed.data, ctx)), args: parsed.data };
  }

  private runInTurn(command: Command, job: () => Promise<CommandOutcome>): Promise<CommandOutcome> {
    if (!command.changes) return job();
    const turn = this.changesTail.then(job);
    this.changesTail = turn;
    return turn;
  }

  /** The handler's outcome, with a time limit; a limit hit releases the queue (see docs). */
  private async run(command: Command, args: unknown, ctx: CommandContext): Promise<CommandOutcome> {
    const limitMs = command.timeoutMs ?? this.defaultTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<CommandOutcome>((resolve) => {
      timer = setTimeout(() => resolve(refusal("timeout", `${command.name} did not finish within ${limitMs} ms; it may still take effect`)), limitMs);
    });
    const ran = (async (): Promise<CommandOutcome> => {
      try {
        return { ok: true, result: await command.run(args, this.deps, ctx) };
      } catch (err) {
        return { ok: false, error: errorOf(command.name, err) };
      }
    })();
    try {
      return await Promise.race([ran, expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The ledger's account of a change: who asked, what, and how it ended. A failure to record is logged, never thrown. */
  private record(command: Pick<Command, "name" | "recordedArgs">, args: unknown, ctx: CommandContext, outcome: CommandOutcome): void {
    const ledger = this.deps.ledger;
    if (!ledger) return;
    const who = ctx.origin.kind === "local" ? { origin: "local", user: ctx.origin.user } : { origin: "mqtt", commandId: ctx.origin.commandId };
    const how = outcome.ok ? { ok: true } : { ok: false, error: outcome.error.code, message: outcome.error.message };
    try {
      ledger.event("command.executed", { name: command.name, ...who, ...(args === undefined ? {} : { args: command.recordedArgs(args) }), ...how });
    } catch (err) {
      this.deps.log?.error({ err, command: command.name }, "command.executed could not be recorded in the ledger");
    }
  }
}

function refusal(code: CommandErrorCode, message: string): CommandOutcome {
  return { ok: false, error: { code, message: clip(message, MAX_MESSAGE_CHARS) } };
}

const CONTROLLER_CODES: Record<ControllerError["reason"], CommandErrorCode> = {
  unsupported: "unsupported",
  timeout: "controller-offline",
  link: "controller-offline",
  ack: "failed",
  "bad-input": "bad-args",
  stopped: "unavailable",
};

/** A thrown error as a stable code: ours, the controller's, a part's refusal, else `failed`. */
function errorOf(commandName: string, err: unknown): CommandError {
  const message = clip(firstLine(err instanceof Error ? err.message : String(err)), MAX_MESSAGE_CHARS);
  if (err instanceof CommandFailure) return { code: err.code, message };
  if (err instanceof ControllerError) return { code: CONTROLLER_CODES[err.reason], message };
  const code = (err as { code?: unknown } | null)?.code;
  if ((PART_REFUSAL_CODES as readonly unknown[]).includes(code)) return { code: code as CommandErrorCode, message };
  return { code: "failed", message: clip(`${commandName} failed: ${message}`, MAX_MESSAGE_CHARS) };
}

function firstLine(s: string): string {
  return s.split("\n")[0];
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
