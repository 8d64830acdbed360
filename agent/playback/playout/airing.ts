// An airing: one item handed to the player, with what its proof will need. Built here from the
// plan's items (pure): which rendition plays, for how long, and what stands in when the
// creative is not ready. Fill items are where the timeline re-anchors to the wall clock.
import type { ScreenState } from "../../drivers/types.js";
import type { PreparedCreative, Rendition } from "../creatives/types.js";
import type { PlanItem } from "../planner/types.js";
import type { PlayItem, Stamp } from "../player/index.js";

/** proof-format.md: house content is recorded under the "fill" customer. */
export const FILL = "fill";

/** A fill cut shorter than this is left out: the next item starts that much early instead. */
export const MIN_FILL_MS = 400;

/** paid: a planned play; fill: house content (planned, or standing in); now: play.now; test: a technician's. */
export type AiringKind = "paid" | "fill" | "now" | "test";

/** What an airing needs of a rendition: a prepared creative, or a technician's pattern. */
export type AiredFile = Pick<PreparedCreative, "id" | "sourceSha256" | "playMs"> & { rendition: Pick<Rendition, "kind" | "path" | "sha256"> };

export interface Airing {
  /** The player's id for it: unique in this process. */
  id: string;
  kind: AiringKind;
  campaign: string;
  customer: string;
  creative: string;
  makeGood: boolean;
  category: string | null;
  scheduleVersion: number;
  /** When the plan (or the order) placed it: UTC ms. */
  plannedMs: number;
  prepared: AiredFile;
  item: PlayItem;
  /** Where the timeline expects its first frame (UTC ms), from what plays before it. */
  expectedStartMs: number;
  /** How long it should play: its file's length, or its cut. */
  expectedLengthMs: number;
  startedAt: Stamp | null;
  screenAtStart: ScreenState | null;
  /** Being cut: mpv was told to stop it, and its end may not have been reported yet. */
  ending?: boolean;
  /** Wall-clock steps since its first frame was stamped: where it ends on the clock as it is now. */
  clockShiftMs?: number;
}

/** The player item for a prepared creative, cut to `lengthMs` when that is shorter than the file. */
export function playItemFor(id: string, prepared: AiredFile, lengthMs?: number): PlayItem {
  const kind = prepared.rendition.kind === "image" ? "still" : "video";
  const item: PlayItem = { id, file: prepared.rendition.path, kind };
  if (kind === "still") item.durationMs = prepared.playMs;
  if (lengthMs !== undefined && lengthMs < prepared.playMs) item.lengthMs = Math.max(1, Math.round(lengthMs));
  return item;
}

export function lengthOf(item: PlayItem, prepared: AiredFile): number {
  return item.lengthMs ?? prepared.playMs;
}

/**
 * A fill's length: up to the next planned start, so the paid item after it starts on time
 * whatever the items before gained or lost; never longer than its file. `overrunMs` is how much
 * longer than its cut a cut item has been playing (mpv ends it on a frame boundary, then moves
 * on). Null: leave it out.
 */
export function fillLength(expectedStartMs: number, nextStartMs: number | null, fileMs: number, overrunMs = 0, nextPaidMs: number | null = null): number | null {
  let room = nextStartMs === null ? fileMs : nextStartMs - expectedStartMs - overrunMs;
  // Fill that would leave less than a fill's worth before the next paid item takes that rest
  // too (if its file is long enough): the paid item then starts on time, not early.
  if (nextPaidMs !== null && nextPaidMs - (expectedStartMs + room + overrunMs) < MIN_FILL_MS) room = nextPaidMs - expectedStartMs - overrunMs;
  const length = Math.min(fileMs, room);
  return length < MIN_FILL_MS ? null : length;
}

export interface AiringContext {
  nextId: () => string;
  scheduleVersion: number;
  expectedStartMs: number;
  /** The planned start of the item after this one, if the plan has one. */
  nextStartMs: number | null;
  /** The planned start of the next item that is not fill. */
  nextPaidMs?: number | null;
  /** A ready rendition of this creative, or null. */
  rendition: (creative: string) => AiredFile | null;
  /** The fill to stand in for an item that cannot play (rotating), or null when none is ready. */
  standIn: () => AiredFile | null;
  /** How much longer than its cut a cut item plays, as measured so far. */
  cutOverrunMs: number;
  /** A paid play is just before or just after it: it is never left out (separation; never start a paid play early). */
  afterPaid?: boolean;
}

/** What to do with a plan item: air it, hold the screen black until its end, or skip it. */
export type Handover = { airing: Airing; standIn: boolean } | { hold: string } | { skip: string };

export function handoverOf(planItem: PlanItem, ctx: AiringContext): Handover {
  if (planItem.blackout) return { hold: "blackout suspension" };
  if (planItem.creative === null) return { hold: "nothing planned" };
  const own = ctx.rendition(planItem.creative);
  if (planItem.fill || own === null) return fillHandover(planItem, own, ctx);
  const id = ctx.nextId();
  const item = playItemFor(id, own);
  return { airing: airingOf(planItem, own, item, ctx, "paid"), standIn: false };
}

function fillHandover(planItem: PlanItem, own: AiredFile | null, ctx: AiringContext): Handover {
  const standIn = !planItem.fill;
  // A planned fill not ready yet (still being fitted) gives way to another fill that is.
  const prepared = standIn ? ctx.standIn() : (own ?? ctx.standIn());
  if (prepared === null) return { hold: standIn ? `creative ${planItem.creative} is not ready and no fill is` : `fill ${planItem.creative} is not ready` };
  // Between two paid plays a fill is never left out, however little room is left: it may be all
  // that keeps two campaigns of one category apart (rule 4, hard), which matters more than the
  // next play starting a few hundred ms late.
  const length = fillLength(ctx.expectedStartMs, ctx.nextStartMs, prepared.playMs, ctx.cutOverrunMs, ctx.nextPaidMs ?? null) ?? (ctx.afterPaid ? Math.min(MIN_FILL_MS, prepared.playMs) : null);
  if (length === null) return { skip: "no room left for fill before the next item" };
  const item = playItemFor(ctx.nextId(), prepared, length);
  return { airing: airingOf(planItem, prepared, item, ctx, "fill"), standIn };
}

function airingOf(planItem: PlanItem, prepared: AiredFile, item: PlayItem, ctx: AiringContext, kind: "paid" | "fill"): Airing {
  const paid = kind === "paid";
  return {
    id: item.id,
    kind,
    campaign: paid ? (planItem.campaign ?? FILL) : FILL,
    customer: paid ? (planItem.customer ?? FILL) : FILL,
    creative: prepared.id,
    makeGood: paid && planItem.makeGood,
    category: paid ? planItem.category : null,
    scheduleVersion: ctx.scheduleVersion,
    plannedMs: planItem.startMs,
    prepared,
    item,
    expectedStartMs: ctx.expectedStartMs,
    expectedLengthMs: lengthOf(item, prepared),
    startedAt: null,
    screenAtStart: null,
  };
}
