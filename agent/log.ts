// The root logger: JSON lines on stdout for journald, pretty-printed when a person is watching.
// Parts take a child: `log.child({ part: "drivers" })`.
import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger };

export interface LogOptions {
  /** The config's `logLevel` (validated there, LEDAGENT_LOG_LEVEL included); default info. */
  level?: LevelWithSilent;
  /** Pretty output; defaults to "the output is a terminal". */
  pretty?: boolean;
  /** Where JSON lines go (tests pass a stream); defaults to stdout, or stderr with `stderr`. */
  destination?: NodeJS.WritableStream;
  /** Write to stderr (a command's own output owns stdout). */
  stderr?: boolean;
}

// Keys whose values never reach a log line, wherever they appear.
const REDACT = ["privateKey", "*.privateKey", "password", "*.password", "secret", "*.secret"];

// The level comes from the caller (the config's logLevel, which the config schema checks), never
// straight from the environment: an unchecked LEDAGENT_LOG_LEVEL=verbose made pino throw.
export function createLogger(opts: LogOptions = {}): Logger {
  const base = { level: opts.level ?? "info", redact: { paths: REDACT, censor: "[redacted]" } };
  const fd = opts.stderr ? 2 : 1;
  const pretty = opts.pretty ?? (opts.destination === undefined && (opts.stderr ? process.stderr : process.stdout).isTTY === true);
  if (pretty) {
    return pino({ ...base, transport: { target: "pino-pretty", options: { colorize: true, translateTime: "SYS:HH:MM:ss.l", destination: fd } } });
  }
  return pino(base, opts.destination ?? pino.destination({ fd, sync: true }));
}

const VERBOSITY: LevelWithSilent[] = ["silent", "fatal", "error", "warn", "info", "debug", "trace"];

/**
 * A command's logger: on stderr, so warnings a technician needs (a download retried, a controller
 * reconnecting) are seen, at `warn` unless the config asks for less, or for more detail than info.
 */
export function commandLogger(level: LevelWithSilent): Logger {
  const chosen = level === "info" ? "warn" : level;
  return createLogger({ level: VERBOSITY.includes(chosen) ? chosen : "warn", stderr: true });
}

/** A logger that writes nothing: for tests and for CLI commands that report on their own. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
