// The args of every command, strict: an unknown key is refused rather than ignored, so a typo
// (`precent`) never turns into "nothing happened, reported ok".
import { z } from "zod";
import { PATTERN_NAMES as CONTROLLER_PATTERNS } from "../drivers/novastar/registers.js";
import { PATTERN_NAMES as PLAYER_PATTERNS } from "../playback/creatives/patterns.js";

/** The same id rule as the schedule document's campaign and creative ids. */
const id = z.string().regex(/^[A-Za-z0-9._:@-]{1,128}$/, "an id of 1–128 letters, digits, '.', '_', ':', '@' or '-'");

/** RFC 3339 with an explicit offset: a bare local time would be read in the daemon's zone. */
const instant = z.iso.datetime({ offset: true, message: "an RFC 3339 time with an offset, e.g. 2026-12-01T08:00:00+08:00" });

/** One or more lines of text, without other control characters (they would garble logs). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what it refuses
const text = (max: number) => z.string().trim().min(1, "non-empty text").max(max).regex(/^[^\u0000-\u0009\u000b-\u001f\u007f]*$/, "text without control characters");

const times = z.int().min(1).max(100);

export const noArgs = z.strictObject({});

export const brightnessSetArgs = z.strictObject({
  percent: z.int().min(0).max(100),
  forMinutes: z.int().min(1).max(24 * 60).optional(),
});

export const blackoutArgs = z.strictObject({ on: z.boolean() });

export const suspendArgs = z.strictObject({
  reason: text(500),
  until: instant.optional(),
  // Bounded so the command.executed entry that records them stays well under the ledger's entry cap.
  campaigns: z.array(id).min(1).max(200).optional(),
  blackout: z.boolean().optional(),
});

export const takedownArgs = z
  .strictObject({
    campaign: id.optional(),
    creative: id.optional(),
    immediate: z.boolean().optional(),
    lift: z.boolean().optional(),
  })
  .superRefine((a, ctx) => {
    if ((a.campaign === undefined) === (a.creative === undefined)) {
      ctx.addIssue({ code: "custom", path: ["campaign"], message: "exactly one of campaign or creative" });
    }
    if (a.lift && a.immediate !== undefined) {
      ctx.addIssue({ code: "custom", path: ["immediate"], message: "no immediate with lift (a lift only ends the order)" });
    }
  });

export const playNowArgs = z.strictObject({ creative: id, times: times.optional() });

export const controllerPatternArgs = z.strictObject({ name: z.enum(CONTROLLER_PATTERNS as [string, ...string[]]) });

export const patternArgs = z.strictObject({
  name: z.enum(PLAYER_PATTERNS),
  seconds: z.int().min(1).max(3600).optional(),
});

export const testPlayArgs = z.strictObject({
  // Absolute: the daemon's working directory is not the technician's.
  // eslint-disable-next-line no-control-regex -- a NUL would cut the path short at the system call
  file: z.string().min(2).max(4096).regex(/^\/[^\u0000]*$/, "an absolute path"),
  times: times.optional(),
});

export const noteArgs = z.strictObject({
  text: text(2000),
  by: text(128).optional(),
});

export const restartArgs = z.strictObject({ reason: text(500).optional() });

/**
 * The envelope is not bounded here: its size is judged by the schedule's own check, which records
 * a too-large envelope as schedule.rejected like any other bad delivery. What can reach this far is
 * bounded by the control socket's line limit (protocol.ts). `source` is where it came from (a
 * path as the technician typed it), capped again in the events that record it.
 */
export const scheduleLoadArgs = z.strictObject({
  envelope: z.string(),
  source: z.string().min(1, "non-empty text").max(8192),
});

/** One line per problem, each naming the field: `percent: expected an integer in 0..100`. */
export function describeArgsIssues(error: z.ZodError, input: unknown): string {
  return error.issues.map((issue) => describeIssue(issue, input)).join("; ");
}

/** The value at a zod issue's path in the input, or undefined when the path leaves it. */
export function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let node = input;
  for (const key of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const field = issue.path.map(String).join(".");
  if (issue.code === "unrecognized_keys") return issue.keys.map((k) => `${field ? `${field}.` : ""}${k}: unknown argument`).join("; ");
  const name = field || "args";
  if (issue.code === "invalid_type" && valueAt(input, issue.path) === undefined) return `${name}: missing`;
  return `${name}: ${issue.message.replace(/^Invalid input: /, "")}`;
}
