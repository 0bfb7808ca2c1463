/**
 * One pino logger per process. Structured keys follow klog conventions: `claim` (namespace/name),
 * `uid`, `gang`, `node`, `device`; errors always under `err`. Verbosity is klog-like (`-v`):
 * 0–2 info, 3–4 debug, 5+ trace.
 */
import { type Logger, pino } from 'pino';

export type { Logger } from 'pino';

export interface LoggerOptions {
  readonly component: string;
  readonly verbosity?: number;
  readonly node?: string;
  /** Destination stream; defaults to stderr so stdout stays free for command output. */
  readonly destination?: NodeJS.WritableStream;
}

export function levelForVerbosity(verbosity: number): pino.Level {
  if (verbosity >= 5) return 'trace';
  if (verbosity >= 3) return 'debug';
  return 'info';
}

export function createLogger(options: LoggerOptions): Logger {
  const base: Record<string, string> = { component: options.component };
  if (options.node !== undefined) base.node = options.node;
  return pino(
    {
      level: levelForVerbosity(options.verbosity ?? 2),
      base,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination(2),
  );
}

/** A logger that discards everything (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
