// The signed command envelope of spec/mqtt-api.md "Commands", as the ops side builds it and as the
// agent checks it. The checks run cheapest first, and nothing that needs trust (the screen, the
// times) is looked at before the signature verified: a forger learns only "bad-signature".
import { randomUUID, type KeyObject } from "node:crypto";
import { z } from "zod";
import { canonicalSha256, signCanonical, verifyCanonical } from "../crypto/index.js";
import { valueAt } from "../commands/args.js";
import type { LinkRefusalCode } from "./types.js";

/** The most a command delivery may weigh; bigger ones are refused before they are parsed. */
export const MAX_COMMAND_BYTES = 64 * 1024;
/** How far ahead of the agent's clock `issuedAt` may be (clock skew between ops and the screen). */
export const MAX_ISSUED_AHEAD_MS = 5 * 60_000;
/**
 * The longest a command may stay valid. The replay store keeps ids for 7 days past expiry; capping
 * validity too means no accepted command can outlive every record of its id, whatever a later
 * change to either number.
 */
export const MAX_COMMAND_VALIDITY_MS = 7 * 24 * 3600_000;
/** Ids are echoed in replies and logs, and are the replay store's key: short and plain. */
export const COMMAND_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
/** The default validity of a command the ops side issues (s). */
export const DEFAULT_VALIDITY_S = 300;

/** Refusal messages travel to the sender and into the ledger: one line, bounded. */
const MAX_MESSAGE_CHARS = 500;

const commandBodySchema = z.strictObject({
  id: z.string(),
  screen: z.string(),
  name: z.string(),
  // Absent reads as {} (the registry's rule for a command without args).
  args: z.record(z.string(), z.unknown()).optional(),
  issuedAt: z.string(),
  expiresAt: z.string(),
});

const envelopeSchema = z.strictObject({
  command: commandBodySchema,
  // Optional here so an envelope without one is refused as unsigned, not as malformed.
  sig: z.string().optional(),
});

/** RFC 3339 with seconds and an offset (Z or ±hh:mm); zod also checks the calendar (no Feb 30). */
const rfc3339 = z.iso.datetime({ offset: true });

export type CommandBody = z.infer<typeof commandBodySchema>;

export interface CommandEnvelope {
  command: CommandBody;
  sig: string;
}

export interface CommandCheckContext {
  /** The ops public key; null when none is configured (then nothing is accepted). */
  opsPublicKey: KeyObject | null;
  screenId: string;
  /** The agent's wall clock, UTC ms. */
  nowMs: number;
}

export interface CommandRefusal {
  ok: false;
  code: LinkRefusalCode;
  message: string;
  /** The command's id when it could be read (even unverified: it is only echoed back), else null. */
  id: string | null;
  /**
   * Present only when the ops signature verified: the refusal is then the ops side's own doing
   * (wrong screen, expired …) and worth recording command by command; a forgery never is.
   */
  signed?: { name: string; digest: string; expiresAtMs: number | null };
}

export type CommandCheck = { ok: true; command: CommandBody; digest: string } | CommandRefusal;

export interface NewCommandOptions {
  screen: string;
  name: string;
  args?: Record<string, unknown>;
  /** How long it stays valid from `now` (s); default 300, at most 7 days. */
  validForS?: number;
  /** UTC ms; default the wall clock. */
  now?: number;
  /** Default a random UUID. */
  id?: string;
}

/** A command body for the ops side to sign; throws RangeError on an id or validity the agent would refuse. */
export function newCommand(opts: NewCommandOptions): CommandBody {
  const validForS = opts.validForS ?? DEFAULT_VALIDITY_S;
  const now = opts.now ?? Date.now();
  const id = opts.id ?? randomUUID();
  if (!COMMAND_ID_PATTERN.test(id)) throw new RangeError(`command id ${JSON.stringify(id)} is not 1–128 of A–Z a–z 0–9 . _ : -`);
  if (!Number.isFinite(validForS) || validForS <= 0 || validForS * 1000 > MAX_COMMAND_VALIDITY_MS) {
    throw new RangeError(`validForS must be more than 0 and at most ${MAX_COMMAND_VALIDITY_MS / 1000} (7 days); got ${validForS}`);
  }
  return {
    id,
    screen: opts.screen,
    name: opts.name,
    args: opts.args ?? {},
    issuedAt: new Date(now).toISOString(),
    expiresAt: new Date(now + Math.round(validForS * 1000)).toISOString(),
  };
}

/** The envelope: the command and a base64 Ed25519 signature over canonical(command). */
export function signCommand(command: CommandBody, opsPrivateKey: KeyObject): CommandEnvelope {
  return { command, sig: signCanonical(command, opsPrivateKey) };
}

/** Every check of spec/mqtt-api.md short of the replay check, which needs the store. */
export function checkCommandEnvelope(bytes: Buffer, ctx: CommandCheckContext): CommandCheck {
  if (bytes.length > MAX_COMMAND_BYTES) {
    return refuse("too-large", `the command is ${bytes.length} bytes; at most ${MAX_COMMAND_BYTES} are read`, null);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString("utf8"));
  } catch (err) {
    return refuse("malformed", `not JSON: ${(err as Error).message}`, null);
  }
  const id = readableId(raw);
  const shape = envelopeSchema.safeParse(raw);
  if (!shape.success) return refuse("malformed", `not a command envelope: ${describeShapeIssues(shape.error, raw)}`, id);
  const { command, sig } = shape.data;
  // JSON.parse keeps "__proto__" as a key, the signature covers it, and the schema drops it: the
  // command that ran would not be the one signed.
  if (hasProtoKey((raw as { command: unknown }).command)) return refuse("malformed", "a key named __proto__ is not allowed in a command", id);
  if (!COMMAND_ID_PATTERN.test(command.id)) {
    return refuse("malformed", "command.id: expected 1–128 characters of A–Z a–z 0–9 . _ : -", null);
  }
  const unsigned = signatureProblem((raw as { command: unknown }).command, sig, ctx.opsPublicKey);
  if (unsigned) return refuse("bad-signature", unsigned, id);
  return checkSignedCommand(command, canonicalSha256(raw), ctx);
}

/** The checks that trust what the ops key signed: screen, then times. */
function checkSignedCommand(command: CommandBody, digest: string, ctx: CommandCheckContext): CommandCheck {
  const issuedAtMs = instantOf(command.issuedAt);
  const expiresAtMs = instantOf(command.expiresAt);
  const signed = { name: command.name, digest, expiresAtMs };
  const refuseSigned = (code: LinkRefusalCode, message: string): CommandRefusal => ({ ...refuse(code, message, command.id), signed });
  if (command.screen !== ctx.screenId) {
    return refuseSigned("wrong-screen", `the command is for screen ${clip(command.screen, 64)}; this is ${ctx.screenId}`);
  }
  if (issuedAtMs === null) return refuseSigned("malformed", `command.issuedAt: expected an RFC 3339 time with an offset, got ${clip(JSON.stringify(command.issuedAt), 40)}`);
  if (expiresAtMs === null) return refuseSigned("malformed", `command.expiresAt: expected an RFC 3339 time with an offset, got ${clip(JSON.stringify(command.expiresAt), 40)}`);
  if (expiresAtMs <= issuedAtMs) return refuseSigned("malformed", `command.expiresAt ${command.expiresAt} is not after issuedAt ${command.issuedAt}`);
  if (expiresAtMs - issuedAtMs > MAX_COMMAND_VALIDITY_MS) {
    return refuseSigned("malformed", `the command is valid for ${formatSpan(expiresAtMs - issuedAtMs)}; at most 7 days are accepted, the time this agent remembers command ids`);
  }
  if (expiresAtMs <= ctx.nowMs) {
    return refuseSigned("expired", `the command expired at ${command.expiresAt} (${formatSpan(ctx.nowMs - expiresAtMs)} before this agent's clock, ${iso(ctx.nowMs)})`);
  }
  if (issuedAtMs > ctx.nowMs + MAX_ISSUED_AHEAD_MS) {
    return refuseSigned("not-yet-valid", `the command was issued at ${command.issuedAt}, ${formatSpan(issuedAtMs - ctx.nowMs)} ahead of this agent's clock (${iso(ctx.nowMs)}); at most 5 min are allowed`);
  }
  return { ok: true, command, digest };
}

function signatureProblem(command: unknown, sig: string | undefined, key: KeyObject | null): string | null {
  if (sig === undefined) return "unsigned: the envelope has no sig";
  if (!key) return "this agent has no opsPublicKey configured, so no command signature can be verified";
  let valid: boolean;
  try {
    valid = verifyCanonical(command, sig, key);
  } catch {
    valid = false; // a value with no canonical form (a lone surrogate) carries no valid signature
  }
  return valid ? null : "the signature does not verify under the ops key (signed by another key, or the command was changed after signing)";
}

/** The id as far as it can be read from anything, for echoing back; never trusted. */
function readableId(raw: unknown): string | null {
  if (typeof raw !== "object" || raw === null) return null;
  const command = (raw as Record<string, unknown>).command;
  if (typeof command !== "object" || command === null) return null;
  const id = (command as Record<string, unknown>).id;
  return typeof id === "string" && COMMAND_ID_PATTERN.test(id) ? id : null;
}

function instantOf(text: string): number | null {
  if (!rfc3339.safeParse(text).success) return null;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : null;
}

/** One clause per problem, each naming the field: `command.expiresAt: missing`. */
function describeShapeIssues(error: z.ZodError, input: unknown): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const field = issue.path.map(String).join(".");
      if (issue.code === "unrecognized_keys") return issue.keys.map((k) => `${field ? `${field}.` : ""}${clip(k, 40)}: unknown field`).join("; ");
      const name = field || "the envelope";
      if (issue.code === "invalid_type" && valueAt(input, issue.path) === undefined) return `${name}: missing`;
      return `${name}: ${issue.message.replace(/^Invalid input: /, "")}`;
    })
    .join("; ");
}

function refuse(code: LinkRefusalCode, message: string, id: string | null): CommandRefusal {
  return { ok: false, code, message: clip(message, MAX_MESSAGE_CHARS), id };
}

function formatSpan(ms: number): string {
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 2 * 3600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 2 * 86_400_000) return `${Math.round(ms / 3600_000)} h`;
  return `${Math.round(ms / 86_400_000)} days`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function hasProtoKey(value: unknown, depth = 0): boolean {
  if (value === null || typeof value !== "object" || depth > 64) return false;
  if (Object.prototype.hasOwnProperty.call(value, "__proto__")) return true;
  return Object.values(value).some((v) => hasProtoKey(v, depth + 1));
}
