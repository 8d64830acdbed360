// The playout: runs the planner's timeline on the player against the wall clock, records every
// play in the ledger, and takes the live orders (suspend, resume, takedown, play now). Skeleton:
// the public surface the daemon wires; the insides land next.
import { EventEmitter } from "node:events";
import type { CommandOrigin, LiveSuspension, LiveTakedown, PlayerPatternName, PlayoutControl, PlayoutStatus, SuspendOrder, TakedownOrder, TakedownTarget } from "../../commands/types.js";
import type { PlayEntry } from "../../proofs/types.js";
import type { PlayoutDeps } from "./types.js";

export interface PlayoutEvents {
  /** A play was recorded in the ledger. */
  play: [PlayEntry];
}

export class Playout extends EventEmitter<PlayoutEvents> implements PlayoutControl {
  constructor(private readonly deps: PlayoutDeps) {
    super();
  }

  /** Reads the history, starts the player and plays from the stored schedule (if any). */
  async start(): Promise<void> {
    await this.deps.player.start();
  }

  /** Stops playing: what plays is recorded `interrupted`; resolves once every record is written. */
  async stop(): Promise<void> {
    await this.deps.player.close();
  }

  /** A schedule was applied: its creatives are prepared in the background, then it takes over. */
  scheduleApplied(): void {}

  async status(): Promise<PlayoutStatus> {
    return { scheduleVersion: this.deps.schedules.current()?.document.version ?? null, nowPlaying: null, next: null, suspension: null, takedowns: [] };
  }
  suspend(_order: SuspendOrder): Promise<LiveSuspension> {
    return Promise.reject(new Error("not yet"));
  }
  resume(_origin: CommandOrigin): Promise<{ suspendedFor: number }> {
    return Promise.reject(new Error("not yet"));
  }
  takedown(_order: TakedownOrder): Promise<LiveTakedown> {
    return Promise.reject(new Error("not yet"));
  }
  liftTakedown(_target: TakedownTarget, _origin: CommandOrigin): Promise<void> {
    return Promise.reject(new Error("not yet"));
  }
  playNow(_creative: string, _times: number, _origin: CommandOrigin): Promise<{ queued: number }> {
    return Promise.reject(new Error("not yet"));
  }
  testPlay(_file: string, _times: number, _origin: CommandOrigin): Promise<{ queued: number }> {
    return Promise.reject(new Error("not yet"));
  }
  showPattern(_name: PlayerPatternName, _seconds: number, _origin: CommandOrigin): Promise<void> {
    return Promise.reject(new Error("not yet"));
  }
  screenshot(): Promise<Buffer> {
    return Promise.reject(new Error("not yet"));
  }
}
