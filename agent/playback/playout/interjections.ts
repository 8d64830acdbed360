// Airings that come before the plan: an operator's play.now, a technician's test play and test
// pattern. They are queued here and the playout takes them before its next planned item; the
// plan is then made afresh from where they end.
import { lstat, readFile, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import { pathToFileURL } from "node:url";
import { CommandFailure, type CommandOrigin, type PlayerPatternName } from "../../commands/types.js";
import { sha256OfFile } from "../creatives/files.js";
import { describeOrigin } from "../history/index.js";
import { FILL, playItemFor, type AiredFile, type Airing } from "./airing.js";
import type { OnAir } from "./on-air.js";
import type { PlayoutDeps, PlayoutClock } from "./types.js";

/** A JPEG of the panel is small; this bounds what is read back from mpv's file. */
const MAX_SCREENSHOT_FILE = 8 * 1024 * 1024;

/** One waiting interjection: what it will air, and how to make its airing once its start is known. */
interface Pending {
  kind: "now" | "test";
  campaign: string;
  creative: string;
  make: (at: number) => Airing;
}

export interface InterjectionDeps extends Pick<PlayoutDeps, "creatives" | "player" | "runDir" | "log"> {
  clock: PlayoutClock;
  air: OnAir;
  nextId: () => string;
  /** Whether a standing takedown covers this campaign or creative. */
  takenDown: (campaign: string, creative: string) => boolean;
}

export class Interjections {
  private pending: Pending[] = [];
  private shots = 0;

  constructor(private readonly deps: InterjectionDeps) {}

  /** The next interjection, to start at `at`; null when none waits. */
  take(at: number): Airing | null {
    return this.pending.shift()?.make(at) ?? null;
  }

  /** Drops what waits and `drop` names: an order that took its campaign or creative off air, or a blackout. */
  dropWhere(drop: (p: Pick<Pending, "kind" | "campaign" | "creative">) => boolean): number {
    const before = this.pending.length;
    this.pending = this.pending.filter((p) => !drop(p));
    return before - this.pending.length;
  }

  /** An approved creative of the schedule on air, `times` in a row, recorded as plays of its campaign. */
  playNow(creative: string, times: number): number {
    const doc = this.deps.air.current?.document;
    if (!doc) throw new CommandFailure("not-found", "no schedule is on air");
    const entry = doc.creatives.find((c) => c.id === creative);
    if (!entry) throw new CommandFailure("not-found", `creative ${creative} is not in schedule v${doc.version}`);
    if (entry.approved !== true) throw new CommandFailure("not-approved", `creative ${creative} is not approved for air`);
    const now = this.deps.clock.wallMs();
    const owner = doc.campaigns.find((c) => c.creatives.includes(creative) && Date.parse(c.start) <= now && now < Date.parse(c.end)) ?? doc.campaigns.find((c) => c.creatives.includes(creative));
    if (this.deps.takenDown(owner?.id ?? FILL, creative)) throw new CommandFailure("not-approved", `creative ${creative} is taken down; lift the takedown first`);
    const prepared = this.deps.air.shelf?.get(creative);
    if (!prepared) throw new Error(`creative ${creative} is not ready to air yet (still being fetched or fitted, or refused: see creative.rejected)`);
    const campaign = owner?.id ?? FILL;
    for (let i = 0; i < times; i++) {
      this.pending.push({ kind: "now", campaign, creative, make: (at) => this.airing("now", prepared, at, now, { campaign, customer: owner?.customer ?? FILL, category: owner?.category ?? null }) });
    }
    return times;
  }

  /** A technician's file, fitted to the panel like any creative, then played `times`: events, never paid plays. */
  async testPlay(file: string, times: number, origin: CommandOrigin): Promise<number> {
    const info = await lstat(file).catch((err: NodeJS.ErrnoException) => {
      throw new CommandFailure("not-found", `${file}: ${err.code === "ENOENT" ? "no such file" : err.message}`);
    });
    if (!info.isFile()) throw new CommandFailure("not-found", `${file}: not a regular file`);
    const prepared = await this.deps.creatives.prepare({ id: `test:${basename(file)}`, url: pathToFileURL(file).href, sha256: null, durationMs: null });
    const now = this.deps.clock.wallMs();
    for (let i = 0; i < times; i++) this.pending.push({ kind: "test", campaign: describeOrigin(origin), creative: prepared.id, make: (at) => this.testAiring(prepared, at, now, origin) });
    return times;
  }

  /** A test pattern at the panel's exact size, for `seconds`. */
  async pattern(name: PlayerPatternName, seconds: number, origin: CommandOrigin): Promise<void> {
    const path = await this.deps.creatives.renderPattern(name);
    const sha256 = await sha256OfFile(path);
    const pattern: AiredFile = { id: `pattern:${name}`, sourceSha256: sha256, playMs: seconds * 1000, rendition: { kind: "image", path, sha256 } };
    const now = this.deps.clock.wallMs();
    this.pending.push({ kind: "test", campaign: describeOrigin(origin), creative: pattern.id, make: (at) => this.testAiring(pattern, at, now, origin) });
  }

  async screenshot(): Promise<Buffer> {
    this.shots += 1;
    const path = join(this.deps.runDir, `screenshot-${process.pid}-${this.shots}.jpg`);
    try {
      await this.deps.player.screenshot(path);
      const info = await lstat(path);
      if (!info.isFile() || info.size > MAX_SCREENSHOT_FILE) throw new Error(`mpv wrote ${info.size} bytes, not a screenshot`);
      return await readFile(path);
    } finally {
      await rm(path, { force: true });
    }
  }

  private testAiring(prepared: AiredFile, at: number, orderedMs: number, origin: CommandOrigin): Airing {
    return this.airing("test", prepared, at, orderedMs, { campaign: describeOrigin(origin), customer: "technician", category: null });
  }

  private airing(kind: "now" | "test", prepared: AiredFile, at: number, orderedMs: number, owner: { campaign: string; customer: string; category: string | null }): Airing {
    const item = playItemFor(this.deps.nextId(), prepared);
    return {
      id: item.id,
      kind,
      ...owner,
      creative: prepared.id,
      makeGood: false,
      scheduleVersion: this.deps.air.version ?? 0,
      plannedMs: orderedMs,
      prepared,
      item,
      expectedStartMs: at,
      expectedLengthMs: prepared.playMs,
      startedAt: null,
      screenAtStart: null,
    };
  }
}
