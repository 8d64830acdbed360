// The signed schedule document (spec/schedule-format.md, format v1) as one zod schema: the
// TypeScript types and the JSON Schema in docs/ for ops tooling both come from it.
import { z } from "zod";
import * as limits from "./limits.js";

export const SCHEDULE_KIND = "ledagent.schedule/v1";

const id = z.string().regex(/^[A-Za-z0-9._:@-]{1,128}$/, "an id of 1–128 letters, digits, '.', '_', ':', '@' or '-'");
// RFC 3339 with an explicit offset, so a time means one instant whatever the agent's zone.
const instant = z.iso.datetime({ offset: true, message: "an RFC 3339 time with an offset, e.g. 2026-12-01T00:00:00+08:00" });
// A URL is one token: anchored at both ends, no whitespace or control characters anywhere (so
// nothing can ride after a newline), and an http(s) URL names a host.
// eslint-disable-next-line no-control-regex -- control characters are exactly what it refuses
const URL_PATTERN = /^(?:https?:\/\/[^\s/?#\x00-\x1f\x7f]|file:\/\/[^\s\x00-\x1f\x7f])[^\s\x00-\x1f\x7f]*$/;
const clockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "a clock time HH:MM (00:00–23:59)");

export const creativeSchema = z
  .object({
    id,
    url: z.string().max(limits.MAX_URL_CHARS).regex(URL_PATTERN, "an https:, http: or file: URL, one token without spaces or control characters"),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, "64 lowercase hex digits"),
    durationMs: z.number().int().min(1000).max(3_600_000),
    approved: z.boolean(),
  })
  .strict();

export const daypartSchema = z
  .object({
    days: z.array(z.number().int().min(1).max(7)).min(1).max(7),
    from: clockTime,
    to: clockTime,
  })
  .strict();

export const campaignSchema = z
  .object({
    id,
    customer: id,
    category: z.string().max(64).default(""),
    creatives: z.array(id).min(1).max(limits.MAX_CREATIVES_PER_CAMPAIGN),
    start: instant,
    end: instant,
    dayparts: z.array(daypartSchema).min(1).max(limits.MAX_DAYPARTS_PER_CAMPAIGN).optional(),
    playsPerHour: z.number().int().min(1).max(3600).optional(),
    playsPerDay: z.number().int().min(1).max(86_400).optional(),
    priority: z.number().int().min(0).max(1000).default(0),
    exclusive: z.boolean().default(false),
    separateFrom: z.array(z.string().max(64)).max(limits.MAX_SEPARATE_FROM).default([]),
    makeGood: z.boolean().default(false),
  })
  .strict();

export const suspensionSchema = z
  .object({
    from: instant,
    to: instant,
    reason: z.string().min(1).max(500),
    campaigns: z.array(id).max(limits.MAX_SUSPENSION_CAMPAIGNS).nullable(),
    blackout: z.boolean().default(false),
  })
  .strict();

export const brightnessSchema = z
  .object({ from: clockTime, to: clockTime, percent: z.number().int().min(0).max(100) })
  .strict();

export const scheduleDocumentSchema = z
  .object({
    kind: z.literal(SCHEDULE_KIND),
    screen: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "a screenId"),
    version: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    issuedAt: instant,
    timezone: z.string().min(1).max(limits.MAX_TIMEZONE_CHARS),
    creatives: z.array(creativeSchema).max(limits.MAX_CREATIVES),
    campaigns: z.array(campaignSchema).max(limits.MAX_CAMPAIGNS),
    fill: z.array(id).min(1, "at least one fill creative, so the timeline never has a gap").max(limits.MAX_FILL),
    suspensions: z.array(suspensionSchema).max(limits.MAX_SUSPENSIONS).default([]),
    brightness: z.array(brightnessSchema).max(limits.MAX_BRIGHTNESS_STEPS).default([]),
  })
  .strict();

export const scheduleEnvelopeSchema = z
  .object({
    schedule: scheduleDocumentSchema,
    sig: z.string().describe("base64 Ed25519 signature over canonical(schedule) by the ops key"),
  })
  .strict();

export type ScheduleDocument = z.infer<typeof scheduleDocumentSchema>;
export type ScheduleCampaign = z.infer<typeof campaignSchema>;
export type ScheduleCreative = z.infer<typeof creativeSchema>;
export type ScheduleSuspension = z.infer<typeof suspensionSchema>;

/** What ops receive as docs/schedule.schema.json: the envelope, with the document inside. */
export function scheduleJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(scheduleEnvelopeSchema, { io: "input" }) as Record<string, unknown>;
  return { ...schema, title: "ledagent signed schedule envelope (ledagent.schedule/v1)" };
}
