// `ledagent report delivery`: periods clipped to [from, to), only ended periods owed, local days,
// and the same owed count as the planner's rule 6.
import { describe, expect, it } from "vitest";
import { countDelivered, deliveryCsv, deliveryReport } from "../../../agent/playback/delivery/delivery.js";
import { plan } from "../../../agent/playback/planner/index.js";
import type { PlayEntry } from "../../../agent/proofs/types.js";
import { campaign, H, ms, schedule } from "./fixtures.js";
import { MIN } from "./edge-helpers.js";

const ZONE = "Asia/Shanghai";
const D = ms("2026-12-03T00:00:00+08:00"); // 2026-12-02T16:00Z
const s = schedule(
  [
    campaign("pepsi-dec", { playsPerHour: 6, makeGood: true, start: "2026-12-01T00:00:00+08:00", end: "2027-01-01T00:00:00+08:00" }),
    campaign("bank-daily", { playsPerHour: undefined, playsPerDay: 30, makeGood: true, start: "2026-12-01T00:00:00+08:00", end: "2027-01-01T00:00:00+08:00" }),
  ],
  { timezone: ZONE },
);

const play = (id: string, at: number, makeGood = false): PlayEntry =>
  ({
    kind: "play",
    play: { campaign: id, customer: `${id}-co`, creative: `${id}-15`, startedAt: new Date(at).toISOString(), status: "completed", makeGood, screenState: { verified: true, online: true, brightness: 80, blackout: false } },
  }) as PlayEntry;

const report = (from: number, to: number, plays: PlayEntry[] = [], appliedAt?: Record<string, number>) =>
  deliveryReport({ schedule: s, plays, from, to, controllerConfigured: true, appliedAt });
const row = (rows: ReturnType<typeof report>, id: string) => rows.find((r) => r.campaign === id);

describe("delivery report periods", () => {
  it("one second of a day contracts nothing: no whole hour or day is counted", () => {
    expect(report(D, D + 1000)).toEqual([]);
  });

  it("a partly covered hour and day count round(quota × covered fraction); nothing is owed before the period ends", () => {
    const rows = report(D, D + 30 * MIN);
    expect(row(rows, "pepsi-dec")).toMatchObject({ day: "2026-12-03", contracted: 3, shortfall: 3, owed: 0 });
    expect(row(rows, "bank-daily")).toMatchObject({ day: "2026-12-03", contracted: 1, shortfall: 1, owed: 0 }); // round(30 × 1/48)
  });

  it("ended hours are owed, the hour in progress is not; a day is owed only once it has ended", () => {
    const plays = [play("pepsi-dec", D + 5 * MIN), play("pepsi-dec", D + H + 5 * MIN)];
    const rows = report(D, D + H + 30 * MIN, plays);
    // Hour 0: 6 due, 1 delivered (5 owed). Hour 1, half covered: 3 due, 1 delivered, not owed yet.
    expect(row(rows, "pepsi-dec")).toMatchObject({ contracted: 9, delivered: 2, shortfall: 7, owed: 5 });
    const days = report(D, D + 36 * H, [play("bank-daily", D + H)]);
    expect(days.filter((r) => r.campaign === "bank-daily")).toEqual([
      { campaign: "bank-daily", customer: "bank-daily-co", day: "2026-12-03", contracted: 30, delivered: 1, makeGoods: 0, shortfall: 29, owed: 29 },
      { campaign: "bank-daily", customer: "bank-daily-co", day: "2026-12-04", contracted: 15, delivered: 0, makeGoods: 0, shortfall: 15, owed: 29 },
    ]);
  });

  it("the CSV day column is the local date in the schedule's zone, as in the table", () => {
    const csv = deliveryCsv(report(D, D + 2 * H));
    expect(csv.split("\n")[1]).toMatch(/^2026-12-03,/);
    expect(csv).not.toContain("T16:00");
  });

  it("report delivery and schedule plan agree on what is owed", () => {
    const applied = D + 2 * H + 20 * MIN;
    const now = D + 30 * H + 45 * MIN; // mid-hour of the second day
    const plays: PlayEntry[] = [];
    for (let t = applied; t < now; t += 10 * MIN) if ((t - D) % (3 * H) >= H) plays.push(play("pepsi-dec", t)); // one hour in three missed
    for (let t = applied; t < now; t += 48 * MIN) if (t < D + 20 * H) plays.push(play("bank-daily", t));
    plays.push(play("pepsi-dec", D + 26 * H, true), play("bank-daily", D + 27 * H, true));
    const appliedAt = { "pepsi-dec": applied, "bank-daily": applied };
    const rows = report(applied, now, plays, appliedAt);
    const delivered = countDelivered(plays, { zone: ZONE, controllerConfigured: true });
    const p = plan({ schedule: s, from: now, to: now + H, delivered, appliedAt });
    for (const id of ["pepsi-dec", "bank-daily"]) {
      const last = rows.filter((r) => r.campaign === id).at(-1);
      const owed = p.makeGoods.find((m) => m.campaign === id)?.owed ?? 0;
      expect(owed, id).toBeGreaterThan(0);
      expect(last?.owed, id).toBe(owed);
    }
  });
});
