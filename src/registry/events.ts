/**
 * Registry events on `$aws/events/...` (AWS developer guide, "Registry events",
 * registry-events.html) and the account's event configuration (UpdateEventConfigurations /
 * DescribeEventConfigurations), persisted in the store.
 *
 * Events are off until enabled per type, as in AWS. They are published after the change is
 * stored, as JSON, QoS 1, without waiting for delivery: AWS publishes each event at least once
 * and does not guarantee ordering ("Event messages", iot-events.html). Field names and topics
 * follow the guide exactly; timestamps are ms since the epoch.
 */
import { randomUUID } from 'node:crypto';
import type { Messaging } from '../core/index.js';
import type { Logger } from '../lib/index.js';
import { EVENT_TYPES, type EventConfigurations, type EventType, type GroupRef } from './model.js';
import type { RegistryStore, ThingGroupRecord, ThingRecord, ThingTypeRecord } from './store.js';

const SETTING_KEY = 'eventConfigurations';

export type CrudOperation = 'CREATED' | 'UPDATED' | 'DELETED';
export type MembershipOperation = 'ADDED' | 'REMOVED';

interface StoredConfig {
  enabled: Partial<Record<EventType, boolean>>;
  createdAt: number;
  updatedAt: number;
}

export interface RegistryEventsDeps {
  store: RegistryStore;
  publish: Messaging['publish'];
  accountId: string;
  now: () => number;
  logger: Logger;
  arn: { thing(name: string): string; thingGroup(name: string): string };
}

export class RegistryEvents {
  private config: StoredConfig | null;

  constructor(private readonly deps: RegistryEventsDeps) {
    const text = deps.store.getSetting(SETTING_KEY);
    this.config = text === null ? null : (JSON.parse(text) as StoredConfig);
  }

  isEnabled(type: EventType): boolean {
    return this.config?.enabled[type] === true;
  }

  describe(): EventConfigurations {
    const eventConfigurations = {} as Record<EventType, boolean>;
    for (const t of EVENT_TYPES) eventConfigurations[t] = this.isEnabled(t);
    return { eventConfigurations, creationDate: this.config?.createdAt ?? null, lastModifiedDate: this.config?.updatedAt ?? null };
  }

  /** Sets the given types on or off; types not mentioned keep their setting. */
  update(changes: Partial<Record<EventType, boolean>>): void {
    const now = this.deps.now();
    const next: StoredConfig = { enabled: { ...this.config?.enabled, ...changes }, createdAt: this.config?.createdAt ?? now, updatedAt: now };
    this.deps.store.putSetting(SETTING_KEY, JSON.stringify(next));
    this.config = next;
  }

  thing(operation: CrudOperation, t: ThingRecord): void {
    if (!this.isEnabled('THING')) return;
    this.send(`$aws/events/thing/${t.thingName}/${operation.toLowerCase()}`, {
      eventType: 'THING_EVENT',
      ...this.common(operation),
      thingId: t.thingId,
      thingName: t.thingName,
      versionNumber: t.version,
      thingTypeName: t.thingTypeName,
      attributes: t.attributes,
    });
  }

  /** Deprecation and undeprecation are UPDATED, as the guide lists them under the `updated` topic. */
  thingType(operation: CrudOperation, t: ThingTypeRecord): void {
    if (!this.isEnabled('THING_TYPE')) return;
    this.send(`$aws/events/thingType/${t.thingTypeName}/${operation.toLowerCase()}`, {
      eventType: 'THING_TYPE_EVENT',
      ...this.common(operation),
      thingTypeId: t.thingTypeId,
      thingTypeName: t.thingTypeName,
      isDeprecated: t.deprecated,
      deprecationDate: t.deprecatedAt,
      searchableAttributes: t.searchableAttributes,
      // MQTT 5 propagating attributes are not in the service model Thingport implements.
      propagatingAttributes: [],
      description: t.description,
    });
  }

  /**
   * `rootToParentThingGroups` is null for a root group (as in the guide's example), otherwise
   * the ancestors in the order DescribeThingGroup gives them (root first).
   */
  thingGroup(operation: CrudOperation, g: ThingGroupRecord, parentId: string | null, rootToParent: GroupRef[]): void {
    if (!this.isEnabled('THING_GROUP')) return;
    this.send(`$aws/events/thingGroup/${g.thingGroupName}/${operation.toLowerCase()}`, {
      eventType: 'THING_GROUP_EVENT',
      ...this.common(operation),
      thingGroupId: g.thingGroupId,
      thingGroupName: g.thingGroupName,
      versionNumber: g.version,
      parentGroupName: g.parentGroupName,
      parentGroupId: parentId,
      description: g.description,
      rootToParentThingGroups: rootToParent.length === 0 ? null : rootToParent,
      attributes: g.attributes,
    });
  }

  membership(operation: MembershipOperation, group: ThingGroupRecord, thing: ThingRecord, membershipId: string): void {
    if (!this.isEnabled('THING_GROUP_MEMBERSHIP')) return;
    this.send(`$aws/events/thingGroupMembership/thingGroup/${group.thingGroupName}/thing/${thing.thingName}/${operation.toLowerCase()}`, {
      eventType: 'THING_GROUP_MEMBERSHIP_EVENT',
      ...this.common(operation),
      groupArn: this.deps.arn.thingGroup(group.thingGroupName),
      groupId: group.thingGroupId,
      thingArn: this.deps.arn.thing(thing.thingName),
      thingId: thing.thingId,
      membershipId,
    });
  }

  hierarchy(operation: MembershipOperation, parent: ThingGroupRecord, child: ThingGroupRecord): void {
    if (!this.isEnabled('THING_GROUP_HIERARCHY')) return;
    this.send(`$aws/events/thingGroupHierarchy/thingGroup/${parent.thingGroupName}/childThingGroup/${child.thingGroupName}/${operation.toLowerCase()}`, {
      eventType: 'THING_GROUP_HIERARCHY_EVENT',
      ...this.common(operation),
      thingGroupId: parent.thingGroupId,
      thingGroupName: parent.thingGroupName,
      childGroupId: child.thingGroupId,
      childGroupName: child.thingGroupName,
    });
  }

  /**
   * Topic `$aws/events/thingTypeAssociation/thing/{thingName}/{thingTypeName}`, operation
   * CREATED (associated) or DELETED (disassociated), no accountId — as the guide gives them.
   */
  typeAssociation(operation: 'CREATED' | 'DELETED', thing: ThingRecord, thingTypeName: string): void {
    if (!this.isEnabled('THING_TYPE_ASSOCIATION')) return;
    this.send(`$aws/events/thingTypeAssociation/thing/${thing.thingName}/${thingTypeName}`, {
      eventId: randomUUID(),
      eventType: 'THING_TYPE_ASSOCIATION_EVENT',
      operation,
      thingId: thing.thingId,
      thingName: thing.thingName,
      thingTypeName,
      timestamp: this.deps.now(),
    });
  }

  private common(operation: string): { eventId: string; timestamp: number; operation: string; accountId: string } {
    return { eventId: randomUUID(), timestamp: this.deps.now(), operation, accountId: this.deps.accountId };
  }

  private send(topic: string, payload: Record<string, unknown>): void {
    let pending: Promise<void>;
    try {
      pending = this.deps.publish({ topic, payload: JSON.stringify(payload), qos: 1 });
    } catch (err) {
      pending = Promise.reject(err);
    }
    // The change is stored already; a lost event is logged, never turned into an API error.
    pending.catch((err: unknown) => this.deps.logger.warn({ err, topic }, 'registry event not published'));
  }
}
