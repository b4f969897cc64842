/**
 * The registry's storage port: records, not API shapes (ARNs are derived by the service).
 *
 * The port is synchronous. The identity capability reads things and group memberships while it
 * decides a CONNECT or PUBLISH, so those reads cannot wait on I/O; the embedded SQLite store
 * answers from a local file in microseconds. A PostgreSQL adapter will keep an in-process
 * replica (loaded at start, written through) behind the same interface. Every implementation
 * runs the conformance suite in store-suite.ts.
 *
 * Lists are keyset-paginated: sorted by name, starting after `after`, at most `limit` rows.
 */

export interface ThingRecord {
  thingName: string;
  thingId: string;
  thingTypeName: string | null;
  attributes: Record<string, string>;
  version: number;
  billingGroupName: string | null;
  /** ms since the epoch. */
  createdAt: number;
}

export interface ThingTypeRecord {
  thingTypeName: string;
  thingTypeId: string;
  description: string | null;
  searchableAttributes: string[];
  deprecated: boolean;
  /** ms since the epoch; null unless deprecated. */
  deprecatedAt: number | null;
  createdAt: number;
}

export interface ThingGroupRecord {
  thingGroupName: string;
  thingGroupId: string;
  /** Fixed at creation (AWS: a group's parent cannot change). */
  parentGroupName: string | null;
  description: string | null;
  attributes: Record<string, string>;
  version: number;
  createdAt: number;
}

export interface BillingGroupRecord {
  billingGroupName: string;
  billingGroupId: string;
  description: string | null;
  version: number;
  createdAt: number;
}

/** A thing's direct membership of a static thing group. */
export interface MembershipRecord {
  thingGroupName: string;
  thingName: string;
  /** AWS's `membershipId` in THING_GROUP_MEMBERSHIP events. */
  membershipId: string;
  addedAt: number;
}

export interface ListQuery {
  /** Only names sorting after this one. */
  after?: string;
  limit: number;
}

export interface ThingQuery extends ListQuery {
  thingTypeName?: string;
  billingGroupName?: string;
  /** Things that have this attribute (with `attributeValue`: that value, or a value with that prefix). */
  attributeName?: string;
  attributeValue?: string;
  attributeValuePrefix?: boolean;
}

export interface RegistryStore {
  /** Runs `fn` atomically: all its writes or none. Nested calls join the outer transaction. */
  transaction<T>(fn: () => T): T;

  getThing(thingName: string): ThingRecord | null;
  /** Inserts or replaces the thing. */
  putThing(thing: ThingRecord): void;
  /** Deletes the thing and its group memberships; false when there was none. */
  deleteThing(thingName: string): boolean;
  listThings(query: ThingQuery): ThingRecord[];
  countThingsOfType(thingTypeName: string): number;

  getThingType(thingTypeName: string): ThingTypeRecord | null;
  putThingType(type: ThingTypeRecord): void;
  deleteThingType(thingTypeName: string): boolean;
  /** With `thingTypeName`: only that type. */
  listThingTypes(query: ListQuery & { thingTypeName?: string }): ThingTypeRecord[];

  getThingGroup(thingGroupName: string): ThingGroupRecord | null;
  putThingGroup(group: ThingGroupRecord): void;
  /** Deletes the group and its memberships (not its child groups); false when there was none. */
  deleteThingGroup(thingGroupName: string): boolean;
  /** With `parentGroupName`: only its direct children. With `namePrefix`: names starting with it. */
  listThingGroups(query: ListQuery & { parentGroupName?: string; namePrefix?: string }): ThingGroupRecord[];
  /** Names of the direct child groups, sorted. */
  listChildGroupNames(thingGroupName: string): string[];

  getMembership(thingGroupName: string, thingName: string): MembershipRecord | null;
  putMembership(membership: MembershipRecord): void;
  deleteMembership(thingGroupName: string, thingName: string): boolean;
  /** The thing's direct groups, sorted by group name. */
  listMembershipsOfThing(thingName: string): MembershipRecord[];
  /** The group's direct members, sorted by thing name. */
  listMembershipsOfGroup(thingGroupName: string): MembershipRecord[];
  /** Distinct names of things that are direct members of any of `thingGroupNames`. */
  listThingNamesInGroups(thingGroupNames: readonly string[], query: ListQuery): string[];

  getBillingGroup(billingGroupName: string): BillingGroupRecord | null;
  putBillingGroup(group: BillingGroupRecord): void;
  /** Deletes the billing group and clears it from its things; false when there was none. */
  deleteBillingGroup(billingGroupName: string): boolean;
  listBillingGroups(query: ListQuery & { namePrefix?: string }): BillingGroupRecord[];

  /** Small documents the registry persists (event configurations). */
  getSetting(key: string): string | null;
  putSetting(key: string, value: string): void;
}
