// What is on air: the schedule playing, its renditions, and the history its plans start from
// (plays delivered, when each campaign was applied). A newly applied schedule takes over only
// once its creatives were all tried (fetched and fitted, or refused), so the old one keeps
// playing meanwhile; at start, playing begins after a short wait for what the cache holds.
import type { PlayEntry } from "../../proofs/types.js";
import type { EndedEvent } from "../player/index.js";
import { DeliveredTally } from "../history/delivered.js";
import { closedFlights, endedFlights, flightCompletedDetail, flightKey, plannerHistory } from "../history/index.js";
import type { CurrentSchedule } from "../schedule/store.js";
import type { PlanSchedule } from "../planner/types.js";
import type { Airing } from "./airing.js";
import { playRecord } from "./record.js";
import { RenditionPreparer, type Rejection, type Shelf } from "./renditions.js";
import type { OrderBook } from "./orders.js";
import { withProvisional, type PlanInputs } from "./timeline.js";
import type { PlayoutClock, PlayoutDeps } from "./types.js";

/** At start, how long playing waits for renditions (the cache answers in milliseconds). */
const START_WAIT_MS = 1500;
/** How the player reports its own death (agent/playback/player/player.ts). */
const PLAYER_DIED = "mpv exited";
const FLIGHT_CHECK_MS = 60_000;

/** How a newly applied schedule came on air; `rejected` lists the creatives refused meanwhile. */
export interface ScheduleTakeover {
  version: number | null;
  onAir: boolean;
  rejected: Rejection[];
}

export interface OnAirDeps extends PlayoutDeps {
  clock: PlayoutClock;
  /** A new schedule took over (its creatives are ready): replan from the next boundary. */
  onSwitch: () => void;
  /** A creative of the schedule on air became ready. */
  onReady: (creative: string) => void;
}

export class OnAir {
  current: CurrentSchedule | null = null;
  shelf: Shelf | null = null;
  private pending: Shelf | null = null;
  private tally: DeliveredTally | null = null;
  private appliedAt: Record<string, number> = {};
  private readonly preparer: RenditionPreparer;
  private closed = new Set<string>();
  private lastFlightCheck = -Infinity;
  /** Where the refusals of the schedule being prepared are gathered for its takeover report. */
  private refusedNow: Rejection[] | null = null;

  constructor(private readonly deps: OnAirDeps) {
    this.preparer = new RenditionPreparer({ creatives: deps.creatives, log: deps.log, onRejected: (r) => this.rejected(r) });
  }

  get version(): number | null {
    return this.current?.document.version ?? null;
  }

  async start(): Promise<void> {
    const { closed, skipped } = closedFlights(this.deps.ledger.events({ type: "campaign.completed" }));
    this.closed = closed;
    for (const s of skipped) this.deps.log.warn(s, "a campaign.completed entry could not be read");
    const current = this.deps.schedules.current();
    if (!current) {
      this.deps.log.warn("no schedule stored yet: the screen stays black until one is applied");
      return;
    }
    const shelf = this.preparer.shelfFor(current.document);
    this.adopt(current, shelf);
    await Promise.race([shelf.done, new Promise((resolve) => setTimeout(resolve, START_WAIT_MS).unref())]);
  }

  /**
   * The store holds a new schedule: prepare it, then let it take over. Resolves once it is on air
   * (or at once when it already is), with the creatives that were refused on the way; `onAir`
   * false when a newer schedule came before it was ready.
   */
  scheduleApplied(): Promise<ScheduleTakeover> {
    const next = this.deps.schedules.current();
    if (!next) return Promise.resolve({ version: null, onAir: false, rejected: [] });
    const version = next.document.version;
    if (version === this.version && !this.pending) return Promise.resolve({ version, onAir: true, rejected: [] });
    const shelf = this.preparer.shelfFor(next.document, this.shelf);
    const rejected: Rejection[] = [];
    this.refusedNow = rejected;
    const settled = (onAir: boolean): ScheduleTakeover => {
      if (this.refusedNow === rejected) this.refusedNow = null;
      return { version, onAir, rejected };
    };
    if (!this.current) {
      this.adopt(next, shelf);
      this.deps.onSwitch();
      return shelf.done.then(() => settled(this.shelf === shelf));
    }
    this.pending = shelf;
    this.deps.log.info({ version, playing: this.version }, "preparing the new schedule's creatives; the old one plays meanwhile");
    return shelf.done.then(() => {
      if (this.pending !== shelf) return settled(false); // a newer schedule came meanwhile
      this.pending = null;
      this.adopt(next, shelf);
      this.deps.onSwitch();
      return settled(true);
    });
  }

  close(): void {
    this.preparer.close();
  }

  planInputs(orders: OrderBook, handed: readonly Airing[]): PlanInputs {
    const current = this.current as CurrentSchedule;
    const doc = current.document as PlanSchedule;
    const tally = this.tally as DeliveredTally;
    return { schedule: doc, delivered: withProvisional(tally.counts(), handed, doc.timezone), appliedAt: this.appliedAt, ...orders.planner() };
  }

  /** The play's ledger entry (a test play's is an event); null when the ledger refused it. */
  record(airing: Airing, ended: EndedEvent): PlayEntry | null {
    const screenAtEnd = this.deps.screen?.screenState() ?? null;
    const play = playRecord({ airing, ended, screenAtStart: airing.screenAtStart, screenAtEnd });
    try {
      if (airing.kind === "test") {
        const { startedAt, endedAt, durationMs, status, renditionSha256 } = play;
        this.deps.ledger.event("command.executed", { command: airing.creative.startsWith("pattern:") ? "pattern" : "play", test: true, by: airing.campaign, file: airing.item.file, renditionSha256, startedAt, endedAt, durationMs, status });
        return null;
      }
      const entry = this.deps.ledger.append({ kind: "play", play }) as PlayEntry;
      this.tally?.add(entry);
      return entry;
    } catch (err) {
      this.deps.log.error({ err: (err as Error).message, play }, "a play could not be recorded");
      return null;
    }
  }

  /**
   * A play failed on the player. mpv's own death is not the creative's fault; anything else
   * takes the creative off the air (fill stands in) and prepares it once more: a rendition
   * deleted or damaged in the cache is made again, and one that fails again stays off until the
   * next schedule, rather than failing at every turn of the plan.
   */
  playFailed(airing: Airing, ended: EndedEvent): void {
    if (ended.error?.startsWith(PLAYER_DIED) || !this.shelf || airing.kind === "test") return;
    const failures = this.shelf.withdraw(airing.creative);
    if (failures === 1) {
      this.deps.log.warn({ creative: airing.creative, error: ended.error }, "a play failed on the player: preparing its rendition again");
      void this.preparer.reprepare(this.shelf, airing.creative);
      return;
    }
    this.rejected({ creative: airing.creative, sha256: airing.prepared.sourceSha256, reason: "unplayable", message: `its rendition failed on the player ${failures} times: ${ended.error ?? "no first frame"}` });
  }

  /** campaign.completed for every flight that has ended; at most once a minute. */
  closeFlights(): void {
    const now = this.deps.clock.wallMs();
    if (!this.current || now - this.lastFlightCheck < FLIGHT_CHECK_MS) return;
    this.lastFlightCheck = now;
    for (const campaign of endedFlights(this.current, this.closed, now)) {
      try {
        const detail = flightCompletedDetail(this.deps.ledger, this.current, campaign.id, { controllerConfigured: this.deps.controllerConfigured });
        this.deps.ledger.event("campaign.completed", { ...detail });
        this.closed.add(flightKey(campaign.id, campaign.end));
      } catch (err) {
        this.deps.log.error({ campaign: campaign.id, err: (err as Error).message }, "campaign.completed could not be recorded");
      }
    }
  }

  private adopt(current: CurrentSchedule, shelf: Shelf): void {
    const history = plannerHistory(this.deps.ledger, current, { controllerConfigured: this.deps.controllerConfigured, now: this.deps.clock.wallMs() });
    this.current = current;
    if (this.shelf) this.shelf.onReady = null;
    this.shelf = shelf;
    shelf.onReady = (creative) => this.deps.onReady(creative);
    this.tally = history.delivered;
    this.appliedAt = history.appliedAt;
    this.deps.log.info({ version: current.document.version, creatives: shelf.doc.creatives.length }, "schedule on air");
  }

  private rejected(r: Rejection): void {
    this.refusedNow?.push(r);
    try {
      this.deps.ledger.event("creative.rejected", { creative: r.creative, sha256: r.sha256, reason: r.reason, message: r.message.slice(0, 500), scheduleVersion: this.pending?.doc.version ?? this.version });
    } catch (err) {
      this.deps.log.error({ err: (err as Error).message }, "creative.rejected could not be recorded");
    }
  }
}
