/**
 * Input rules the service enforces itself, whichever adapter called it (the HTTP router also
 * checks the AWS model's patterns, but the CLI and other capabilities call the service
 * directly). Each failure names the request member at fault.
 */
import { parseArn } from '../core/index.js';
import { registryErrors, type ResourceKind } from './errors.js';

/** Thing, thing type, thing group and billing group names (AWS model: 1-128, `[a-zA-Z0-9:_-]+`). */
const NAME = /^[a-zA-Z0-9:_-]{1,128}$/;
/** Attribute names (AWS model `AttributeName`: up to 128, `[a-zA-Z0-9_.,@/:#-]+`). */
const ATTRIBUTE_NAME = /^[a-zA-Z0-9_.,@/:#-]{1,128}$/;
/**
 * Attribute values: up to 800 characters. The current AWS API reference allows
 * `[a-zA-Z0-9_.,@/:#=\[\]-]*`; the generated model Thingport routes with is older and still
 * refuses `=`, `[` and `]` at the HTTP edge.
 */
const ATTRIBUTE_VALUE = /^[a-zA-Z0-9_.,@/:#=[\]-]{0,800}$/;
/** Descriptions: up to 2028 printable ASCII characters (AWS model `ThingTypeDescription`, `ThingGroupDescription`). */
const DESCRIPTION = /^[\x20-\x7E]{0,2028}$/;

export function checkName(field: string, value: string): void {
  if (!NAME.test(value)) throw registryErrors.invalid(field, `'${value.slice(0, 140)}' is not a valid name: 1 to 128 characters of a-z, A-Z, 0-9, ':', '_' and '-'`);
}

export function checkDescription(field: string, value: string | undefined): void {
  if (value !== undefined && !DESCRIPTION.test(value)) throw registryErrors.invalid(field, 'must be at most 2028 printable ASCII characters');
}

export function checkAttributeName(field: string, name: string): void {
  if (!ATTRIBUTE_NAME.test(name)) throw registryErrors.invalid(field, `attribute name '${name.slice(0, 140)}' must be 1 to 128 characters of a-z, A-Z, 0-9 and _.,@/:#-`);
}

/** Checks every name and value of an attribute map from a request. */
export function checkAttributes(field: string, attributes: Record<string, string> | undefined): void {
  if (attributes === undefined) return;
  for (const [name, value] of Object.entries(attributes)) {
    checkAttributeName(field, name);
    if (typeof value !== 'string' || !ATTRIBUTE_VALUE.test(value)) {
      throw registryErrors.invalid(`${field}.${name}`, 'attribute values are at most 800 characters of a-z, A-Z, 0-9 and _.,@/:#=[]-');
    }
  }
}

/**
 * The attributes after an update. AWS (AttributePayload): with `merge` the given attributes are
 * merged into the stored ones, otherwise they replace them; an empty value removes the
 * attribute. Keys come out sorted so equal maps serialise equally.
 */
export function applyAttributes(current: Record<string, string>, update: Record<string, string>, merge: boolean): Record<string, string> {
  const out: Record<string, string> = merge ? { ...current } : {};
  for (const [name, value] of Object.entries(update)) {
    if (value === '') delete out[name];
    else out[name] = value;
  }
  return sortKeys(out);
}

export function sortKeys(attributes: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(attributes).sort()) out[k] = attributes[k]!;
  return out;
}

export function sameAttributes(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => b[k] === a[k]);
}

export function checkAttributeCount(field: string, attributes: Record<string, string>, max: number, what: string): void {
  const n = Object.keys(attributes).length;
  if (n > max) throw registryErrors.invalid(field, `${what} can have at most ${max} attributes, not ${n}`);
}

/** `expectedVersion` (optimistic locking): VersionConflictException when it differs from the stored version. */
export function checkVersion(kind: ResourceKind, name: string, expected: number | undefined, actual: number): void {
  if (expected !== undefined && expected !== actual) throw registryErrors.versionConflict(kind, name, expected, actual);
}

/**
 * The resource name a request names either directly or by ARN (AddThingToThingGroup and
 * friends take `thingName` or `thingArn`). The ARN must be this installation's, of `resourceType`.
 */
export function nameOrArn(
  target: { name: string | undefined; arn: string | undefined; nameField: string; arnField: string; resourceType: string },
  home: { region: string; accountId: string },
): string {
  const { name, arn } = target;
  let fromArn: string | undefined;
  if (arn !== undefined) {
    const parsed = parseArn(arn);
    const prefix = `${target.resourceType}/`;
    if (parsed === null || parsed.service !== 'iot' || parsed.region !== home.region || parsed.accountId !== home.accountId || !parsed.resource.startsWith(prefix)) {
      throw registryErrors.invalid(target.arnField, `'${arn.slice(0, 300)}' is not a ${target.resourceType} ARN of account ${home.accountId} in ${home.region}`);
    }
    fromArn = parsed.resource.slice(prefix.length);
  }
  if (name !== undefined && fromArn !== undefined && name !== fromArn) throw registryErrors.invalid(target.arnField, `names ${fromArn}, but ${target.nameField} is ${name}`);
  const chosen = name ?? fromArn;
  if (chosen === undefined) throw registryErrors.invalid(target.nameField, `${target.nameField} or ${target.arnField} is required`);
  checkName(name !== undefined ? target.nameField : target.arnField, chosen);
  return chosen;
}
