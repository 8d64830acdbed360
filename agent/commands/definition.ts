// How one command is declared: its args schema, whether it changes anything (then the registry
// records it in the ledger and runs it one at a time), where it may come from, and its handler.
import type { z } from "zod";
import { CommandFailure, type CommandContext, type CommandDeps } from "./types.js";

export interface CommandSpec<S extends z.ZodType, R> {
  name: string;
  /** One line for docs and `--help`. */
  summary: string;
  args: S;
  /** Changes the screen, the playout or the agent: recorded as command.executed, serialised. */
  changes: boolean;
  /** A technician's command: refused (local-only) when it arrives over MQTT. */
  localOnly?: boolean;
  /** Longer than the registry's default limit (a proof sync waits for the collector). */
  timeoutMs?: number;
  /** What command.executed records of the args, when they are too big to record whole. Default: the args. */
  recordedArgs?: (args: z.infer<S>) => Record<string, unknown>;
  run(args: z.infer<S>, deps: CommandDeps, ctx: CommandContext): Promise<R>;
}

/** A command with its types erased, as the registry holds it. */
export interface Command {
  name: string;
  summary: string;
  args: z.ZodType;
  changes: boolean;
  localOnly: boolean;
  timeoutMs: number | undefined;
  /** The args as command.executed records them (checked args in, a JSON object out). */
  recordedArgs(args: unknown): unknown;
  run(args: unknown, deps: CommandDeps, ctx: CommandContext): Promise<unknown>;
}

export function defineCommand<S extends z.ZodType, R>(spec: CommandSpec<S, R>): Command {
  return {
    name: spec.name,
    summary: spec.summary,
    args: spec.args,
    changes: spec.changes,
    localOnly: spec.localOnly ?? false,
    timeoutMs: spec.timeoutMs,
    // The registry only calls these with what spec.args parsed, so the casts restore a true type.
    recordedArgs: (args) => (spec.recordedArgs ? spec.recordedArgs(args as z.infer<S>) : args),
    run: (args, deps, ctx) => spec.run(args as z.infer<S>, deps, ctx),
  };
}

/** The dependency, or an `unavailable` refusal naming the part that is not running. */
export function need<K extends keyof CommandDeps>(deps: CommandDeps, key: K, part: string): NonNullable<CommandDeps[K]> {
  const dep = deps[key];
  if (dep === undefined || dep === null) throw new CommandFailure("unavailable", `${part} is not running`);
  return dep as NonNullable<CommandDeps[K]>;
}

export function nowMs(deps: CommandDeps): number {
  return deps.now ? deps.now() : Date.now();
}
