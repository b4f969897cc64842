/**
 * A table of every setting, derived from the zod config schema, so that flags, environment
 * variables and YAML keys are recognised, coerced and explained from one source of truth:
 * adding a field to config-schema.ts makes it settable everywhere with no other change.
 */
import { z } from 'zod';

export type SettingKind = 'integer' | 'choice' | 'boolean' | 'string' | 'enum' | 'list' | 'map';

/** One leaf setting, e.g. `mqtt.maxQos`. */
export interface SettingField {
  readonly type: 'field';
  /** camelCase keys from the root, e.g. ['mqtt', 'maxQos']. */
  readonly path: readonly string[];
  /** Dotted form of `path`, used in every problem message. */
  readonly key: string;
  readonly kind: SettingKind;
  /** Accepts null, which the words in OFF_WORDS produce (a disabled listener). */
  readonly nullable: boolean;
  /** What a valid value looks like, phrased to follow "<key>: ". */
  readonly expect: string;
}

/** A nested object of settings, e.g. `mqtt`. */
export interface SettingGroup {
  readonly type: 'group';
  readonly key: string;
  /** Children by normalized name (see normalizeName). */
  readonly children: ReadonlyMap<string, SettingNode>;
}

export type SettingNode = SettingField | SettingGroup;

/** Words that disable a nullable setting (a listener port) when given as text. */
const OFF_WORDS = new Set(['off', 'false', 'disabled', 'none']);

/**
 * Folds camelCase, kebab-case, snake_case and UPPER_SNAKE to one form, so `max-qos`,
 * `maxQos`, `max_qos` and `MAX_QOS` all name the same key. No two schema keys collide under it.
 */
export function normalizeName(name: string): string {
  return name.replace(/[-_]/g, '').toLowerCase();
}

/** `maxQos` -> `max-qos`: the flag spelling of a key. */
export function toKebab(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** `maxQos` -> `MAX_QOS`: the environment spelling of a key. */
export function toUpperSnake(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
}

/** Strips wrappers that do not change what a value looks like (defaults, optional, refinements). */
function unwrap(schema: z.ZodTypeAny): z.ZodTypeAny {
  let s = schema;
  for (;;) {
    if (s instanceof z.ZodDefault) s = s._def.innerType;
    else if (s instanceof z.ZodOptional) s = s._def.innerType;
    else if (s instanceof z.ZodEffects) s = s._def.schema;
    else return s;
  }
}

function describeNumber(n: z.ZodNumber): string {
  const min = n.minValue;
  const max = n.maxValue;
  const what = n.isInt ? 'an integer' : 'a number';
  if (min !== null && max !== null) return `must be ${what} ${min}-${max}`;
  if (min !== null) return `must be ${what} >= ${min}`;
  if (max !== null) return `must be ${what} <= ${max}`;
  return `must be ${what}`;
}

/** Describes one leaf (non-object) schema. */
function describeLeaf(schema: z.ZodTypeAny): Omit<SettingField, 'type' | 'path' | 'key'> {
  let s = unwrap(schema);
  let nullable = false;
  if (s instanceof z.ZodNullable) {
    nullable = true;
    s = unwrap(s._def.innerType);
  }
  if (s instanceof z.ZodUnion) {
    const options = (s._def.options as z.ZodTypeAny[]).map(unwrap);
    const rest = options.filter((o) => !(o instanceof z.ZodNull));
    nullable ||= rest.length < options.length;
    if (rest.length === 1) s = rest[0];
    else if (rest.every((o) => o instanceof z.ZodLiteral)) {
      const values = rest.map((o) => String((o as z.ZodLiteral<unknown>).value));
      return { kind: 'choice', nullable, expect: `must be one of ${values.join(', ')}${off(nullable)}` };
    }
  }
  if (s instanceof z.ZodNumber) return { kind: 'integer', nullable, expect: describeNumber(s) + off(nullable) };
  if (s instanceof z.ZodBoolean) return { kind: 'boolean', nullable, expect: 'must be true or false' };
  if (s instanceof z.ZodEnum) {
    return { kind: 'enum', nullable, expect: `must be one of ${(s.options as string[]).join(', ')}` };
  }
  if (s instanceof z.ZodArray) return { kind: 'list', nullable, expect: 'must be a list of non-empty names (comma-separated in flags and environment)' };
  if (s instanceof z.ZodString) return { kind: 'string', nullable, expect: 'must be a non-empty string' };
  // A mapping of names to settings (authorizers.functions): YAML mappings, JSON text in flags and environment.
  if (s instanceof z.ZodRecord) return { kind: 'map', nullable, expect: 'must be a mapping of names to settings (JSON text in flags and environment)' };
  // A schema type this table does not know yet: fail loudly at start-up rather than mis-coerce.
  throw new Error(`config-fields: unsupported schema type ${s.constructor.name}`);
}

function off(nullable: boolean): string {
  return nullable ? ' or "off"' : '';
}

/** Builds the settings table for an object schema. */
export function describeSettings(schema: z.ZodTypeAny, path: readonly string[] = []): SettingGroup {
  const obj = unwrap(schema);
  if (!(obj instanceof z.ZodObject)) throw new Error('config-fields: the root schema must be an object');
  const children = new Map<string, SettingNode>();
  for (const [name, child] of Object.entries(obj.shape as Record<string, z.ZodTypeAny>)) {
    const childPath = [...path, name];
    const node: SettingNode =
      unwrap(child) instanceof z.ZodObject
        ? describeSettings(child, childPath)
        : { type: 'field', path: childPath, key: childPath.join('.'), ...describeLeaf(child) };
    children.set(normalizeName(name), node);
  }
  return { type: 'group', key: path.join('.'), children };
}

/** Finds the node a list of name segments (any casing) refers to. */
export function findSetting(root: SettingGroup, segments: readonly string[]): SettingNode | undefined {
  let node: SettingNode = root;
  for (const seg of segments) {
    if (node.type !== 'group') return undefined;
    const next: SettingNode | undefined = node.children.get(normalizeName(seg));
    if (!next) return undefined;
    node = next;
  }
  return node === root ? undefined : node;
}

/** Every leaf of the table, depth first in schema order. */
export function listFields(group: SettingGroup): SettingField[] {
  const out: SettingField[] = [];
  for (const node of group.children.values()) {
    if (node.type === 'field') out.push(node);
    else out.push(...listFields(node));
  }
  return out;
}

/**
 * Turns text from a flag or environment variable into the type the field wants. Text that
 * does not convert is returned unchanged, so schema validation reports it with `expect`.
 */
export function coerceText(field: SettingField, raw: string): unknown {
  const text = raw.trim();
  if (field.nullable && OFF_WORDS.has(text.toLowerCase())) return null;
  switch (field.kind) {
    case 'integer':
    case 'choice':
      return /^[+-]?\d+(\.\d+)?$/.test(text) ? Number(text) : raw;
    case 'boolean': {
      const t = text.toLowerCase();
      if (t === 'true' || t === '1') return true;
      if (t === 'false' || t === '0') return false;
      return raw;
    }
    case 'list':
      return text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    case 'map':
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return raw;
      }
    default:
      return text;
  }
}

/** Normalizes an already-typed value (from YAML): off words and `false` disable nullable settings; text is coerced. */
export function coerceTyped(field: SettingField, value: unknown): unknown {
  if (field.nullable && value === false) return null;
  if (typeof value === 'string' && field.kind !== 'string' && field.kind !== 'enum') return coerceText(field, value);
  return value;
}

/** Renders a value for a problem message; long values are cut so one problem stays one line. */
export function showValue(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** The closest candidate within a small edit distance, for "did you mean" hints. */
export function suggest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 4)) + 1;
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}
