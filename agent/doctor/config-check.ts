// The config: found where (and why there), loaded and validated exactly as the agent does it
// (agent/config.ts), with the LEDAGENT_* overrides of the doctor's own environment named, since
// the agent under systemd may not have them.
import { readFileSync } from "node:fs";
import { ConfigError, configPath, loadConfig, parseConfig, type Config } from "../config.js";
import { fail, firstLine, ok, splitFix, type CheckResult } from "./types.js";

export interface ConfigCheckDeps {
  /** The global --config option, when given. */
  explicit?: string;
  env: NodeJS.ProcessEnv;
  load?: (path: string, env: NodeJS.ProcessEnv) => Config;
}

export interface ConfigCheck {
  result: CheckResult;
  /** The validated config, or null when it cannot be used (the checks that need it are skipped). */
  config: Config | null;
  path: string;
}

function source(deps: ConfigCheckDeps): string {
  if (deps.explicit !== undefined) return "--config";
  return deps.env.LEDAGENT_CONFIG !== undefined ? "$LEDAGENT_CONFIG" : "the default place";
}

function overrides(env: NodeJS.ProcessEnv): string[] {
  return Object.keys(env)
    .filter((k) => k.startsWith("LEDAGENT_") && k !== "LEDAGENT_CONFIG")
    .sort();
}

function fixFor(message: string, path: string): string {
  const own = splitFix(message).fix;
  if (own) return own;
  if (/no such file/.test(message)) return "write one with `ledagent init --screen ID …` (see `ledagent init --help`), or name the right file with --config FILE or LEDAGENT_CONFIG";
  if (/LEDAGENT_[A-Z_]+/.test(message)) return "correct or unset the LEDAGENT_… variable named above (`env | grep LEDAGENT_`)";
  if (/not valid YAML|mapping of keys/.test(message)) return `edit ${path} at the line named: YAML wants \`key: value\`, nested keys indented by two spaces`;
  // Run with sudo, the doctor reads it as the agent's user: then the agent cannot read it either.
  if (/permission denied/.test(message)) return `the agent's user must be able to read it (\`chgrp ledagent ${path} && chmod 640 ${path}\`); run the doctor with sudo so it reads it as that user`;
  return `edit ${path}: give each key named above a value of the kind expected (\`ledagent init --help\` lists them; \`ledagent init --force …\` writes a fresh commented config)`;
}

export function checkConfig(deps: ConfigCheckDeps): ConfigCheck {
  const path = configPath(deps.explicit, deps.env);
  const load = deps.load ?? loadConfig;
  try {
    const config = load(path, deps.env);
    const env = overrides(deps.env);
    const overridden = env.length === 0 ? "" : `, with ${env.join(", ")} from the environment`;
    return { result: ok("config", `${path} (screen ${config.screenId}; from ${source(deps)}${overridden})`), config, path };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const message = firstLine(err);
    return { result: fail("config", splitFix(message).detail, fixFor(message, path)), config: null, path };
  }
}

/**
 * The config's paths read without the trust checks (file owner and mode), only to find whose
 * files to judge: a config the doctor's user may not trust may well be the agent's. Null when it
 * cannot be read at all; the config check then says why.
 */
export function configForPaths(path: string, env: NodeJS.ProcessEnv): Config | null {
  try {
    return parseConfig(readFileSync(path, "utf8"), env, path);
  } catch {
    return null;
  }
}
