/** lib: domain-free helpers. */
export { createLogger } from './logger.js';
export type { CreateLoggerOptions, LogLevel, Logger } from './logger.js';
