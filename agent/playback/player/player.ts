// The player: one long-lived mpv, fed over its JSON IPC socket, restarted when it dies.
// The next item is appended to mpv's own playlist while the current one plays, so the
// transition happens inside mpv and a busy Node event loop never shows on the screen.
import { EventEmitter } from "node:events";
import type { ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../../log.js";
import { MpvClient, type Clocks, type Stamp } from "./client.js";
import type { MpvCommand, MpvNamedCommand } from "./codec.js";
import { EntryTracker, type DiscardedEvent, type EndedEvent, type ItemOutcome, type PlayItem, type Slot, type StartedEvent } from "./entries.js";
import { startMpv, type MpvOptions } from "./mpv-process.js";

export interface PlayerDeps {
  mpvPath: string;
  /** mpv's IPC socket is created here (mpv.sock). */
  runDir: string;
  panel: { width: number; height: number };
  output: { x: number; y: number };
  headless: boolean;
  audio: boolean;
  log: Logger;
  monotonicMs?: () => number;
  wallMs?: () => number;
  /** Wait before the first restart after a death; doubles per death up to maxRestartDelayMs. */
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
  extraArgs?: readonly string[];
}

export interface DiedEvent {
  at: Stamp;
  /** How it went: "exited (SIGKILL)", "exited (code 1): …", or why a restart failed. */
  error: string;
  restartInMs: number;
}

export interface RestartedEvent {
  at: Stamp;
  /** Deaths since mpv last ran a while without dying. */
  attempt: number;
}

export interface PlayerEvents {
  started: [StartedEvent];
  ended: [EndedEvent];
  discarded: [DiscardedEvent];
  died: [DiedEvent];
  restarted: [RestartedEvent];
}

/** play/queue/stop/screenshot while mpv is not running (restarting, or closed). */
export class PlayerUnavailable extends Error {
  constructor(reason: string) {
    super(`the player is not available: ${reason}`);
    this.name = "PlayerUnavailable";
  }
}

/** mpv that ran this long before dying starts the backoff afresh. */
const STABLE_MS = 30_000;

interface Running {
  child: ChildProcess;
  client: MpvClient;
  startedMono: number;
}

export class Player extends EventEmitter<PlayerEvents> {
  readonly socketPath: string;
  private readonly clocks: Clocks;
  private readonly log: Logger;
  private running: Running | null = null;
  private tracker = new EntryTracker();
  private closing = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private restartDelay: number;
  private attempt = 0;
  /** The entry of the last start-file, until its first frame. */
  private startingEntry: number | null = null;

  constructor(private readonly deps: PlayerDeps) {
    super();
    this.socketPath = join(deps.runDir, "mpv.sock");
    this.clocks = { monotonicMs: deps.monotonicMs ?? (() => performance.now()), wallMs: deps.wallMs ?? (() => Date.now()) };
    this.log = deps.log;
    this.restartDelay = deps.restartDelayMs ?? 250;
  }

  /** Starts mpv; rejects when it cannot (a wrong mpv path is a setup error, said at once). */
  async start(): Promise<void> {
    if (this.running) return;
    this.closing = false;
    await this.launch();
  }

  /** Plays `item` now, replacing what plays (it ends with reason stop) and what was queued. */
  async play(item: PlayItem): Promise<void> {
    const options = fileOptions(item);
    await this.load(this.tracker.replaced(item), "replace", options);
  }

  /** Appends `item` to mpv's playlist: it starts when what is before it ends, inside mpv. */
  async queue(item: PlayItem): Promise<void> {
    const options = fileOptions(item);
    await this.load(this.tracker.appended(item), "append-play", options);
  }

  /** Stops what plays (ended: stop) and drops what was queued; the output goes black. */
  async stop(): Promise<void> {
    const seq = this.tracker.stopped();
    await this.command(["stop"]);
    this.emitAll(this.tracker.stopConfirmed(seq));
  }

  /** Drops every queued item that has not started (discarded: "cleared"); what plays goes on. */
  async clearQueued(): Promise<void> {
    const tracker = this.tracker;
    const seq = tracker.clearSent();
    // Written together, so no other command of ours runs between them: the listing shows
    // exactly the entry the clear kept (mpv's current one), which the events may not show yet.
    const cleared = this.command(["playlist-clear"]);
    const listed = this.command(["get_property", "playlist"]);
    let entryIds: number[];
    try {
      [, entryIds] = await Promise.all([cleared, listed.then(playlistEntryIds)]);
    } catch (err) {
      tracker.clearFailed(seq);
      throw err;
    }
    this.emitAll(tracker.clearConfirmed(seq, entryIds));
  }

  /** Writes the current video frame (no OSD) as an image; the format follows the extension. */
  async screenshot(path: string): Promise<void> {
    await this.command(["screenshot-to-file", path, "video"]);
  }

  /** Entries in mpv's own playlist (finished ones are pruned; for status and checks). */
  async playlistLength(): Promise<number> {
    return Number(await this.command(["get_property", "playlist-count"]));
  }

  /** Items handed to mpv that have neither ended nor been discarded, oldest first. */
  pending(): PlayItem[] {
    return this.tracker.pending();
  }

  get isRunning(): boolean {
    return this.running !== null;
  }

  /** Quits mpv (what plays ends with reason quit), removes its socket; no restart follows. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const running = this.running;
    if (running) {
      const exited = new Promise<void>((resolve) => running.child.once("exit", () => resolve()));
      running.client.command(["quit"]).catch(() => undefined);
      const killer = setTimeout(() => running.child.kill("SIGKILL"), 3000);
      if (running.child.exitCode === null && running.child.signalCode === null) await exited;
      clearTimeout(killer);
    }
    this.running = null;
    this.emitAll(this.tracker.lost(this.now(), "quit", "closed"));
    rmSync(this.socketPath, { force: true });
  }

  private async load(slot: Slot, mode: "replace" | "append-play", options: string): Promise<void> {
    // Named: loadfile's options argument is third up to mpv 0.37 and fourth from 0.38 on.
    const args: MpvNamedCommand = { name: "loadfile", url: slot.item.file, flags: mode };
    if (options !== "") args.options = options;
    let reply: unknown;
    try {
      reply = await this.command(args);
    } catch (err) {
      this.tracker.refused(slot);
      throw err;
    }
    const entryId = (reply as { playlist_entry_id?: unknown } | null)?.playlist_entry_id;
    if (typeof entryId !== "number") {
      this.tracker.refused(slot);
      throw new Error(`mpv loadfile: no playlist_entry_id in its reply (mpv 0.34 or later is needed)`);
    }
    this.emitAll(this.tracker.assigned(slot, entryId, mode === "replace"));
  }

  private command(args: MpvCommand): Promise<unknown> {
    if (!this.running) return Promise.reject(new PlayerUnavailable(this.closing ? "closed" : "mpv is restarting"));
    return this.running.client.command(args);
  }

  private mpvOptions(): MpvOptions {
    const d = this.deps;
    return { socketPath: this.socketPath, panel: d.panel, output: d.output, headless: d.headless, audio: d.audio, extraArgs: d.extraArgs };
  }

  private async launch(): Promise<void> {
    const { child, transport } = await startMpv(this.deps.mpvPath, this.mpvOptions());
    const client = new MpvClient(transport, this.clocks);
    const running: Running = { child, client, startedMono: this.clocks.monotonicMs() };
    this.running = running;
    this.tracker = new EntryTracker();
    this.startingEntry = null;
    client.on("event", (name, fields, at) => this.onMpvEvent(name, fields, at));
    client.on("garbage", (line, reason) => this.log.warn({ line: line.slice(0, 200), reason }, "mpv sent a line that is not IPC"));
    // A lost connection with mpv still running leaves it unreachable: end it, and let the
    // exit below restart it like any other death.
    client.on("close", () => {
      if (this.running === running && !this.closing) child.kill("SIGKILL");
    });
    child.once("exit", (code, signal) => this.onExit(running, signal ?? `code ${code}`));
    this.log.info({ pid: child.pid, socket: this.socketPath, headless: this.deps.headless }, "mpv started");
  }

  private onMpvEvent(name: string, fields: Record<string, unknown>, at: Stamp): void {
    const outcomes = this.tracker.onEvent(name, fields, at);
    if (name === "start-file" && typeof fields.playlist_entry_id === "number") this.startingEntry = fields.playlist_entry_id;
    // Pruned once the new item shows its first frame, not at start-file: a command mpv reads
    // between start-file and the first frame is work done inside the transition.
    if (name === "playback-restart" && this.startingEntry !== null) {
      this.prune(this.startingEntry);
      this.startingEntry = null;
    }
    this.emitAll(outcomes);
  }

  /**
   * Removes finished entries from the front of mpv's playlist, so a screen playing for months
   * does not grow it by one entry per play. Only entries before the one now starting go.
   */
  private prune(entryId: number): void {
    const count = this.tracker.finishedBefore(entryId);
    if (count === 0) return;
    this.tracker.removedFromFront(count);
    for (let i = 0; i < count; i++) {
      this.command(["playlist-remove", 0]).catch((err: Error) => this.log.debug({ err: err.message }, "playlist-remove failed"));
    }
  }

  private onExit(running: Running, how: string): void {
    if (this.running !== running) return;
    this.running = null;
    running.client.close();
    if (this.closing) return;
    const at = this.now();
    const error = `mpv exited (${how})`;
    this.emitAll(this.tracker.lost(at, "error", error));
    if (at.monoMs - running.startedMono > STABLE_MS) {
      this.restartDelay = this.deps.restartDelayMs ?? 250;
      this.attempt = 0;
    }
    this.died(at, error);
  }

  private died(at: Stamp, error: string): void {
    const delay = this.restartDelay;
    this.restartDelay = Math.min(delay * 2, this.deps.maxRestartDelayMs ?? 10_000);
    this.attempt += 1;
    this.log.error({ error, restartInMs: delay }, "mpv died");
    this.emit("died", { at, error, restartInMs: delay });
    this.restartTimer = setTimeout(() => void this.restart(), delay);
  }

  private async restart(): Promise<void> {
    this.restartTimer = null;
    if (this.closing) return;
    try {
      await this.launch();
    } catch (err) {
      this.died(this.now(), `restart failed: ${(err as Error).message}`);
      return;
    }
    if (this.closing) {
      await this.close();
      return;
    }
    this.log.info({ attempt: this.attempt }, "mpv restarted");
    this.emit("restarted", { at: this.now(), attempt: this.attempt });
  }

  private emitAll(outcomes: ItemOutcome[]): void {
    for (const o of outcomes) {
      if (o.type === "started") this.emit("started", o.event);
      else if (o.type === "ended") this.emit("ended", o.event);
      else this.emit("discarded", o.event);
    }
  }

  private now(): Stamp {
    return { wallMs: this.clocks.wallMs(), monoMs: this.clocks.monotonicMs() };
  }
}

/** The entry ids in mpv's `playlist` property. */
function playlistEntryIds(playlist: unknown): number[] {
  if (!Array.isArray(playlist)) throw new Error("mpv get_property playlist: not a list");
  return playlist.map((entry: unknown) => {
    const id = (entry as { id?: unknown } | null)?.id;
    if (typeof id !== "number") throw new Error("mpv get_property playlist: an entry without an id (mpv 0.34 or later is needed)");
    return id;
  });
}

/** Per-file options of a loadfile: a still's time on screen, a video's cut. */
export function fileOptions(item: PlayItem): string {
  const { lengthMs } = item;
  if (lengthMs !== undefined && !(Number.isFinite(lengthMs) && lengthMs > 0)) {
    throw new RangeError(`item ${item.id}: lengthMs must be a positive finite number, not ${lengthMs}`);
  }
  if (item.kind === "still") {
    const onScreenMs = lengthMs ?? item.durationMs;
    if (onScreenMs === undefined || !(onScreenMs > 0)) throw new RangeError(`item ${item.id}: a still needs a positive durationMs (or lengthMs)`);
    return `image-display-duration=${seconds(onScreenMs)}`;
  }
  return lengthMs === undefined ? "" : `end=${seconds(lengthMs)}`;
}

/** mpv's seconds to the millisecond; never 0.000, which would be no time at all. */
function seconds(ms: number): string {
  return (Math.max(1, Math.round(ms)) / 1000).toFixed(3);
}
