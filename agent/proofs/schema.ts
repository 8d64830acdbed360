// The shape of a v1 entry (spec/proof-format.md) as one zod schema, used both before an append
// (the ledger never commits what a verifier would reject) and by the verifier.
import { z } from "zod";
import { EVENT_TYPES } from "./types.js";

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, "a lowercase hex SHA-256");
const utcMs = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, "an RFC 3339 UTC time with milliseconds");
const id = z.string().min(1);

const screenState = z
  .object({
    verified: z.boolean(),
    online: z.boolean(),
    brightness: z.number().int().min(0).max(100).nullable(),
    blackout: z.boolean().nullable(),
  })
  .strict();

export const playSchema = z
  .object({
    campaign: id,
    customer: id,
    creative: id,
    creativeSha256: hex64,
    renditionSha256: hex64,
    scheduleVersion: z.number().int().min(0),
    plannedAt: utcMs,
    startedAt: utcMs,
    endedAt: utcMs,
    durationMs: z.number().int().min(0),
    status: z.enum(["completed", "interrupted", "failed", "dark"]),
    makeGood: z.boolean(),
    screenState,
  })
  .strict();

export const eventSchema = z.looseObject({ type: z.enum(EVENT_TYPES) });

const base = {
  v: z.literal(1),
  seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  screen: id,
  at: utcMs,
  clock: z.object({ synced: z.boolean(), bootId: z.string(), monoMs: z.number().int() }).strict(),
  prev: hex64,
  sig: z.string(),
};

export const entrySchema = z.discriminatedUnion("kind", [
  z.object({ ...base, kind: z.literal("play"), play: playSchema }).strict(),
  z.object({ ...base, kind: z.literal("event"), event: eventSchema }).strict(),
]);

/** Why `x` is not a well-formed v1 entry (shape only, not signature or chain), or null. */
export function entryShapeProblem(x: unknown): string | null {
  if (typeof x !== "object" || x === null || Array.isArray(x)) return "not a JSON object";
  const r = entrySchema.safeParse(x);
  if (r.success) return null;
  const issue = r.error.issues[0];
  const where = issue.path.length ? issue.path.join(".") : "entry";
  if (issue.code === "unrecognized_keys") return `${where}: unexpected field ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}`;
  return `${where}: ${issue.message.replace(/^Invalid input: /, "")}`;
}

/** Why an append input is not something the ledger may commit, or null. */
export function appendProblem(input: { kind: string; play?: unknown; event?: unknown }): string | null {
  const r = input.kind === "play" ? playSchema.safeParse(input.play) : input.kind === "event" ? eventSchema.safeParse(input.event) : null;
  if (!r) return `kind ${JSON.stringify(input.kind)} is not "play" or "event"`;
  if (r.success) return null;
  const issue = r.error.issues[0];
  return `${input.kind}.${issue.path.join(".")}: ${issue.message.replace(/^Invalid input: /, "")}`;
}
