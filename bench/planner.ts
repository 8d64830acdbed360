// Planner figures: time to plan 24 h for 50, 500 and 2,000 campaigns (target ≤ 200 ms at 500,
// also cold: the first plan in a fresh process), a month of 200 campaigns with and without
// dayparts (targets ≤ 5 s and ≤ 300 MB peak RSS, each in a process of its own), and what the plan
// delivers against a naive round-robin baseline on the same random schedules.
// `node planner.js child HOURS CAMPAIGNS DAYPARTS` plans once cold and once warm and prints JSON.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { plan, type Plan, type PlanCampaign, type PlanItem, type PlanSchedule } from "../agent/playback/planner/index.js";
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

function randomSchedule(n: number, seed: number, dayparts: Dayparts = "half"): PlanSchedule {
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
  report.figure("planner", "plan 24h, 500 campaigns, cold", coldMs, "ms", `median of 3 fresh processes, warm in the same processes ${median(cold.map((c) => c.warmMs)).toFixed(0)} ms; target ≤ 200 ms cold: ${met(coldMs, 200)}`);
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

export async function bench(report: BenchReport): Promise<void> {
  coldAndMonth(report);
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

if (process.argv[2] === "child" && process.argv[1] === fileURLToPath(import.meta.url)) {
  runChild(Number(process.argv[3]), Number(process.argv[4]), process.argv[5] as Dayparts);
}
