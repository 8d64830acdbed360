// The playout: runs the planner's timeline on the player against the wall clock, records every
// play in the ledger, and takes the live orders (suspend, resume, takedown, play now).
//
// One loop (pump) does all the work that changes what mpv holds: it applies a pending cut, then
// hands items over until mpv holds the one playing and `queueDepth` more. mpv's events (first
// frame, end, discard) come in between, are recorded at once, and kick the loop again. The
// transitions happen inside mpv, from its own playlist, so a busy event loop never shows.
import { EventEmitter } from "node:events";
import type { CommandOrigin, LiveSuspension, LiveTakedown, PlayerPatternName, PlayoutControl, PlayoutStatus, SuspendOrder, TakedownOrder, TakedownTarget } from "../../commands/types.js";
import type { PlayEntry } from "../../proofs/types.js";
import type { DiscardedEvent, EndedEvent, StartedEvent } from "../player/index.js";
import { handoverOf, type Airing } from "./airing.js";
import { Interjections } from "./interjections.js";
import { OnAir, type ScheduleTakeover } from "./on-air.js";
import { OrderBook } from "./orders.js";
import { OverrunGauge } from "./overrun.js";
import { ClockJumpWatch } from "./clock-watch.js";
import { judgeProgress, playerAnswers, type PlayoutProgress } from "./progress.js";
import { Timeline } from "./timeline.js";
import type { PlayoutClock, PlayoutDeps } from "./types.js";

export interface PlayoutEvents {
  /** A play was recorded in the ledger. */
  play: [PlayEntry];
  /** An airing showed its first frame. */
  started: [Airing];
}

/** What a pending cut drops: the queued items, or the one playing too. */
type Cut = "none" | "queued" | "all";
const CUT_RANK: Record<Cut, number> = { none: 0, queued: 1, all: 2 };

const TICK_MS = 1000;

export class Playout extends EventEmitter<PlayoutEvents> implements PlayoutControl {
  private readonly clock: PlayoutClock;
  private readonly depth: number;
  private readonly timeline: Timeline;
  private readonly air: OnAir;
  private readonly orders: OrderBook;
  private readonly extras: Interjections;
  /** Handed to the player and neither ended nor discarded, in playing order. */
  private handed: Airing[] = [];
  private cut: Cut = "none";
  private hold: { untilMs: number; why: string; timer: NodeJS.Timeout | null } | null = null;
  private running = false;
  private pumping = false;
  private again = false;
  private tick: NodeJS.Timeout | null = null;
  private lastTickMonoMs = 0;
  private ids = 0;
  private readonly overrun = new OverrunGauge();
  /** Creatives fill stood in for because they were not ready. */
  private readonly stoodIn = new Set<string>();
  private readonly clockWatch: ClockJumpWatch;
  /** The last airing to show its first frame, and whether it then played to its end. */
  private lastStarted: { airing: Airing; ended: boolean; eof: boolean } | null = null;

  constructor(private readonly deps: PlayoutDeps) {
    super();
    this.clock = deps.clock ?? { wallMs: () => Date.now(), monoMs: () => performance.now() };
    this.depth = deps.queueDepth ?? 2;
    this.clockWatch = new ClockJumpWatch(this.clock);
    this.timeline = new Timeline({ horizonMs: deps.planHorizonMs ?? 2 * 3_600_000, log: deps.log });
    this.orders = new OrderBook({ ledger: deps.ledger, log: deps.log, clock: this.clock });
    this.air = new OnAir({ ...deps, clock: this.clock, onSwitch: () => this.switched(), onReady: (creative) => this.creativeReady(creative) });
    this.extras = new Interjections({ ...deps, clock: this.clock, air: this.air, nextId: () => this.nextId(), takenDown: (campaign, creative) => this.orders.takenDown(campaign, creative) });
  }

  /** Reads the history, starts the player and plays from the stored schedule (if any). */
  async start(): Promise<void> {
    const p = this.deps.player;
    p.on("started", this.onStarted);
    p.on("ended", this.onEnded);
    p.on("discarded", this.onDiscarded);
    p.on("restarted", this.onRestarted);
    await this.air.start();
    this.orders.load(this.air.version);
    await p.start();
    this.running = true;
    this.lastTickMonoMs = this.clock.monoMs();
    this.tick = setInterval(() => this.housekeeping(), TICK_MS);
    this.kick();
  }

  /** Stops playing: what plays is recorded `interrupted`; resolves once every record is written. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.tick) clearInterval(this.tick);
    this.tick = null;
    this.endHold();
    this.air.close();
    await this.deps.player.close();
    const p = this.deps.player;
    p.off("started", this.onStarted);
    p.off("ended", this.onEnded);
    p.off("discarded", this.onDiscarded);
    p.off("restarted", this.onRestarted);
  }

  /** A schedule was applied: its creatives are prepared in the background, then it takes over (resolves then). */
  scheduleApplied(): Promise<ScheduleTakeover> {
    return this.air.scheduleApplied();
  }

  /** Whether the playout is getting on with it (progress.ts): what the systemd watchdog is fed on. */
  async progress(): Promise<PlayoutProgress> {
    const facts = { running: this.running, handed: this.handed, nowWallMs: this.clock.wallMs(), lastTickMonoMs: this.lastTickMonoMs, nowMonoMs: this.clock.monoMs() };
    const judged = judgeProgress(facts);
    if (!judged.ok) return judged;
    return playerAnswers(() => this.deps.player.playlistLength());
  }

  // ---- live orders (PlayoutControl) ----

  async status(): Promise<PlayoutStatus> {
    const playing = this.handed.find((a) => a.startedAt !== null) ?? null;
    const queued = this.handed.find((a) => a.startedAt === null) ?? null;
    const planned = this.timeline.upcoming();
    const next = queued
      ? { campaign: queued.kind === "fill" ? null : queued.campaign, creative: queued.creative, at: new Date(queued.expectedStartMs).toISOString() }
      : planned && planned.creative !== null
        ? { campaign: planned.campaign, creative: planned.creative, at: planned.at }
        : null;
    return {
      scheduleVersion: this.air.version,
      nowPlaying: playing
        ? { campaign: playing.kind === "fill" ? null : playing.campaign, creative: playing.creative, since: new Date(playing.startedAt?.wallMs ?? 0).toISOString(), makeGood: playing.makeGood, test: playing.kind === "test" }
        : null,
      next,
      suspension: this.orders.suspensionStatus(),
      takedowns: this.orders.takedownStatus(),
    };
  }

  async suspend(order: SuspendOrder): Promise<LiveSuspension> {
    const live = this.orders.suspend(order, this.air.current?.document ?? null);
    // What waits to interject obeys the order too: nothing on a blacked-out screen, no paid
    // play of a suspended campaign. A technician's test still runs unless the screen is black.
    this.extras.dropWhere((p) => order.blackout || (p.kind === "now" && (order.campaigns === null || order.campaigns.includes(p.campaign))));
    const playing = this.current();
    const hit = order.blackout || (playing !== null && playing.kind !== "fill" && (order.campaigns === null || order.campaigns.includes(playing.campaign)));
    this.replan(hit ? "all" : "queued");
    return live;
  }

  async resume(origin: CommandOrigin): Promise<{ suspendedFor: number }> {
    const result = this.orders.resume(origin);
    this.replan("queued");
    return result;
  }

  async takedown(order: TakedownOrder): Promise<LiveTakedown> {
    const standing = this.orders.takedown(order, this.air.current?.document ?? null);
    this.extras.dropWhere((p) => p.kind === "now" && this.orders.takenDown(p.campaign, p.creative));
    const playing = this.current();
    const hit = playing !== null && this.orders.takenDown(playing.campaign, playing.creative);
    this.replan(order.immediate && hit ? "all" : "queued");
    return standing;
  }

  async liftTakedown(target: TakedownTarget, origin: CommandOrigin): Promise<void> {
    this.orders.lift(target, origin);
    this.replan("queued");
  }

  async playNow(creative: string, times: number, _origin: CommandOrigin): Promise<{ queued: number }> {
    const queued = this.extras.playNow(creative, times);
    this.replan("all");
    return { queued };
  }

  async testPlay(file: string, times: number, origin: CommandOrigin): Promise<{ queued: number }> {
    const queued = await this.extras.testPlay(file, times, origin);
    this.replan("all");
    return { queued };
  }

  async showPattern(name: PlayerPatternName, seconds: number, origin: CommandOrigin): Promise<void> {
    await this.extras.pattern(name, seconds, origin);
    this.replan("all");
  }

  screenshot(): Promise<Buffer> {
    return this.extras.screenshot();
  }

  // ---- the loop ----

  /** What mpv holds and will play on: the handed airings not being cut. */
  private going(): Airing[] {
    return this.handed.filter((a) => !a.ending);
  }

  /**
   * What is on screen or about to be: mpv's current item, which may not have shown its first
   * frame yet. An order that covers it must cut it, or it would play out whole after the order.
   */
  private current(): Airing | null {
    return this.going()[0] ?? null;
  }

  private nextId(): string {
    this.ids += 1;
    return `a${this.ids}`;
  }

  /** A new schedule is on air: takedowns given under the old one lapse, and it plays from the next boundary. */
  private switched(): void {
    this.orders.rebase(this.air.version);
    this.replan("queued");
  }

  /** A creative fill stood in for is ready: a new plan places its missed plays again (catch-up). */
  private creativeReady(creative: string): void {
    if (this.stoodIn.delete(creative)) this.replan("queued");
  }

  /** The plan goes stale; `cut` says what of what mpv holds goes with it. */
  private replan(cut: Cut): void {
    this.timeline.invalidate();
    if (CUT_RANK[cut] > CUT_RANK[this.cut]) this.cut = cut;
    this.endHold();
    this.kick();
  }

  private kick(): void {
    if (!this.running) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    void this.pump().finally(() => {
      this.pumping = false;
    });
  }

  private async pump(): Promise<void> {
    do {
      this.again = false;
      // Before anything is placed after what mpv holds, on a clock that may just have stepped.
      this.noticeClockStep();
      try {
        await this.applyCut();
        await this.feed();
      } catch (err) {
        this.deps.log.warn({ err: (err as Error).message }, "the player did not take an item; trying again when it is back");
        return;
      }
    } while (this.again && this.running);
  }

  private async applyCut(): Promise<void> {
    const cut = this.cut;
    this.cut = "none";
    if (cut === "all") {
      // mpv may answer the stop before it reports the end: what is being cut must not count as
      // still playing when the next plan is made, nor as delivered.
      for (const a of this.handed) a.ending = true;
      await this.deps.player.stop();
    }
    else if (cut === "queued") await this.deps.player.clearQueued();
  }

  /** Where the next item handed over will start: after the last one handed, or now. */
  private nextStart(): number {
    const last = this.going().at(-1);
    if (!last) return this.clock.wallMs();
    const start = last.startedAt ? last.startedAt.wallMs + (last.clockShiftMs ?? 0) : last.expectedStartMs;
    return start + last.expectedLengthMs + this.overrun.of(last);
  }

  private async feed(): Promise<void> {
    while (this.running && this.hold === null && this.cut === "none" && this.going().length <= this.depth) {
      // Nothing starts in the past: after a stall, where the player has got to is now.
      const at = Math.max(this.nextStart(), this.clock.wallMs());
      const extra = this.extras.take(at);
      if (extra) {
        await this.hand(extra);
        continue;
      }
      const shelf = this.air.shelf;
      if (!shelf) return;
      // What plays just before: the last handed, or, when mpv ran dry, the last that aired.
      const previous = this.going().at(-1) ?? (this.lastStarted?.ended ? this.lastStarted.airing : undefined);
      const next = this.timeline.next(at, () => this.air.planInputs(this.orders, this.going()), previous?.kind === "paid" ? previous.campaign : undefined);
      if (!next) {
        this.startHold(this.timeline.end, "nothing planned");
        return;
      }
      // A fill is cut to end at the next planned start: that needs a measured start before it,
      // so it is handed over once the item before it shows its first frame.
      const fill = next.item.fill || next.item.creative === null || shelf.get(next.item.creative) === null;
      if (fill && previous && previous.startedAt === null) return;
      this.timeline.advance();
      const h = handoverOf(next.item, {
        nextId: () => this.nextId(),
        scheduleVersion: this.timeline.scheduleVersion ?? 0,
        expectedStartMs: at,
        nextStartMs: next.nextStartMs,
        nextPaidMs: next.nextPaidMs,
        rendition: (id) => shelf.get(id),
        standIn: () => shelf.standIn(),
        cutOverrunMs: this.overrun.cutMs,
        // Also before a paid play: better 400 ms late than early (early can be inside a suspension).
        afterPaid: previous?.kind === "paid" || previous?.kind === "now" || next.nextPaidMs === next.nextStartMs,
      });
      if ("skip" in h) continue;
      if ("hold" in h) {
        this.startHold(next.nextStartMs, h.hold);
        return;
      }
      if (h.standIn) {
        this.deps.log.warn({ campaign: next.item.campaign, creative: next.item.creative, at: next.item.at }, "creative not ready: fill stands in, the play is owed");
        if (next.item.creative !== null) this.stoodIn.add(next.item.creative);
      }
      await this.hand(h.airing);
    }
  }

  private async hand(airing: Airing): Promise<void> {
    this.handed.push(airing);
    try {
      await this.deps.player.queue(airing.item);
    } catch (err) {
      this.drop(airing.id);
      throw err;
    }
  }

  private drop(id: string): Airing | null {
    const i = this.handed.findIndex((a) => a.id === id);
    if (i < 0) return null;
    return this.handed.splice(i, 1)[0] as Airing;
  }

  // ---- holds: the screen black until a time (a blackout, nothing ready, nothing planned) ----

  private startHold(untilMs: number, why: string): void {
    this.hold = { untilMs, why, timer: null };
    this.deps.log.info({ until: new Date(untilMs).toISOString(), why }, "holding black");
    this.armHold();
  }

  /** The hold's clock runs once what was handed before it has played out. */
  private armHold(): void {
    const hold = this.hold;
    if (!hold || hold.timer || this.handed.length > 0) return;
    hold.timer = setTimeout(() => {
      this.hold = null;
      this.kick();
    }, Math.max(0, hold.untilMs - this.clock.wallMs()));
  }

  private endHold(): void {
    if (this.hold?.timer) clearTimeout(this.hold.timer);
    this.hold = null;
  }

  private housekeeping(): void {
    this.lastTickMonoMs = this.clock.monoMs();
    this.noticeClockStep();
    if (this.orders.expire()) this.replan("queued");
    this.air.closeFlights();
  }

  /** Checked at every tick, first frame and pump: a step is applied once, before any stamp on the new clock is used. */
  private noticeClockStep(): void {
    if (this.clockJumped()) this.replan("queued");
  }

  /** A wall-clock step is recorded, and the plan is made again on the corrected clock. */
  private clockJumped(): boolean {
    const jump = this.clockWatch.check();
    if (!jump) return false;
    this.deps.log.warn(jump, "the wall clock jumped");
    // What mpv holds keeps playing on its own time: re-stamp where it ends on the new clock, so
    // the next plan starts there and not a step away.
    for (const a of this.handed) {
      if (a.startedAt) a.clockShiftMs = (a.clockShiftMs ?? 0) + jump.stepMs;
      else a.expectedStartMs += jump.stepMs;
    }
    try {
      this.deps.ledger.event("clock.jump", { stepMs: jump.stepMs, expected: new Date(jump.expectedMs).toISOString(), now: new Date(jump.nowMs).toISOString() });
    } catch (err) {
      this.deps.log.error({ err: (err as Error).message }, "clock.jump could not be recorded");
    }
    return true;
  }

  // ---- the player's events ----

  private readonly onStarted = (e: StartedEvent): void => {
    const airing = this.handed.find((a) => a.id === e.item.id);
    if (!airing) return;
    // A step not yet seen must be applied before this stamp (taken on the new clock) joins
    // what it shifts, or the stamp is moved by the step a second time.
    this.noticeClockStep();
    airing.startedAt = e.at;
    airing.screenAtStart = this.deps.screen?.screenState() ?? null;
    const before = this.lastStarted;
    if (before?.eof) this.overrun.observe(before.airing, airing);
    this.lastStarted = { airing, ended: false, eof: false };
    this.emit("started", airing);
    this.kick();
  };

  private readonly onEnded = (e: EndedEvent): void => {
    const airing = this.drop(e.item.id);
    if (!airing) return;
    if (this.lastStarted?.airing === airing) this.lastStarted = { airing, ended: true, eof: e.reason === "eof" };
    // Cut (a takedown, an order, shutdown) before its first frame: it never aired, and is owed
    // like an item that was never handed over; a play record would claim a play that was not.
    const neverAired = e.startedAt === null && (e.reason === "stop" || e.reason === "quit");
    const entry = neverAired ? null : this.air.record(airing, e);
    if (entry) this.emit("play", entry);
    // An error, or an end with never a frame shown: the player could not play it.
    if ((e.reason === "error" || (e.reason === "eof" && e.startedAt === null)) && this.running) {
      this.air.playFailed(airing, e);
      this.replan("queued");
    }
    this.armHold();
    this.kick();
  };

  private readonly onDiscarded = (e: DiscardedEvent): void => {
    this.drop(e.item.id);
    this.armHold();
    this.kick();
  };

  private readonly onRestarted = (): void => {
    this.replan("none");
  };
}
