/**
 * The registry's limits, with AWS's published quotas as defaults (DESIGN.md: "Limits follow
 * AWS's published quotas and each is configurable"). Resolved once at start-up, then frozen.
 *
 * Sources for the defaults:
 * - thing attributes: 3 without a thing type, 50 with one — developer guide "Thing types"
 *   (thing-types.html) and the older quota page limits-iot.html ("Thing Limits").
 * - searchable attributes per thing type: 3 — the thing type's searchable attributes are the
 *   ones the old quota calls indexable; kept at 3.
 * - a thing in at most 10 static groups; hierarchy depth 7; 100 direct child groups; 50
 *   attributes per group — developer guide "Static thing groups" and limits-iot.html
 *   ("Thing Group Limits").
 * - a deprecated thing type can be deleted 5 minutes after deprecation — developer guide
 *   "Thing types" / "Delete a thing type" ("You must wait five minutes after you deprecate a
 *   thing type before you can delete it").
 */

export interface RegistryLimits {
  /** Attributes of a thing that has no thing type. AWS: 3. */
  maxAttributesWithoutType: number;
  /** Attributes of a thing that has a thing type. AWS: 50. */
  maxAttributesWithType: number;
  /** `searchableAttributes` of a thing type. AWS: 3. */
  maxSearchableAttributes: number;
  /** Static thing groups a thing is a direct member of. AWS: 10. */
  maxGroupsPerThing: number;
  /** Depth of a thing group hierarchy, the root counting as 1. AWS: 7. */
  maxGroupDepth: number;
  /** Direct child groups of one thing group. AWS: 100. */
  maxChildGroups: number;
  /** Attributes of a thing group. AWS: 50. */
  maxGroupAttributes: number;
  /** How long after deprecation a thing type can be deleted, in ms. AWS: 5 minutes. */
  thingTypeDeleteDelayMs: number;
}

export const DEFAULT_REGISTRY_LIMITS: Readonly<RegistryLimits> = Object.freeze({
  maxAttributesWithoutType: 3,
  maxAttributesWithType: 50,
  maxSearchableAttributes: 3,
  maxGroupsPerThing: 10,
  maxGroupDepth: 7,
  maxChildGroups: 100,
  maxGroupAttributes: 50,
  thingTypeDeleteDelayMs: 5 * 60 * 1000,
});

/**
 * The defaults overridden by `overrides`, validated (each a non-negative integer; the group
 * depth at least 1) and frozen. Throws an Error naming every bad setting.
 */
export function resolveRegistryLimits(overrides: Partial<RegistryLimits> = {}): Readonly<RegistryLimits> {
  const limits: RegistryLimits = { ...DEFAULT_REGISTRY_LIMITS, ...overrides };
  const problems: string[] = [];
  for (const [key, value] of Object.entries(limits)) {
    if (!(key in DEFAULT_REGISTRY_LIMITS)) problems.push(`registry.limits.${key}: unknown setting`);
    else if (!Number.isSafeInteger(value) || value < 0) problems.push(`registry.limits.${key}: must be a non-negative integer, not ${String(value)}`);
  }
  if (limits.maxGroupDepth < 1) problems.push('registry.limits.maxGroupDepth: must be at least 1');
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return Object.freeze(limits);
}
