/**
 * The rules engine's configuration slice. The schema lives in core's config schema (the loader
 * validates the whole configuration once at boot); this module re-exports it.
 */
export { rulesConfigSchema } from '../core/index.js';
export type { RulesConfig } from '../core/index.js';
