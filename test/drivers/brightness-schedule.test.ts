import { DateTime } from "luxon";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../agent/log.js";
import { BrightnessScheduler, brightnessAt, nextBoundary, parseBrightnessWindows, type BrightnessEvent } from "../../agent/drivers/brightness-schedule.js";
import { FakeTime } from "./fake-time.js";

const TZ = "Asia/Shanghai";
const DAY_NIGHT = [
  { from: "06:30", to: "18:30", percent: 85 },
  { from: "18:30", to: "06:30", percent: 35 },
];
const at = (iso: string, zone = TZ): number => DateTime.fromISO(iso, { zone }).toMillis();

describe("brightnessAt", () => {
  it("picks the window covering the local time, boundaries belonging to the window they start", () => {
    expect(brightnessAt(DAY_NIGHT, at("2025-06-01T06:29:59"), TZ)).toBe(35);
    expect(brightnessAt(DAY_NIGHT, at("2025-06-01T06:30:00"), TZ)).toBe(85);
    expect(brightnessAt(DAY_NIGHT, at("2025-06-01T18:29:00"), TZ)).toBe(85);
    expect(brightnessAt(DAY_NIGHT, at("2025-06-01T18:30:00"), TZ)).toBe(35);
    expect(brightnessAt(DAY_NIGHT, at("2025-06-01T00:00:00"), TZ)).toBe(35);
  });

  it("works in the schedule's time zone, not UTC", () => {
    // 23:00 UTC is 07:00 the next morning in Shanghai.
    expect(brightnessAt(DAY_NIGHT, Date.UTC(2025, 5, 1, 23, 0), TZ)).toBe(85);
    expect(brightnessAt(DAY_NIGHT, Date.UTC(2025, 5, 1, 23, 0), "UTC")).toBe(35);
  });

  it("returns null where no window covers, and treats from = to as the whole day", () => {
    expect(brightnessAt([{ from: "08:00", to: "09:00", percent: 10 }], at("2025-06-01T10:00"), TZ)).toBeNull();
    expect(brightnessAt([{ from: "08:00", to: "08:00", percent: 10 }], at("2025-06-01T03:00"), TZ)).toBe(10);
  });

  it("follows a DST change (Europe/Berlin spring forward)", () => {
    const windows = [{ from: "02:30", to: "07:00", percent: 20 }];
    expect(brightnessAt(windows, at("2025-03-30T03:10", "Europe/Berlin"), "Europe/Berlin")).toBe(20);
    const boundary = nextBoundary(windows, at("2025-03-30T01:00", "Europe/Berlin"), "Europe/Berlin");
    expect(DateTime.fromMillis(boundary as number, { zone: "Europe/Berlin" }).toFormat("HH:mm")).toBe("03:30");
  });

  it("finds the next boundary across midnight", () => {
    const next = nextBoundary(DAY_NIGHT, at("2025-06-01T19:00"), TZ);
    expect(next).toBe(at("2025-06-02T06:30"));
  });
});

describe("parseBrightnessWindows", () => {
  it.each([
    [[{ from: "6:30", to: "18:30", percent: 85 }], /brightness\[0\]\.from: a local time as HH:MM/],
    [[{ from: "06:30", to: "24:00", percent: 85 }], /brightness\[0\]\.to: a local time/],
    [[{ from: "06:30", to: "18:30", percent: 101 }], /brightness\[0\]\.percent/],
    [[{ from: "06:30", to: "18:30", percent: 50, extra: 1 }], /brightness\[0\]/],
    ["not a list", /brightness: /],
  ])("rejects %j with the entry named", (raw, message) => {
    expect(() => parseBrightnessWindows(raw)).toThrow(message);
  });

  it("accepts the spec's example", () => {
    expect(parseBrightnessWindows(DAY_NIGHT)).toEqual(DAY_NIGHT);
  });
});

function harness(start: number, failTimes = 0) {
  const time = new FakeTime(start);
  const applied: number[] = [];
  const events: BrightnessEvent[] = [];
  let failures = failTimes;
  const scheduler = new BrightnessScheduler({
    controller: {
      setBrightness: async (p: number) => {
        if (failures-- > 0) throw new Error("controller tcp://x did not answer within 3 s");
        applied.push(p);
      },
    },
    clock: time,
    timers: time,
    log: silentLogger(),
    onEvent: (e) => events.push(e),
  });
  return { time, applied, events, scheduler };
}

describe("BrightnessScheduler", () => {
  it("applies at start-up and then at each transition, once per change", async () => {
    const h = harness(at("2025-06-01T17:00"));
    await h.scheduler.setSchedule(DAY_NIGHT, TZ);
    await h.scheduler.start();
    expect(h.applied).toEqual([85]);
    await h.time.advance(24 * 3600_000);
    expect(h.applied).toEqual([85, 35, 85]);
    expect(h.events.filter((e) => e.type === "brightness.changed").map((e) => e.at)).toEqual([at("2025-06-01T17:00"), at("2025-06-01T18:30"), at("2025-06-02T06:30")]);
    h.scheduler.stop();
  });

  it("holds an override until it expires, then returns to the schedule", async () => {
    const h = harness(at("2025-06-01T12:00"));
    await h.scheduler.setSchedule(DAY_NIGHT, TZ);
    await h.scheduler.start();
    await h.scheduler.override(100, at("2025-06-01T12:30"));
    await h.time.advance(29 * 60_000);
    expect(h.applied).toEqual([85, 100]);
    await h.time.advance(2 * 60_000);
    expect(h.applied).toEqual([85, 100, 85]);
    const sources = h.events.map((e) => (e.type === "brightness.changed" ? e.source : "failed"));
    expect(sources).toEqual(["schedule", "override", "schedule"]);
    h.scheduler.stop();
  });

  it("a failed change is an event and is retried, never a throw", async () => {
    const h = harness(at("2025-06-01T12:00"), 1);
    await h.scheduler.setSchedule(DAY_NIGHT, TZ);
    await h.scheduler.start();
    expect(h.applied).toEqual([]);
    expect(h.events[0]).toMatchObject({ type: "brightness.failed", percent: 85, reason: /did not answer/ });
    await h.time.advance(30_000);
    expect(h.applied).toEqual([85]);
    h.scheduler.stop();
  });

  it("re-sends an unchanged target on request (after a controller power cycle)", async () => {
    const h = harness(at("2025-06-01T12:00"));
    await h.scheduler.setSchedule(DAY_NIGHT, TZ);
    await h.scheduler.start();
    await h.time.advance(60_000);
    expect(h.applied).toEqual([85]);
    await h.scheduler.reapply();
    expect(h.applied).toEqual([85, 85]);
    expect(h.scheduler.appliedPercent).toBe(85);
    h.scheduler.stop();
  });

  it("rejects an override that is out of range or already expired", () => {
    const h = harness(at("2025-06-01T12:00"));
    expect(() => h.scheduler.override(120, at("2025-06-01T13:00"))).toThrow(/0..100/);
    expect(() => h.scheduler.override(50, at("2025-06-01T11:00"))).toThrow(/not in the future/);
  });

  it("leaves the brightness alone where no window covers", async () => {
    const h = harness(at("2025-06-01T12:00"));
    await h.scheduler.setSchedule([{ from: "20:00", to: "21:00", percent: 40 }], TZ);
    await h.scheduler.start();
    expect(h.applied).toEqual([]);
    await h.time.advance(9 * 3600_000);
    expect(h.applied).toEqual([40]);
    h.scheduler.stop();
  });
});

describe("BrightnessScheduler keeps going after anything goes wrong", () => {
  it("a controller that rejects with no error at all does not stop brightness control for good", async () => {
    const time = new FakeTime(at("2025-06-01T12:00"));
    const applied: number[] = [];
    const events: BrightnessEvent[] = [];
    let failures = 1;
    const scheduler = new BrightnessScheduler({
      controller: {
        setBrightness: (p: number) => {
          // A driver bug: a rejection carrying nothing (not an Error).
          if (failures-- > 0) return Promise.reject(undefined as unknown as Error);
          applied.push(p);
          return Promise.resolve();
        },
      },
      clock: time,
      timers: time,
      log: silentLogger(),
      onEvent: (e) => events.push(e),
    });
    await scheduler.setSchedule(DAY_NIGHT, TZ);
    await scheduler.start();
    expect(events[0]).toMatchObject({ type: "brightness.failed", percent: 85, reason: "undefined" });
    await time.advance(30_000);
    expect(applied).toEqual([85]);
    await time.advance(7 * 3600_000); // past 18:30
    expect(applied).toEqual([85, 35]);
    scheduler.stop();
  });
});
