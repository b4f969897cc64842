/** http: the HTTP server, metrics, and (later) AWS protocol plumbing. */
export { createHttpApp } from './server.js';
export type { HttpAppOptions } from './server.js';
export { createMetrics } from './metrics.js';
export type { Metrics } from './metrics.js';
