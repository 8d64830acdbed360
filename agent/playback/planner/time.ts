// Clock hours, days and dayparts in the schedule's zone, as UTC-ms intervals. luxon does the
// zone arithmetic, so DST days come out 23 or 25 hours long.
import { DateTime } from "luxon";
import type { PlanCampaign } from "./types.js";

export type Interval = readonly [number, number];

const HOUR_MS = 3_600_000;

// Memos of pure functions (the same answer for the same question, whatever was asked before):
// plans ask about the same few instants and local days for hundreds of campaigns.
const MEMO_LIMIT = 20_000;
function memo<T>(cache: Map<string, T>, key: string, compute: () => T): T {
  let value = cache.get(key);
  if (value === undefined) {
    if (cache.size >= MEMO_LIMIT) cache.clear();
    value = compute();
    cache.set(key, value);
  }
  return value;
}

const instants = new Map<string, number>();
export function parseInstant(text: string): number {
  return memo(instants, text, () => DateTime.fromISO(text, { setZone: true }).toMillis());
}

export function hourStart(ms: number, zone: string): number {
  return DateTime.fromMillis(ms, { zone }).startOf("hour").toMillis();
}

/** The local date (YYYY-MM-DD) of an instant in the zone. */
export function localDate(ms: number, zone: string): string {
  return DateTime.fromMillis(ms, { zone }).toISODate() ?? new Date(ms).toISOString().slice(0, 10);
}

export function dayStart(ms: number, zone: string): number {
  return DateTime.fromMillis(ms, { zone }).startOf("day").toMillis();
}

/** Clock-hour starts of every hour overlapping [from, to). */
export function hoursOverlapping(from: number, to: number, zone: string): number[] {
  const out: number[] = [];
  // Clock hours are whole real hours in every zone with whole- or half-hour offsets.
  for (let h = hourStart(from, zone); h < to; h += HOUR_MS) out.push(h);
  return out;
}

/** Local days overlapping [from, to): [start, end) pairs (23, 24 or 25 hours long). */
export function daysOverlapping(from: number, to: number, zone: string): Interval[] {
  const out: Interval[] = [];
  let day = DateTime.fromMillis(from, { zone }).startOf("day");
  while (day.toMillis() < to) {
    const next = day.plus({ days: 1 });
    out.push([day.toMillis(), next.toMillis()]);
    day = next;
  }
  return out;
}

function atClock(day: DateTime, hhmm: string): DateTime {
  const [h, m] = hhmm.split(":").map(Number);
  const t = day.set({ hour: h, minute: m, second: 0, millisecond: 0 });
  if (t.hour === h && t.minute === m) return t;
  // A time skipped by a DST jump moves to the first valid instant: the jump itself (02:30 → 03:00).
  // luxon moved it forward by the size of the jump instead (02:30 → 03:30), so search back for it.
  let before = t.toMillis() - 3 * HOUR_MS;
  let after = t.toMillis();
  if (DateTime.fromMillis(before, { zone: t.zone }).offset === t.offset) return t;
  while (after - before > 1) {
    const mid = Math.floor((before + after) / 2);
    if (DateTime.fromMillis(mid, { zone: t.zone }).offset === t.offset) after = mid;
    else before = mid;
  }
  return DateTime.fromMillis(after, { zone: t.zone });
}

// The interval helpers below walk their lists by index rather than by destructuring for-of: the
// first plan in a process runs them tens of thousands of times before they are optimised, and
// unoptimised destructuring goes through the iterator protocol for every interval.

/** Union of sorted intervals (merged where they touch). */
export function mergeIntervals(list: Interval[]): Interval[] {
  const sorted = list.filter((x) => x[1] > x[0]).sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  for (let i = 0; i < sorted.length; i++) {
    const a = sorted[i][0];
    const b = sorted[i][1];
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

export function intersect(a: readonly Interval[], b: readonly Interval[]): Interval[] {
  const out: Interval[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const lo = Math.max(a[i][0], b[j][0]);
    const hi = Math.min(a[i][1], b[j][1]);
    if (hi > lo) out.push([lo, hi]);
    if (a[i][1] < b[j][1]) i++;
    else j++;
  }
  return out;
}

export function subtract(a: readonly Interval[], cut: readonly Interval[]): Interval[] {
  if (cut.length === 0) return [...a];
  const out: Interval[] = [];
  for (let i = 0; i < a.length; i++) {
    const hi = a[i][1];
    let start = a[i][0];
    for (let j = 0; j < cut.length; j++) {
      const c0 = cut[j][0];
      const c1 = cut[j][1];
      if (c1 <= start || c0 >= hi) continue;
      if (c0 > start) out.push([start, c0]);
      start = Math.max(start, c1);
      if (start >= hi) break;
    }
    if (start < hi) out.push([start, hi]);
  }
  return out;
}

export function totalLength(list: readonly Interval[]): number {
  let sum = 0;
  for (let i = 0; i < list.length; i++) sum += list[i][1] - list[i][0];
  return sum;
}

/** The first interval of a sorted, disjoint list that ends after t (its length when none does). */
function firstEndingAfter(list: readonly Interval[], t: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid][1] <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** intersect(list, [[from, to]]) for a sorted, disjoint list, found by binary search: the planner
 * asks it once or more per campaign-period, and most periods miss most of a campaign's dayparts. */
export function clip(list: readonly Interval[], from: number, to: number): Interval[] {
  const out: Interval[] = [];
  for (let i = firstEndingAfter(list, from); i < list.length && list[i][0] < to; i++) {
    const lo = Math.max(list[i][0], from);
    const hi = Math.min(list[i][1], to);
    if (hi > lo) out.push([lo, hi]);
  }
  return out;
}

/** totalLength(clip(list, from, to)) without building the list. */
export function lengthWithin(list: readonly Interval[], from: number, to: number): number {
  let sum = 0;
  for (let i = firstEndingAfter(list, from); i < list.length && list[i][0] < to; i++) sum += Math.max(0, Math.min(list[i][1], to) - Math.max(list[i][0], from));
  return sum;
}

/** A local day: its start, the next day's start, its ISO weekday, and whether its offset never changes. */
interface LocalDay {
  start: number;
  next: number;
  weekday: number;
  steady: boolean;
}

const localDays = new Map<string, LocalDay>();
function localDay(start: number, zone: string): LocalDay {
  return memo(localDays, `${zone}|${start}`, () => {
    const day = DateTime.fromMillis(start, { zone });
    const next = day.plus({ days: 1 });
    const steady = next.toMillis() - start === 24 * HOUR_MS && next.offset === day.offset;
    return { start, next: next.toMillis(), weekday: day.weekday, steady };
  });
}

const dayStarts = new Map<string, number>();
function dayStartMemo(ms: number, zone: string): number {
  return memo(dayStarts, `${zone}|${ms}`, () => dayStart(ms, zone));
}

/** hh:mm on a local day; on a day without a DST change that is plain arithmetic. */
function clockOn(day: LocalDay, hhmm: string, zone: string): number {
  if (!day.steady) return atClock(DateTime.fromMillis(day.start, { zone }), hhmm).toMillis();
  return day.start + (Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5))) * 60_000;
}

/** Daypart intervals of a campaign that start on days overlapping [from, to); all day if none. */
export function daypartIntervals(campaign: Pick<PlanCampaign, "dayparts">, from: number, to: number, zone: string): Interval[] {
  if (!campaign.dayparts) return [[from, to]];
  const out: Interval[] = [];
  // A daypart that wraps past midnight belongs to the day it starts on, so look back one day.
  let day = localDay(dayStartMemo(dayStartMemo(from, zone) - 1, zone), zone);
  while (day.start < to) {
    const next = localDay(day.next, zone);
    for (const part of campaign.dayparts) {
      if (!part.days.includes(day.weekday)) continue;
      const end = clockOn(part.to <= part.from ? next : day, part.to, zone);
      out.push([clockOn(day, part.from, zone), end]);
    }
    day = next;
  }
  return intersect(mergeIntervals(out), [[from, to]]);
}

/** Where the campaign's flight and dayparts allow it to start items, inside [from, to). */
export function activeIntervals(campaign: PlanCampaign, from: number, to: number, zone: string): Interval[] {
  const lo = Math.max(from, parseInstant(campaign.start));
  const hi = Math.min(to, parseInstant(campaign.end));
  if (hi <= lo) return [];
  return daypartIntervals(campaign, lo, hi, zone);
}

/** The point `fraction` (0..1) of the way through a set of intervals, by covered length. */
export function pointAt(list: readonly Interval[], fraction: number): number {
  const total = totalLength(list);
  let rest = total * fraction;
  for (let i = 0; i < list.length; i++) {
    const a = list[i][0];
    const b = list[i][1];
    if (rest < b - a) return a + rest;
    rest -= b - a;
  }
  return list.length ? list[list.length - 1][1] : 0;
}

export function containing(list: readonly Interval[], t: number): Interval | undefined {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [a, b] = list[mid];
    if (t < a) hi = mid - 1;
    else if (t >= b) lo = mid + 1;
    else return list[mid];
  }
  return undefined;
}

/** First start ≥ t inside the list, or Infinity. */
export function nextInside(list: readonly Interval[], t: number): number {
  const i = firstEndingAfter(list, t);
  if (i === list.length) return Infinity;
  return Math.max(list[i][0], t);
}

// toIso formats every item's start: a month's plan has some 200,000 of them. The text up to the
// minute is the same for every start in that minute, so it is formatted once per minute and only
// the seconds and milliseconds are appended (one short tail and one join, instead of a chain of
// joined pieces each item would keep alive).
const MINUTE_MS = 60_000;
const SECONDS_DOT = Array.from({ length: 60 }, (_, i) => `${String(i).padStart(2, "0")}.`);
const MILLIS_Z = Array.from({ length: 1000 }, (_, i) => `${String(i).padStart(3, "0")}Z`);
let isoMinute = NaN;
let isoMinutePrefix = "";

/** UTC RFC 3339 with milliseconds, exactly as Date#toISOString writes it. */
export function toIso(ms: number): string {
  // Years outside 0000–9999 are written with a sign and six digits: leave those to Date.
  if (!Number.isInteger(ms) || ms < -62_167_219_200_000 || ms >= 253_402_300_800_000) return new Date(ms).toISOString();
  const minute = Math.floor(ms / MINUTE_MS) * MINUTE_MS;
  if (minute !== isoMinute) {
    isoMinute = minute;
    isoMinutePrefix = new Date(minute).toISOString().slice(0, 17);
  }
  const rest = ms - minute;
  const milli = rest % 1000;
  const tail = SECONDS_DOT[(rest - milli) / 1000] + MILLIS_Z[milli];
  return isoMinutePrefix + tail;
}

