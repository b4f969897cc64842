/**
 * Reads settings from command-line flags and THINGPORT_* environment variables. Both give
 * text, coerced here by each setting's type; validation happens once, after merging, in config.ts.
 */
import {
  coerceText,
  findSetting,
  listFields,
  normalizeName,
  showValue,
  suggest,
  toKebab,
  toUpperSnake,
  type SettingField,
  type SettingGroup,
} from './config-fields.js';

/** One value for one setting, and where it came from (quoted in problem messages). */
export interface Assignment {
  readonly field: SettingField;
  readonly value: unknown;
  /** e.g. `--mqtt-port "abc"`, `THINGPORT_MQTT_PORT="abc"`, `thingport.yaml:3 "abc"`. */
  readonly origin: string;
}

/** What one source contributed: values in the order given (later wins), and problems found. */
export interface SourceReading {
  assignments: Assignment[];
  problems: string[];
  /** A YAML file named by `--config` or THINGPORT_CONFIG. */
  configFile: { path: string; origin: string } | null;
}

/** Short flag spellings documented besides the schema keys (normalized name -> schema path). */
const FLAG_ALIASES: Readonly<Record<string, readonly string[]>> = {
  tlshostname: ['tlsHostnames'],
  allowanonymous: ['mqtt', 'allowAnonymous'],
};

/** After a boolean flag, only these words are taken as its value; anything else is the next flag. */
const BOOLEAN_WORDS = new Set(['true', 'false', '1', '0']);

const ENV_PREFIX = 'THINGPORT_';
/** THINGPORT_* variables that are not settings: read by the CLI, or reserved for tests. */
const ENV_NOT_SETTINGS = new Set(['THINGPORT_DEBUG']);
const ENV_IGNORED_PREFIX = 'THINGPORT_TEST_';

function flagName(field: SettingField): string {
  return `--${field.path.map(toKebab).join('.')}`;
}

function envName(path: readonly string[]): string {
  return ENV_PREFIX + path.map(toUpperSnake).join('__');
}

function didYouMean(name: string, candidates: readonly string[]): string {
  const hint = suggest(name, candidates);
  return hint ? `; did you mean ${hint}?` : '';
}

/**
 * Parses `--name value` and `--name=value` flags, where name is a top-level key (`--mqtt-port`),
 * a dotted nested key (`--mqtt.max-qos`, `--mqtt.maxQos`) or a documented alias. A boolean
 * flag alone means true. A repeated list flag (`--tls-hostname`) accumulates; any other
 * repeated flag keeps its last value.
 */
export function readFlags(argv: readonly string[], root: SettingGroup): SourceReading {
  const out: SourceReading = { assignments: [], problems: [], configFile: null };
  const lists = new Map<string, unknown[]>();
  const known = [...listFields(root).map(flagName), '--tls-hostname', '--allow-anonymous', '--config'];
  const nextIsValue = (i: number): boolean => i + 1 < argv.length && !argv[i + 1].startsWith('--');

  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (!token.startsWith('--') || token === '--') {
      out.problems.push(`${showValue(token)}: unexpected argument (from command line); settings are given as --name value`);
      continue;
    }
    const eq = token.indexOf('=');
    const name = eq === -1 ? token.slice(2) : token.slice(2, eq);
    const inline = eq === -1 ? undefined : token.slice(eq + 1);
    const flag = `--${name}`;

    if (normalizeName(name) === 'config') {
      const path = inline ?? (nextIsValue(i) ? argv[++i] : undefined);
      if (path === undefined || path === '') out.problems.push(`config: missing file name (from ${flag})`);
      else out.configFile = { path, origin: `${flag} ${showValue(path)}` };
      continue;
    }

    const node = findSetting(root, FLAG_ALIASES[normalizeName(name)] ?? name.split('.'));
    if (!node || node.type === 'group') {
      out.problems.push(
        node
          ? `${flag}: ${node.key} is a group of settings; set one of them, e.g. --${toKebab(node.key)}.<setting> (from command line)`
          : `${flag}: unknown setting (from command line)${didYouMean(flag, known)}`,
      );
      // Skip its value too, so one mistake yields one problem rather than two.
      if (inline === undefined && nextIsValue(i)) i++;
      continue;
    }

    let raw: string | undefined;
    let origin: string;
    if (node.kind === 'boolean' && inline === undefined) {
      const explicit = nextIsValue(i) && BOOLEAN_WORDS.has(argv[i + 1].toLowerCase());
      raw = explicit ? argv[++i] : 'true';
      origin = explicit ? `${flag} ${showValue(raw)}` : flag;
    } else {
      raw = inline ?? (nextIsValue(i) ? argv[++i] : undefined);
      origin = `${flag} ${showValue(raw)}`;
    }
    if (raw === undefined) {
      out.problems.push(`${node.key}: missing value (from ${flag})`);
      continue;
    }

    let value = coerceText(node, raw);
    if (node.kind === 'list' && Array.isArray(value)) {
      value = [...(lists.get(node.key) ?? []), ...value];
      lists.set(node.key, value as unknown[]);
    }
    out.assignments.push({ field: node, value, origin });
  }
  return out;
}

/**
 * Reads THINGPORT_* variables: UPPER_SNAKE of a top-level key (THINGPORT_MQTT_PORT), nested keys
 * joined by a double underscore (THINGPORT_MQTT__MAX_QOS), THINGPORT_DATA as a short form of
 * THINGPORT_DATA_DIR, and THINGPORT_CONFIG naming the YAML file. Other THINGPORT_* names are
 * problems, except THINGPORT_DEBUG (read by the CLI) and THINGPORT_TEST_* (used by tests).
 */
export function readEnv(env: NodeJS.ProcessEnv, root: SettingGroup): SourceReading {
  const out: SourceReading = { assignments: [], problems: [], configFile: null };
  const known = [...listFields(root).map((f) => envName(f.path)), 'THINGPORT_DATA', 'THINGPORT_CONFIG'];
  // Sorted so results do not depend on the environment's order.
  const names = Object.keys(env).filter((n) => n.startsWith(ENV_PREFIX)).sort();

  for (const name of names) {
    const raw = env[name];
    // An empty variable counts as unset: compose files and shells pass unset variables as "".
    if (raw === undefined || raw === '') continue;
    if (name.startsWith(ENV_IGNORED_PREFIX) || ENV_NOT_SETTINGS.has(name)) continue;
    const origin = `${name}=${showValue(raw)}`;
    if (name === 'THINGPORT_CONFIG') {
      out.configFile = { path: raw, origin };
      continue;
    }
    const rest = name.slice(ENV_PREFIX.length);
    const node = findSetting(root, rest === 'DATA' ? ['dataDir'] : rest.split('__'));
    if (!node || node.type === 'group') {
      out.problems.push(
        node
          ? `${name}: ${node.key} is a group of settings; set one of them, e.g. ${envName(node.key.split('.'))}__<SETTING> (from environment)`
          : `${name}: unknown setting (from environment)${didYouMean(name, known)}`,
      );
      continue;
    }
    out.assignments.push({ field: node, value: coerceText(node, raw), origin });
  }

  const short = env.THINGPORT_DATA;
  const long = env.THINGPORT_DATA_DIR;
  if (short && long && short !== long) {
    out.problems.push(
      `dataDir: THINGPORT_DATA and THINGPORT_DATA_DIR disagree (from THINGPORT_DATA=${showValue(short)}, THINGPORT_DATA_DIR=${showValue(long)}); set only one`,
    );
  }
  return out;
}
