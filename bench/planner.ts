// Planner figures: time to plan 24 h for 50, 500 and 2,000 campaigns (target ≤ 200 ms at 500,
// also cold: the first plan in a fresh process), a month of 200 campaigns with and without
// dayparts (targets ≤ 5 s and ≤ 300 MB peak RSS, each in a process of its own), the same for a
// realistic heavy month through `schedule plan`'s own steps (validate, plan, JSON), the time per
// planned hour at the schedule limits, and what the plan delivers against a naive round-robin
// baseline on the same random schedules.
// `node planner.js child HOURS CAMPAIGNS DAYPARTS` plans once cold and once warm and prints JSON.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { plan, type Plan, type PlanCampaign, type PlanItem, type PlanSchedule } from "../agent/playback/planner/index.js";
import { validateDocument } from "../agent/playback/schedule/index.js";
import type { BenchReport } from "./report.js";

const H = 3_600_000;
const FROM = Date.parse("2026-12-07T00:00:00Z");
const TO = FROM + 24 * H;
const CATEGORIES = ["", "beverage", "alcohol", "auto", "bank", "telecom", "retail", "food"];

// A small seeded generator, so every run plans the same schedules.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x ^= x + Math.imul(x ^ (x >>> 7), 61 | x);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** Which campaigns get a daypart: half of them (the 24 h figures), none, or every one. */
type Dayparts = "half" | "none" | "all";

export function randomSchedule(n: number, seed: number, dayparts: Dayparts = "half"): PlanSchedule {
  const r = rng(seed);
  const pick = <T>(list: T[]): T => list[Math.floor(r() * list.length)];
  const campaigns: PlanCampaign[] = [];
  const creatives = [{ id: "house", durationMs: 30_000, approved: true }];
  // Scale quotas so the screen is well used but not hopelessly oversold at every size.
  const maxPerHour = Math.max(1, Math.round(400 / n));
  for (let i = 0; i < n; i++) {
    const id = `c${i}`;
    const duration = pick([10_000, 15_000, 15_000, 30_000]);
    creatives.push({ id: `${id}-v`, durationMs: duration, approved: true });
    const from = Math.floor(r() * 18);
    const hasDaypart = r() < 0.5 ? dayparts !== "none" : dayparts === "all";
    campaigns.push({
      id,
      customer: `cust${i % 40}`,
      category: pick(CATEGORIES),
      separateFrom: r() < 0.3 ? [pick(CATEGORIES.slice(1))] : [],
      creatives: [`${id}-v`],
      start: "2026-12-01T00:00:00Z",
      end: "2027-01-01T00:00:00Z",
      dayparts: hasDaypart ? [{ days: dayparts === "all" && r() < 0.5 ? [1, 2, 3, 4, 5] : [1, 2, 3, 4, 5, 6, 7], from: `${String(from).padStart(2, "0")}:00`, to: `${String(from + 1 + Math.floor(r() * 6)).padStart(2, "0")}:30` }] : undefined,
      playsPerHour: 1 + Math.floor(r() * maxPerHour),
      priority: Math.floor(r() * 4),
    });
  }
  return { version: 1, timezone: "Asia/Shanghai", creatives, campaigns, fill: ["house"] };
}

const MONTH_FROM = Date.parse("2026-11-30T16:00:00Z"); // 2026-12-01 00:00 in Asia/Shanghai
const SHA = "0".repeat(64);
const DAYPARTS = [
  { days: [1, 2, 3, 4, 5], from: "07:00", to: "09:30" },
  { days: [1, 2, 3, 4, 5, 6, 7], from: "11:30", to: "14:00" },
  { days: [1, 2, 3, 4, 5, 6, 7], from: "17:30", to: "22:00" },
  { days: [5, 6], from: "20:00", to: "02:00" },
  { days: [6, 7], from: "09:00", to: "18:00" },
];
const local = (day: number, hhmm: string): string => `2026-12-${String(day).padStart(2, "0")}T${hhmm}:00+08:00`;

/**
 * A month as a busy screen sells it, modelled on deploy/examples/schedule.json: 200 campaigns of
 * 2–12 plays an hour (some per day), most in two or three dayparts, with categories and
 * separateFrom, a third owed make-goods, buyouts, lunch bursts of 30–60 plays an hour, and
 * whole-screen, per-campaign and blackout suspensions. Oversold at peak, as real screens are.
 */
export function heavyMonthSchedule(n: number, seed = 7): Record<string, unknown> {
  const r = rng(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(r() * list.length)];
  const creatives = [{ id: "house-30", url: "file:///house/loop-30.mp4", sha256: SHA, durationMs: 30_000, approved: true }];
  const campaigns: Record<string, unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const id = `c${i}`;
    const versions = 1 + Math.floor(r() * 3);
    const ids = Array.from({ length: versions }, (_, v) => `${id}-v${v}`);
    for (const cid of ids) creatives.push({ id: cid, url: `https://cdn.example/${cid}.mp4`, sha256: SHA, durationMs: pick([10_000, 15_000, 15_000, 30_000]), approved: r() > 0.03 });
    const startDay = 1 + Math.floor(r() * 10);
    const base = { id, customer: `cust${i % 60}`, category: pick(CATEGORIES), creatives: ids, separateFrom: r() < 0.4 ? [pick(CATEGORIES.slice(1)), pick(CATEGORIES.slice(1))] : [] };
    const kind = i % 50 === 7 ? "buyout" : i % 20 === 3 ? "burst" : r() < 0.2 ? "daily" : "hourly";
    const parts = [...DAYPARTS].sort(() => r() - 0.5).slice(0, 1 + Math.floor(r() * 3));
    if (kind === "buyout") {
      const day = 2 + (i % 25);
      campaigns.push({ ...base, start: local(day, "00:00"), end: local(day + 3, "00:00"), dayparts: [{ days: [1, 2, 3, 4, 5, 6, 7], from: `${10 + (i % 8)}:00`, to: `${11 + (i % 8)}:00` }], exclusive: true, priority: 9 });
    } else if (kind === "burst") {
      campaigns.push({ ...base, start: local(startDay, "00:00"), end: local(startDay + 7, "00:00"), dayparts: [{ days: [1, 2, 3, 4, 5], from: "12:00", to: "12:30" }], playsPerHour: 30 + Math.floor(r() * 31), priority: 8 });
    } else {
      const quota = kind === "daily" ? { playsPerDay: 20 + Math.floor(r() * 120) } : { playsPerHour: 2 + Math.floor(r() * 11) };
      campaigns.push({ ...base, start: local(startDay, "00:00"), end: r() < 0.7 ? "2027-01-01T00:00:00+08:00" : local(startDay + 14, "00:00"), dayparts: r() < 0.85 ? parts : undefined, ...quota, priority: Math.floor(r() * 8), makeGood: r() < 0.33 });
    }
  }
  const suspensions: Record<string, unknown>[] = [];
  for (let day = 2; day <= 30; day += 7) suspensions.push({ from: local(day, "03:00"), to: local(day, "05:00"), reason: "weekly maintenance", campaigns: null });
  suspensions.push({ from: local(12, "19:00"), to: local(12, "21:30"), reason: "city event", campaigns: null, blackout: true });
  for (let k = 0; k < 10; k++) {
    const day = 1 + Math.floor(r() * 28);
    suspensions.push({ from: local(day, "08:00"), to: local(day + 1, "20:00"), reason: "creative under review", campaigns: [`c${Math.floor(r() * n)}`, `c${Math.floor(r() * n)}`] });
  }
  return { kind: "ledagent.schedule/v1", screen: "bench-001", version: 1, issuedAt: "2026-11-20T00:00:00Z", timezone: "Asia/Shanghai", creatives, campaigns, fill: ["house-30"], suspensions, brightness: [] };
}

/** The baseline: every active campaign in turn, back to back, fill only when none is active. */
function roundRobin(s: PlanSchedule): PlanItem[] {
  const items: PlanItem[] = [];
  const durations = new Map(s.creatives.map((c) => [c.id, c.durationMs]));
  let t = FROM;
  let next = 0;
  const activeAt = (c: PlanCampaign, at: number): boolean => {
    if (!c.dayparts) return true;
    const local = new Date(at + 8 * H);
    const minutes = local.getUTCHours() * 60 + local.getUTCMinutes();
    const [f, g] = [c.dayparts[0].from, c.dayparts[0].to].map((x) => Number(x.slice(0, 2)) * 60 + Number(x.slice(3)));
    return minutes >= f && minutes < g;
  };
  while (t < TO) {
    let placed = false;
    for (let k = 0; k < s.campaigns.length; k++) {
      const c = s.campaigns[(next + k) % s.campaigns.length];
      if (!activeAt(c, t)) continue;
      const d = durations.get(c.creatives[0]) ?? 15_000;
      items.push({ at: "", startMs: t, durationMs: d, campaign: c.id, customer: c.customer, creative: c.creatives[0], category: c.category ?? "", makeGood: false, fill: false, blackout: false });
      t += d;
      next = (next + k + 1) % s.campaigns.length;
      placed = true;
      break;
    }
    if (!placed) {
      items.push({ at: "", startMs: t, durationMs: 30_000, campaign: "fill", customer: "fill", creative: "house", category: null, makeGood: false, fill: true, blackout: false });
      t += 30_000;
    }
  }
  return items;
}

/** Share of contracted plays delivered (capped per campaign-hour), and back-to-back separation breaks. */
function score(s: PlanSchedule, items: PlanItem[], contractedByHour: Map<string, number>): { delivered: number; violations: number } {
  const byId = new Map(s.campaigns.map((c) => [c.id, c]));
  const got = new Map<string, number>();
  for (const i of items) {
    if (i.fill || !i.campaign) continue;
    const key = `${i.campaign}@${Math.floor((i.startMs - FROM) / H)}`;
    got.set(key, (got.get(key) ?? 0) + 1);
  }
  let due = 0;
  let met = 0;
  for (const [key, n] of contractedByHour) {
    due += n;
    met += Math.min(n, got.get(key) ?? 0);
  }
  let violations = 0;
  for (let k = 1; k < items.length; k++) {
    const a = items[k - 1].campaign ? byId.get(items[k - 1].campaign as string) : undefined;
    const b = items[k].campaign ? byId.get(items[k].campaign as string) : undefined;
    if (!a || !b || a === b) continue;
    const ca = a.category ?? "";
    const cb = b.category ?? "";
    if ((ca && ca === cb) || (cb && a.separateFrom?.includes(cb)) || (ca && b.separateFrom?.includes(ca))) violations++;
  }
  return { delivered: due ? met / due : 1, violations };
}

/** Contracted plays per campaign-hour: the plan's own count of what it placed plus what it reports short. */
function contractedFrom(p: Plan): Map<string, number> {
  const out = new Map<string, number>();
  for (const i of p.items) {
    if (i.fill || !i.campaign || i.makeGood) continue;
    const key = `${i.campaign}@${Math.floor((i.startMs - FROM) / H)}`;
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  for (const s of p.shortfalls) {
    const key = `${s.campaign}@${Math.floor((Date.parse(s.period) - FROM) / H)}`;
    out.set(key, (out.get(key) ?? 0) + s.missing);
  }
  return out;
}

interface ChildResult {
  coldMs: number;
  warmMs: number;
  items: number;
  maxRssMiB: number;
}

/** Plans `hours` from FROM for `n` campaigns in a fresh process: the first plan (cold), then the same again (warm). */
function inChild(hours: number, n: number, dayparts: Dayparts): ChildResult {
  const script = fileURLToPath(import.meta.url);
  const out = execFileSync(process.execPath, [script, "child", String(hours), String(n), dayparts], { encoding: "utf8", maxBuffer: 1 << 20 });
  return JSON.parse(out) as ChildResult;
}

function runChild(hours: number, n: number, dayparts: Dayparts): void {
  const schedule = randomSchedule(n, 1000 + n, dayparts);
  const to = FROM + hours * H;
  let started = performance.now();
  const items = plan({ schedule, from: FROM, to }).items.length;
  const coldMs = performance.now() - started;
  // The peak of one plan, as `ledagent schedule plan` makes it (the warm plan below may add its own garbage).
  const maxRssMiB = process.resourceUsage().maxRSS / 1024;
  started = performance.now();
  plan({ schedule, from: FROM, to });
  const warmMs = performance.now() - started;
  const result: ChildResult = { coldMs, warmMs, items, maxRssMiB };
  process.stdout.write(JSON.stringify(result) + "\n");
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const met = (value: number, target: number): string => (value <= target ? "met" : "MISSED");

/** First plans in fresh processes (cold) and month-long plans, each in a process of its own for its peak RSS. */
function coldAndMonth(report: BenchReport): void {
  const cold = [0, 1, 2].map(() => inChild(24, 500, "half"));
  const coldMs = median(cold.map((c) => c.coldMs));
  // The fixed cost of a first plan (module start-up, the JIT, the zone's first lookups): one campaign, one hour.
  const trivialMs = median([0, 1, 2].map(() => inChild(1, 1, "half").coldMs));
  const warm = median(cold.map((c) => c.warmMs));
  report.figure("planner", "plan 24h, 500 campaigns, cold", coldMs, "ms", `median of 3 fresh processes; baselines: warm in the same processes ${warm.toFixed(0)} ms, a cold 1 h × 1 campaign plan ${trivialMs.toFixed(0)} ms; target ≤ 200 ms cold: ${met(coldMs, 200)}`);
  for (const dayparts of ["none", "all"] as const) {
    const runs = [0, 1].map(() => inChild(744, 200, dayparts));
    const label = `plan 744h, 200 campaigns, ${dayparts === "none" ? "no dayparts" : "dayparts"}`;
    const ms = median(runs.map((c) => c.coldMs));
    const rss = Math.max(...runs.map((c) => c.maxRssMiB));
    report.figure("planner", `${label}, cold`, ms, "ms", `median of 2 fresh processes, ${runs[0].items} items; target ≤ 5000 ms: ${met(ms, 5000)}`);
    report.figure("planner", `${label}, warm`, median(runs.map((c) => c.warmMs)), "ms", "the same plan again in the same process");
    report.figure("planner", `${label}, peak RSS`, rss, "MiB", `largest of 2 processes, after the first plan; target ≤ 300 MB: ${met(rss * 1.048576, 300)}`);
  }
}

interface HeavyResult {
  coldMs: number;
  validateMs: number;
  planMs: number;
  jsonMs: number;
  items: number;
  maxRssMiB: number;
}

/** The heavy month as `schedule plan --schedule F --hours 744 --json` makes it, each run in a fresh process. */
function heavyMonth(report: BenchReport): void {
  const script = fileURLToPath(import.meta.url);
  const runs = [0, 1].map(() => JSON.parse(execFileSync(process.execPath, [script, "heavy", "744", "200"], { encoding: "utf8" })) as HeavyResult);
  const ms = median(runs.map((r) => r.coldMs));
  const rss = Math.max(...runs.map((r) => r.maxRssMiB));
  const parts = `validate ${median(runs.map((r) => r.validateMs)).toFixed(0)} ms, plan ${median(runs.map((r) => r.planMs)).toFixed(0)} ms, JSON ${median(runs.map((r) => r.jsonMs)).toFixed(0)} ms`;
  report.figure("planner", "schedule plan 744h, 200 realistic campaigns, cold", ms, "ms", `median of 2 fresh processes, ${runs[0].items} items (${parts}); target ≤ 5000 ms: ${met(ms, 5000)}`);
  report.figure("planner", "schedule plan 744h, 200 realistic campaigns, peak RSS", rss, "MiB", `largest of 2 processes; target ≤ 300 MB: ${met(rss * 1.048576, 300)}`);
}

/** The schedule at the limits: 2,000 campaigns × 18 plays an hour (36,000 summed, the most a document may ask). */
export function limitsSchedule(): PlanSchedule {
  const schedule = randomSchedule(2000, 3000, "none");
  return { ...schedule, campaigns: schedule.campaigns.map((c) => ({ ...c, playsPerHour: 18 })) };
}

/**
 * The schedule limits: milliseconds per planned hour, against an hour of the 24 h × 500 plan in the
 * same run, and a day at the limits in a fresh process for its peak RSS. Rule 5 keeps about one play
 * in 150 there; the rest are counted, never made.
 */
function atTheLimits(report: BenchReport): void {
  const limit = limitsSchedule();
  const hours = 3;
  let started = performance.now();
  const p = plan({ schedule: limit, from: FROM, to: FROM + hours * H });
  const perHour = (performance.now() - started) / hours;
  const normal = randomSchedule(500, 1500);
  started = performance.now();
  plan({ schedule: normal, from: FROM, to: TO });
  const normalPerHour = (performance.now() - started) / 24;
  const asked = 36_000 * hours;
  report.figure("planner", "plan at the limits (2,000 campaigns × 18 plays/h), per planned hour", perHour, "ms", `${hours} h planned, ${asked} plays asked, ${p.items.length} items, ${p.shortfalls.length} short periods; baseline: an hour of the 24 h × 500 plan ${normalPerHour.toFixed(1)} ms`);
  const script = fileURLToPath(import.meta.url);
  const day = JSON.parse(execFileSync(process.execPath, [script, "limits", "24"], { encoding: "utf8" })) as ChildResult;
  report.figure("planner", "plan 24h at the limits, cold", day.coldMs, "ms", `fresh process, ${36_000 * 24} plays asked, ${day.items} items; peak RSS ${day.maxRssMiB.toFixed(0)} MiB`);
}

function runLimitsChild(hours: number): void {
  const started = performance.now();
  const items = plan({ schedule: limitsSchedule(), from: FROM, to: FROM + hours * H }).items.length;
  const coldMs = performance.now() - started;
  const result: ChildResult = { coldMs, warmMs: NaN, items, maxRssMiB: process.resourceUsage().maxRSS / 1024 };
  process.stdout.write(JSON.stringify(result) + "\n");
}

export async function bench(report: BenchReport): Promise<void> {
  coldAndMonth(report);
  heavyMonth(report);
  atTheLimits(report);
  for (const n of [50, 500, 2000]) {
    const schedule = randomSchedule(n, 1000 + n);
    plan({ schedule, from: FROM, to: FROM + H }); // warm up the JIT on this shape
    const runs = n >= 2000 ? 3 : 5;
    const times: number[] = [];
    let result: Plan | undefined;
    for (let i = 0; i < runs; i++) {
      const start = performance.now();
      result = plan({ schedule, from: FROM, to: TO });
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    const p = result as Plan;
    const target = n === 500 ? ", target ≤ 200 ms" : "";
    report.figure("planner", `plan 24h, ${n} campaigns`, times[Math.floor(times.length / 2)], "ms", `median of ${runs}, ${p.items.length} items${target}`);
    const contractedByHour = contractedFrom(p);
    const ours = score(schedule, p.items, contractedByHour);
    const naive = score(schedule, roundRobin(schedule), contractedByHour);
    const missing = p.shortfalls.reduce((s, x) => s + x.missing, 0);
    report.figure("planner", `delivered fraction, ${n} campaigns`, ours.delivered, "", `round-robin baseline ${naive.delivered.toFixed(3)}; ${missing} plays short, all reported`);
    report.figure("planner", `separation violations, ${n} campaigns`, ours.violations, "", `round-robin baseline ${naive.violations}`);
  }
}

/**
 * The heavy month through `schedule plan --schedule F --json`'s own steps: the file's text parsed,
 * the document validated, the plan made and written out as JSON.
 */
function runHeavyChild(hours: number, n: number): void {
  const text = JSON.stringify(heavyMonthSchedule(n));
  const started = performance.now();
  const validation = validateDocument(JSON.parse(text));
  if (!validation.ok) throw new Error(`heavy schedule refused: ${validation.problems.slice(0, 3).join("; ")}`);
  const validatedAt = performance.now();
  const result = plan({ schedule: validation.document, from: MONTH_FROM, to: MONTH_FROM + hours * H });
  const plannedAt = performance.now();
  const bytes = JSON.stringify({ ...result, warnings: [] }, null, 2).length;
  const done = performance.now();
  const maxRssMiB = process.resourceUsage().maxRSS / 1024;
  const out = { coldMs: done - started, validateMs: validatedAt - started, planMs: plannedAt - validatedAt, jsonMs: done - plannedAt, items: result.items.length, shortfalls: result.shortfalls.length, bends: result.bends.length, bytes, maxRssMiB };
  process.stdout.write(JSON.stringify(out) + "\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [mode, a, b, c] = process.argv.slice(2);
  if (mode === "child") runChild(Number(a), Number(b), c as Dayparts);
  if (mode === "heavy") runHeavyChild(Number(a), Number(b));
  if (mode === "limits") runLimitsChild(Number(a));
  // The heavy month as a bare document, to plan with `ledagent schedule plan --schedule F`.
  if (mode === "write-heavy") writeFileSync(a, JSON.stringify(heavyMonthSchedule(Number(b ?? 200))));
}
