// The demo's schedule document (spec/schedule-format.md), as ops would publish it: every creative
// served over HTTP with its hash, the ads' campaigns from now for a day, house content as fill,
// and a day/night brightness schedule. Pure.
import { DEMO_ADS, DEMO_FILL, type DemoMedia } from "./media.js";

export interface DemoScheduleInput {
  screen: string;
  version: number;
  now: number;
  /** Where the demo's HTTP server serves the media, e.g. http://127.0.0.1:8080/media/. */
  baseUrl: string;
  media: readonly DemoMedia[];
  timezone: string;
}

export function demoSchedule(input: DemoScheduleInput): Record<string, unknown> {
  // From the start of this minute: nothing is owed from before the demo began.
  const start = Math.floor(input.now / 60_000) * 60_000;
  const end = start + 24 * 3_600_000;
  const media = new Map(input.media.map((m) => [m.id, m]));
  const creative = (id: string): Record<string, unknown> => {
    const m = media.get(id);
    if (!m) throw new Error(`no demo media for ${id}`);
    return { id, url: new URL(m.file.split("/").pop() ?? id, input.baseUrl).href, sha256: m.sha256, durationMs: m.durationMs, approved: true };
  };
  return {
    kind: "ledagent.schedule/v1",
    screen: input.screen,
    version: input.version,
    issuedAt: new Date(input.now - 1000).toISOString(),
    timezone: input.timezone,
    creatives: [...DEMO_ADS.map((a) => creative(a.creative)), ...DEMO_FILL.map(creative)],
    campaigns: DEMO_ADS.map((a) => ({
      id: a.campaign,
      customer: a.customer,
      category: a.category,
      separateFrom: a.separateFrom,
      creatives: [a.creative],
      start: new Date(start).toISOString(),
      end: new Date(end).toISOString(),
      playsPerHour: a.playsPerHour,
      priority: 5,
      makeGood: true,
    })),
    fill: [...DEMO_FILL],
    suspensions: [],
    brightness: [
      { from: "06:30", to: "19:00", percent: 85 },
      { from: "19:00", to: "06:30", percent: 40 },
    ],
  };
}
