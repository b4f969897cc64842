/**
 * The registry's domain shapes, as the service returns them (records plus ARNs, ids and the
 * hierarchy). Adapters translate these to AWS API shapes; timestamps are ms since the epoch.
 */

export interface Thing {
  thingName: string;
  thingId: string;
  thingArn: string;
  thingTypeName: string | null;
  attributes: Record<string, string>;
  /** 1 at creation, +1 per UpdateThing. */
  version: number;
  billingGroupName: string | null;
}

export interface ThingType {
  thingTypeName: string;
  thingTypeId: string;
  thingTypeArn: string;
  description: string | null;
  searchableAttributes: string[];
  deprecated: boolean;
  deprecationDate: number | null;
  creationDate: number;
}

/** A thing group as AWS lists it (`GroupNameAndArn`). */
export interface GroupRef {
  groupName: string;
  groupArn: string;
}

export interface ThingGroup {
  thingGroupName: string;
  thingGroupId: string;
  thingGroupArn: string;
  parentGroupName: string | null;
  /** Ancestors from the root down to the parent; empty for a root group. */
  rootToParentThingGroups: GroupRef[];
  description: string | null;
  attributes: Record<string, string>;
  /** 1 at creation, +1 per UpdateThingGroup. */
  version: number;
  creationDate: number;
}

export interface BillingGroup {
  billingGroupName: string;
  billingGroupId: string;
  billingGroupArn: string;
  description: string | null;
  version: number;
  creationDate: number;
}

/** `nextToken` / `maxResults` as AWS list operations take them. */
export interface PageRequest {
  nextToken?: string;
  maxResults?: number;
}

export interface Page<T> {
  items: T[];
  /** Absent on the last page. */
  nextToken?: string;
}

/** The `EventType` enum of UpdateEventConfigurations (iot model). */
export const EVENT_TYPES = [
  'THING',
  'THING_GROUP',
  'THING_TYPE',
  'THING_GROUP_MEMBERSHIP',
  'THING_GROUP_HIERARCHY',
  'THING_TYPE_ASSOCIATION',
  'JOB',
  'JOB_EXECUTION',
  'POLICY',
  'CERTIFICATE',
  'CA_CERTIFICATE',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export interface EventConfigurations {
  /** Every event type, enabled or not (all disabled until configured, as in AWS). */
  eventConfigurations: Record<EventType, boolean>;
  /** Unset until the first UpdateEventConfigurations. */
  creationDate: number | null;
  lastModifiedDate: number | null;
}
