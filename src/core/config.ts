/**
 * The config loader: merges command-line flags > THINGPORT_* environment > thingport.yaml >
 * schema defaults, validates the result once and returns it frozen. It is the only module
 * that reads the environment (it is handed `env`, it does not reach for process.env itself),
 * and it never throws for bad input: every problem comes back as one line naming the
 * setting and where its value came from, all of them at once, so a user fixes them in one go.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import type { ZodIssue } from 'zod';
import { readEnv, readFlags, type Assignment, type SourceReading } from './config-args.js';
import { describeSettings, findSetting, listFields, type SettingField } from './config-fields.js';
import { configSchema, type ThingportConfig } from './config-schema.js';
import { readYaml } from './config-yaml.js';

export interface LoadConfigInput {
  /** Arguments after the subcommand, e.g. `['--mqtt-port', '0']`. */
  argv: readonly string[];
  env: NodeJS.ProcessEnv;
  /** Directory that relative paths (the YAML file, dataDir) are resolved against. */
  cwd: string;
}

export type LoadConfigResult =
  | { ok: true; config: ThingportConfig; configFile: string | null }
  | { ok: false; problems: string[] };

/** The default file, read when present and no other file is named. */
const DEFAULT_CONFIG_FILE = 'thingport.yaml';

/** Derived once from the schema; read-only data, not state. */
const SETTINGS = describeSettings(configSchema);
const FIELDS_BY_KEY: ReadonlyMap<string, SettingField> = new Map(listFields(SETTINGS).map((f) => [f.key, f]));

/** What the aws-strict profile turns off (AWS IoT Core lacks QoS 2 and subscription identifiers), unless set explicitly. */
const AWS_STRICT_OVERRIDES: ReadonlyArray<readonly [string, unknown]> = [
  ['mqtt.maxQos', 1],
  ['mqtt.subscriptionIdentifiers', false],
];

/**
 * Loads and validates the configuration. Precedence: CLI flags > THINGPORT_* environment >
 * the YAML file (`--config FILE`, THINGPORT_CONFIG, or ./thingport.yaml if present) > defaults.
 * On success `config` is deeply frozen, `dataDir` is absolute, and `configFile` is the absolute
 * path of the YAML file read (or null).
 */
export function loadConfig(input: LoadConfigInput): LoadConfigResult {
  const flags = readFlags(input.argv, SETTINGS);
  const env = readEnv(input.env, SETTINGS);
  const file = readConfigFile(flags.configFile ?? env.configFile, input.cwd);
  const problems = [...flags.problems, ...env.problems, ...file.reading.problems];

  // Later sources override earlier ones, key by key.
  const merged = new Map<string, Assignment>();
  for (const a of [...file.reading.assignments, ...env.assignments, ...flags.assignments]) merged.set(a.field.key, a);
  applyProfile(merged);

  const parsed = configSchema.safeParse(buildObject(merged));
  if (!parsed.success) problems.push(...describeIssues(parsed.error.issues, merged));
  if (!parsed.success || problems.length > 0) return { ok: false, problems };

  const config: ThingportConfig = { ...parsed.data, dataDir: resolve(input.cwd, parsed.data.dataDir) };
  return { ok: true, config: deepFreeze(config), configFile: file.path };
}

/** Reads the named YAML file (a problem if missing) or the default one (fine if missing). */
function readConfigFile(
  named: { path: string; origin: string } | null,
  cwd: string,
): { path: string | null; reading: SourceReading } {
  const empty: SourceReading = { assignments: [], problems: [], configFile: null };
  const path = resolve(cwd, named?.path ?? DEFAULT_CONFIG_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!named && code === 'ENOENT') return { path: null, reading: empty };
    const why = code === 'ENOENT' ? 'file not found' : `cannot read file (${code ?? String(err)})`;
    const from = named ? named.origin : 'the default config file';
    return { path: null, reading: { ...empty, problems: [`config: ${why}: ${path} (from ${from})`] } };
  }
  return { path, reading: readYaml(text, displayPath(path, cwd), SETTINGS) };
}

/** A path as short as it can be while unambiguous: relative when inside cwd. */
function displayPath(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

function applyProfile(merged: Map<string, Assignment>): void {
  if (merged.get('profile')?.value !== 'aws-strict') return;
  for (const [key, value] of AWS_STRICT_OVERRIDES) {
    const field = FIELDS_BY_KEY.get(key);
    if (field && !merged.has(key)) merged.set(key, { field, value, origin: 'profile "aws-strict"' });
  }
}

/** Nests the dotted assignments into the object shape the schema parses. */
function buildObject(merged: ReadonlyMap<string, Assignment>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const { field, value } of merged.values()) {
    let target = root;
    for (const seg of field.path.slice(0, -1)) {
      target[seg] ??= {};
      target = target[seg] as Record<string, unknown>;
    }
    target[field.path[field.path.length - 1]] = value;
  }
  return root;
}

/** One problem line per setting, phrased by the setting's own description of a valid value. */
function describeIssues(issues: readonly ZodIssue[], merged: ReadonlyMap<string, Assignment>): string[] {
  const byKey = new Map<string, string>();
  for (const issue of issues) {
    // Drop array indices: a bad list element is reported against the list setting.
    const path = issue.path.filter((p): p is string => typeof p === 'string');
    const node = findSetting(SETTINGS, path);
    const key = node?.key ?? path.join('.');
    if (byKey.has(key)) continue;
    const field = node?.type === 'field' ? node : undefined;
    const origin = merged.get(key)?.origin ?? 'default';
    byKey.set(key, `${key || 'config'}: ${issueMessage(issue, field)} (from ${origin})`);
  }
  return [...byKey.values()];
}

function issueMessage(issue: ZodIssue, field: SettingField | undefined): string {
  if (!field) return issue.message;
  if (field.kind !== 'string') return field.expect;
  // Messages written in the schema (regex checks) already read as "must ...".
  if (issue.code === 'invalid_string' || issue.code === 'custom') return issue.message;
  if (issue.code === 'too_small') return 'must not be empty';
  return field.expect;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
