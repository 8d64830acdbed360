// The agent's config (spec/cli.md): a YAML file, overridden key by key by LEDAGENT_* variables,
// validated by one zod schema from which the TypeScript types come.
import { isAbsolute } from "node:path";
import { isMap, isPair, isScalar, isSeq, parseDocument, visit, YAMLParseError, type Document, type Node } from "yaml";
import { z } from "zod";
import { checkTrustedFile, readTrustedText, TrustedFileError } from "./store/trusted-file.js";

const hexColour = /^#[0-9a-fA-F]{6}$/;

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

// Relative paths would depend on where a command happens to run: a technician in the wrong
// directory would get an empty ledger, not the device's.
const absolutePath = z.string().refine((p) => isAbsolute(p), "an absolute path");

const controllerPort = z
  .string()
  .regex(/^(serial:\/\/\/.+|tcp:\/\/[^/:]+:\d{1,5}\/?)$/, "a serial:///dev/… or tcp://host:port URL");

export const configSchema = z
  .object({
    screenId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "1–64 letters, digits, '.', '_' or '-'"),
    dataDir: absolutePath.default("/var/lib/ledagent"),
    // Its sockets (control.sock, mpv.sock, a 19-byte temporary name) must fit a unix socket path:
    // 107 bytes. A longer one failed at start with a bare "mpv did not open its socket".
    runDir: absolutePath.refine((p) => Buffer.byteLength(p) <= 88, "at most 88 bytes, so that the sockets in it fit a unix socket path (108 bytes)").default("/run/ledagent"),
    timezone: z.string().refine(isTimeZone, "an IANA time zone such as Asia/Shanghai").default("UTC"),
    logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace"]).default("info"),
    panel: z
      .object({
        width: z.number().int().min(8).max(16384),
        height: z.number().int().min(8).max(16384),
        fps: z.number().int().min(1).max(120).default(30),
        fit: z.enum(["contain", "cover", "stretch"]).default("contain"),
        background: z.string().regex(hexColour, "a colour as #rrggbb").default("#000000"),
      })
      .strict(),
    mqtt: z
      .object({
        url: z.string().regex(/^(mqtts?|wss?):\/\/.+/, "an mqtt://, mqtts://, ws:// or wss:// URL"),
        username: z.string().optional(),
        passwordFile: absolutePath.optional(),
        ca: absolutePath.optional(),
        cert: absolutePath.optional(),
        key: absolutePath.optional(),
      })
      .strict()
      .optional(),
    opsPublicKey: absolutePath.optional(),
    controller: z
      .object({
        driver: z.enum(["novastar", "none"]).default("none"),
        port: controllerPort.optional(),
        pollIntervalS: z.number().min(1).max(3600).default(10),
        timeoutMs: z.number().int().min(50).max(60_000).default(1000),
        /** Sending unit in the daisy chain (NovaStar dst). */
        unit: z.number().int().min(0).max(254).default(0),
        /** Receiving cards whose state and temperature are read; the first stands for the screen. */
        monitoredCards: z
          .array(z.object({ port: z.number().int().min(0).max(3), board: z.number().int().min(0).max(0xfffe) }).strict())
          .min(1)
          .default([{ port: 0, board: 0 }]),
        temperatureLimitC: z.number().min(20).max(150).default(75),
      })
      .strict()
      .refine((c) => c.driver === "none" || c.port !== undefined, {
        message: "a port (serial:///dev/ttyUSB0?baud=115200 or tcp://host:5200) when a driver is set",
        path: ["port"],
      })
      .default({ driver: "none", pollIntervalS: 10, timeoutMs: 1000, unit: 0, monitoredCards: [{ port: 0, board: 0 }], temperatureLimitC: 75 }),
    player: z
      .object({
        backend: z.enum(["mpv"]).default("mpv"),
        output: z.object({ x: z.number().int(), y: z.number().int() }).strict().default({ x: 0, y: 0 }),
        headless: z.boolean().default(false),
      })
      .strict()
      .default({ backend: "mpv", output: { x: 0, y: 0 }, headless: false }),
    creatives: z
      .object({
        maxBytes: z.number().int().min(1).default(2 * 1024 ** 3),
        fetchTimeoutS: z.number().min(1).default(1800),
        durationToleranceMs: z.number().int().min(0).default(1000),
        audio: z.boolean().default(false),
        /** Largest source frame (width × height) probed before any transcode: 8K. */
        maxSourcePixels: z.number().int().min(64).default(7680 * 4320),
        /** Largest source pixel rate (width × height × fps): 8K at 60 fps. */
        maxSourcePixelRate: z.number().int().min(64).default(7680 * 4320 * 60),
        /** A fetch slower than this (bytes/s, averaged over minRateWindowS) is cut and retried. */
        minRateBytesPerS: z.number().int().min(0).default(16 * 1024),
        minRateWindowS: z.number().int().min(1).max(3600).default(30),
      })
      .strict()
      .default({
        maxBytes: 2 * 1024 ** 3,
        fetchTimeoutS: 1800,
        durationToleranceMs: 1000,
        audio: false,
        maxSourcePixels: 7680 * 4320,
        maxSourcePixelRate: 7680 * 4320 * 60,
        minRateBytesPerS: 16 * 1024,
        minRateWindowS: 30,
      }),
    telemetryIntervalS: z.number().int().min(5).max(86_400).default(60),
    checkpointIntervalS: z.number().int().min(60).max(86_400).default(3600),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

export const DEFAULT_CONFIG_PATH = "/etc/ledagent/config.yaml";

/** A config that cannot be used; the message names the key, the value and what is expected. */
export class ConfigError extends Error {
  constructor(
    message: string,
    readonly problems: string[] = [message],
  ) {
    super(message);
    this.name = "ConfigError";
  }
}

/** `--config F`, else $LEDAGENT_CONFIG, else /etc/ledagent/config.yaml. */
export function configPath(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return explicit ?? env.LEDAGENT_CONFIG ?? DEFAULT_CONFIG_PATH;
}

/** `panel.width` → `LEDAGENT_PANEL_WIDTH`; `telemetryIntervalS` → `LEDAGENT_TELEMETRY_INTERVAL_S`. */
export function envName(path: string[]): string {
  const words = path.flatMap((part) => part.replace(/([a-z0-9])([A-Z])/g, "$1_$2").split("_"));
  return ["LEDAGENT", ...words].join("_").toUpperCase();
}

type Leaf = { path: string[]; kind: "string" | "number" | "boolean" };

// Walks the schema for its leaves: the keys an environment variable can set.
function leaves(schema: z.ZodType, path: string[] = []): Leaf[] {
  const def = (schema as unknown as { def: { type: string; innerType?: z.ZodType; in?: z.ZodType; shape?: Record<string, z.ZodType> } }).def;
  switch (def.type) {
    case "optional":
    case "default":
    case "nullable":
      return leaves(def.innerType as z.ZodType, path);
    case "pipe":
      return leaves(def.in as z.ZodType, path);
    case "object":
      return Object.entries(def.shape ?? {}).flatMap(([k, v]) => leaves(v, [...path, k]));
    case "number":
      return [{ path, kind: "number" }];
    case "boolean":
      return [{ path, kind: "boolean" }];
    default:
      return [{ path, kind: "string" }];
  }
}

const configLeaves = leaves(configSchema);
const NOT_KEYS = new Set(["LEDAGENT_CONFIG"]);

/**
 * Numbers are written in plain decimal only: digits, an optional minus, an optional fraction.
 * YAML reads 0x10, 0o17, 1e3, .inf and (1.1) 010 as octal and 1_000 as numbers too, and Number()
 * takes "0x10", " 5" and "1e3": a technician who writes 010 meaning ten gets eight, silently.
 * This is a check on the text as written rather than a restricted YAML schema: the yaml
 * package's failsafe schema would turn every number and boolean into a string and lose the
 * type check the zod schema does, and its core schema cannot be told to refuse these spellings.
 */
const DECIMAL = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/;

function envValue(leaf: Leaf, name: string, raw: string): unknown {
  if (leaf.kind === "number") {
    if (!DECIMAL.test(raw)) throw new ConfigError(`${name}=${JSON.stringify(raw)}: expected a decimal number for ${leaf.path.join(".")}`);
    return Number(raw);
  }
  if (leaf.kind === "boolean") {
    if (/^(true|1|yes|on)$/i.test(raw)) return true;
    if (/^(false|0|no|off)$/i.test(raw)) return false;
    throw new ConfigError(`${name}=${JSON.stringify(raw)}: expected true or false for ${leaf.path.join(".")}`);
  }
  return raw;
}

/** Applies LEDAGENT_* overrides to a parsed (not yet validated) config object. */
export function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out = structuredClone(raw);
  const known = new Map(configLeaves.map((l) => [envName(l.path), l]));
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("LEDAGENT_") || NOT_KEYS.has(name) || value === undefined) continue;
    const leaf = known.get(name);
    if (!leaf) {
      throw new ConfigError(`${name}: not a config key (known: ${[...known.keys()].join(", ")})`);
    }
    let node: Record<string, unknown> = out;
    for (const key of leaf.path.slice(0, -1)) {
      const next = node[key];
      if (next === undefined || next === null) node[key] = {};
      else if (typeof next !== "object" || Array.isArray(next)) {
        throw new ConfigError(`${leaf.path.slice(0, -1).join(".")}: expected a mapping (to apply ${name})`);
      }
      node = node[key] as Record<string, unknown>;
    }
    node[leaf.path[leaf.path.length - 1]] = envValue(leaf, name, value);
  }
  return out;
}

function valueAt(obj: unknown, path: PropertyKey[]): unknown {
  let node = obj;
  for (const key of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const key = issue.path.map(String).join(".") || "(top level)";
  if (issue.code === "unrecognized_keys") {
    const where = issue.path.length ? `${key}.` : "";
    return issue.keys.map((k) => `${where}${k}: unknown key`).join("; ");
  }
  const value = valueAt(input, issue.path);
  const shown = value === undefined ? "missing" : JSON.stringify(value);
  const expected = issue.message.replace(/^Invalid (input|option): expected /, "").replace(/^Too (small|big): expected \w+ to be /, "");
  return `${key}: ${shown}: expected ${expected}`;
}

/** Validates a raw config object (YAML already parsed, overrides already applied). */
export function validateConfig(raw: unknown): Config {
  const result = configSchema.safeParse(raw);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => describeIssue(i, raw));
  throw new ConfigError(`bad config: ${problems.join("; ")}`, problems);
}

/** The dotted key of a node reached through `ancestors` (visit's path), for messages. */
function keyPath(ancestors: readonly unknown[], last: unknown): string {
  const parts: string[] = [];
  const chain = [...ancestors, last];
  for (let i = 0; i < chain.length; i++) {
    const node = chain[i];
    if (isPair(node)) parts.push(String(isScalar(node.key) ? node.key.value : node.key));
    else if (isSeq(node)) parts.push(String(node.items.indexOf(chain[i + 1] as Node)));
  }
  return parts.join(".");
}

/** Every number in the document not written in plain decimal, as "key: text" problems. */
function nonDecimalNumbers(doc: Document, text: string): string[] {
  const problems: string[] = [];
  visit(doc, {
    Scalar(key, node, ancestors) {
      if (key === "key" || typeof node.value !== "number" || !node.range) return;
      const written = text.slice(node.range[0], node.range[1]);
      if (!DECIMAL.test(written)) problems.push(`${keyPath(ancestors, node)}: ${written}: expected a decimal number (plain digits, e.g. 16 not 0x10)`);
    },
  });
  return problems;
}

/** Parses YAML text, applies the environment's overrides, validates. */
export function parseConfig(text: string, env: NodeJS.ProcessEnv = process.env, source = "config"): Config {
  const doc = parseDocument(text);
  const yamlError = doc.errors[0];
  if (yamlError) {
    const where = yamlError instanceof YAMLParseError && yamlError.linePos ? ` at line ${yamlError.linePos[0].line}` : "";
    throw new ConfigError(`${source}: not valid YAML${where}: ${yamlError.message.split("\n")[0]}`);
  }
  if (doc.contents !== null && !isMap(doc.contents)) {
    throw new ConfigError(`${source}: expected a mapping of keys at the top level, got ${JSON.stringify(doc.toJS())}`);
  }
  const numbers = nonDecimalNumbers(doc, text);
  if (numbers.length > 0) throw new ConfigError(`bad config: ${numbers.join("; ")}`, numbers);
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (err) {
    throw new ConfigError(`${source}: not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  return validateConfig(applyEnvOverrides(raw as Record<string, unknown>, env));
}

/**
 * The ops public key named by the config must be one that only root and the agent's user could
 * have put there (its mode, its owner, every directory on its path): whoever can rewrite or
 * replace it can sign schedules the screen will play. A key that does not exist yet is left to
 * the schedule loader to report; that loader reads the key as a trusted file too.
 */
export function checkOpsPublicKey(path: string): void {
  try {
    checkTrustedFile(path, { refuseWritableByOthers: true });
  } catch (err) {
    if (err instanceof TrustedFileError && err.code === "ENOENT") return;
    throw err;
  }
}

/**
 * Reads and validates the config file at `path`: a regular file of at most 1 MiB that only root
 * and the agent's user can rewrite or replace, through its mode, its owner or any directory on
 * its path (anyone else who could would point the agent at their own ops key).
 */
export function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readTrustedText(path, { refuseWritableByOthers: true });
  } catch (err) {
    if (!(err instanceof TrustedFileError)) throw err;
    const why = err.code === "ENOENT" ? `${path}: no such file (create one with \`ledagent init\`)` : err.message;
    throw new ConfigError(`config ${why}`);
  }
  const config = parseConfig(text, env, path);
  if (config.opsPublicKey !== undefined) {
    try {
      checkOpsPublicKey(config.opsPublicKey);
    } catch (err) {
      throw new ConfigError(`config ${path}: opsPublicKey: ${(err as Error).message}`);
    }
  }
  return config;
}
