// The root logger: JSON lines on stdout for journald, pretty-printed when a person is watching.
// Parts take a child: `log.child({ part: "drivers" })`.
import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger };

export interface LogOptions {
  level?: LevelWithSilent;
  /** Pretty output; defaults to "stdout is a terminal". */
  pretty?: boolean;
  /** Where JSON lines go (tests pass a stream); defaults to stdout. */
  destination?: NodeJS.WritableStream;
}

// Keys whose values never reach a log line, wherever they appear.
const REDACT = ["privateKey", "*.privateKey", "password", "*.password", "secret", "*.secret"];

export function createLogger(opts: LogOptions = {}): Logger {
  const level = opts.level ?? ((process.env.LEDAGENT_LOG_LEVEL as LevelWithSilent | undefined) ?? "info");
  const base = { level, redact: { paths: REDACT, censor: "[redacted]" } };
  const pretty = opts.pretty ?? (opts.destination === undefined && process.stdout.isTTY === true);
  if (pretty) {
    return pino({ ...base, transport: { target: "pino-pretty", options: { colorize: true, translateTime: "SYS:HH:MM:ss.l" } } });
  }
  return opts.destination ? pino(base, opts.destination) : pino(base);
}

/** A logger that writes nothing: for tests and for CLI commands that report on their own. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
