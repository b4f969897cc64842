/**
 * Structured logging: pino, one JSON object per line. Each component gets a child logger
 * (`logger.child({ component: 'broker' })`) from the one created at start-up; nothing here
 * is global, so tests create their own logger writing to a buffer.
 */
import pino from 'pino';

/** pino's logger type, re-exported so other folders need not import pino. */
export type Logger = pino.Logger;

export type LogLevel = pino.LevelWithSilent;

export interface CreateLoggerOptions {
  /** A stream, or a file descriptor (1 = stdout, 2 = stderr). Default: stdout. */
  destination?: NodeJS.WritableStream | number;
}

/**
 * Creates the process logger at `level`, writing JSON lines to stdout or `opts.destination`.
 * Timestamps are ISO 8601 so logs read the same in a terminal and in a log store.
 */
export function createLogger(level: LogLevel, opts: CreateLoggerOptions = {}): Logger {
  const options = { level, timestamp: pino.stdTimeFunctions.isoTime };
  const dest = opts.destination ?? 1;
  // A file descriptor goes through pino's synchronous writer, so the last lines before an
  // exit (e.g. a start-up failure) are not lost in a buffer.
  return typeof dest === 'number' ? pino(options, pino.destination({ dest, sync: true })) : pino(options, dest);
}
