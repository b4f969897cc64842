/**
 * Static thing groups and their hierarchy: create, describe, update, delete, list (AWS
 * CreateThingGroup, DescribeThingGroup, UpdateThingGroup, DeleteThingGroup, ListThingGroups).
 * Membership is in group-members.ts.
 *
 * Guide "Static thing groups": a group has at most one parent, fixed at creation; hierarchies
 * are at most 7 deep; a group has at most 100 direct children and 50 attributes; a group with
 * child groups cannot be deleted (a group with things can).
 */
import { randomUUID } from 'node:crypto';
import type { RegistryContext } from './context.js';
import { registryErrors } from './errors.js';
import type { GroupRef, Page, PageRequest, ThingGroup } from './model.js';
import { keysetQuery, pageOfKeys, toPage } from './paging.js';
import type { ThingGroupRecord } from './store.js';
import { applyAttributes, checkAttributeCount, checkAttributes, checkDescription, checkName, checkVersion, sameAttributes } from './validate.js';

export interface CreateThingGroupInput {
  thingGroupName: string;
  parentGroupName?: string;
  description?: string;
  attributes?: Record<string, string>;
}

export interface UpdateThingGroupInput {
  /** Absent: unchanged. */
  description?: string;
  /** Absent: unchanged. */
  attributes?: Record<string, string>;
  merge?: boolean;
  expectedVersion?: number;
}

export interface ListThingGroupsFilter {
  parentGroup?: string;
  namePrefixFilter?: string;
  /** With `parentGroup`: all descendants instead of direct children. */
  recursive?: boolean;
}

export class ThingGroups {
  constructor(private readonly ctx: RegistryContext) {}

  /** The stored group, or ResourceNotFound. */
  require(thingGroupName: string, field = 'thingGroupName'): ThingGroupRecord {
    checkName(field, thingGroupName);
    const g = this.ctx.store.getThingGroup(thingGroupName);
    if (g === null) throw registryErrors.notFound('Thing group', thingGroupName);
    return g;
  }

  /** Ancestors of a group, root first, parent last. */
  ancestors(g: ThingGroupRecord): ThingGroupRecord[] {
    const out: ThingGroupRecord[] = [];
    let parent = g.parentGroupName;
    // Parents are fixed at creation so there are no cycles; the bound only guards corrupt data.
    while (parent !== null && out.length <= this.ctx.limits.maxGroupDepth) {
      const p = this.ctx.store.getThingGroup(parent);
      if (p === null) break;
      out.unshift(p);
      parent = p.parentGroupName;
    }
    return out;
  }

  /** Names of every group below `thingGroupName` (children, grandchildren, ...). */
  descendantNames(thingGroupName: string): string[] {
    const out: string[] = [];
    const queue = [thingGroupName];
    for (let i = 0; i < queue.length; i++) {
      for (const child of this.ctx.store.listChildGroupNames(queue[i]!)) {
        out.push(child);
        queue.push(child);
      }
    }
    return out;
  }

  ref(name: string): GroupRef {
    return { groupName: name, groupArn: this.ctx.arns.thingGroup(name) };
  }

  toThingGroup(g: ThingGroupRecord): ThingGroup {
    return {
      thingGroupName: g.thingGroupName,
      thingGroupId: g.thingGroupId,
      thingGroupArn: this.ctx.arns.thingGroup(g.thingGroupName),
      parentGroupName: g.parentGroupName,
      rootToParentThingGroups: this.ancestors(g).map((a) => this.ref(a.thingGroupName)),
      description: g.description,
      attributes: { ...g.attributes },
      version: g.version,
      creationDate: g.createdAt,
    };
  }

  get(thingGroupName: string): ThingGroup | null {
    const g = this.ctx.store.getThingGroup(thingGroupName);
    return g === null ? null : this.toThingGroup(g);
  }

  /** Creating a group that exists with the same parent and properties succeeds; otherwise ResourceAlreadyExists. */
  create(input: CreateThingGroupInput): ThingGroup {
    const { store, limits } = this.ctx;
    checkName('thingGroupName', input.thingGroupName);
    if (input.parentGroupName !== undefined) checkName('parentGroupName', input.parentGroupName);
    checkDescription('thingGroupProperties.thingGroupDescription', input.description);
    checkAttributes('thingGroupProperties.attributePayload.attributes', input.attributes);
    const attributes = applyAttributes({}, input.attributes ?? {}, false);
    checkAttributeCount('thingGroupProperties.attributePayload.attributes', attributes, limits.maxGroupAttributes, 'a thing group');
    const parentName = input.parentGroupName ?? null;
    const description = input.description ?? null;

    const existing = store.getThingGroup(input.thingGroupName);
    if (existing !== null) {
      if (existing.parentGroupName === parentName && existing.description === description && sameAttributes(existing.attributes, attributes)) return this.toThingGroup(existing);
      throw registryErrors.alreadyExists('Thing group', input.thingGroupName, existing.thingGroupId, this.ctx.arns.thingGroup(input.thingGroupName));
    }
    let parent: ThingGroupRecord | null = null;
    let rootToParent: ThingGroupRecord[] = [];
    if (parentName !== null) {
      parent = this.require(parentName, 'parentGroupName');
      rootToParent = [...this.ancestors(parent), parent];
      if (rootToParent.length + 1 > limits.maxGroupDepth) {
        throw registryErrors.invalid('parentGroupName', `a thing group hierarchy can be at most ${limits.maxGroupDepth} levels deep; ${parentName} is at level ${rootToParent.length}`);
      }
      const children = store.listChildGroupNames(parentName).length;
      if (children >= limits.maxChildGroups) throw registryErrors.invalid('parentGroupName', `thing group ${parentName} already has ${children} child groups, the maximum`);
    }
    const group: ThingGroupRecord = {
      thingGroupName: input.thingGroupName,
      thingGroupId: randomUUID(),
      parentGroupName: parentName,
      description,
      attributes,
      version: 1,
      createdAt: this.ctx.now(),
    };
    store.putThingGroup(group);
    this.ctx.bus.emit('thinggroup.changed', { groupName: group.thingGroupName });
    this.ctx.events.thingGroup('CREATED', group, parent?.thingGroupId ?? null, rootToParent.map((g) => this.ref(g.thingGroupName)));
    if (parent !== null) this.ctx.events.hierarchy('ADDED', parent, group);
    return this.toThingGroup(group);
  }

  describe(thingGroupName: string): ThingGroup {
    return this.toThingGroup(this.require(thingGroupName));
  }

  /** Returns the new version. */
  update(thingGroupName: string, input: UpdateThingGroupInput): number {
    checkDescription('thingGroupProperties.thingGroupDescription', input.description);
    checkAttributes('thingGroupProperties.attributePayload.attributes', input.attributes);
    const current = this.require(thingGroupName);
    checkVersion('Thing group', thingGroupName, input.expectedVersion, current.version);
    const attributes = input.attributes === undefined ? current.attributes : applyAttributes(current.attributes, input.attributes, input.merge === true);
    checkAttributeCount('thingGroupProperties.attributePayload.attributes', attributes, this.ctx.limits.maxGroupAttributes, 'a thing group');
    const next: ThingGroupRecord = { ...current, description: input.description ?? current.description, attributes, version: current.version + 1 };
    this.ctx.store.putThingGroup(next);
    this.ctx.bus.emit('thinggroup.changed', { groupName: thingGroupName });
    this.publishGroup('UPDATED', next);
    return next.version;
  }

  /**
   * Deleting a group that does not exist succeeds (DeleteThingGroup declares no
   * ResourceNotFound). A group with child groups is refused with AWS's message (guide "Delete a
   * thing group"); its things leave the group.
   */
  delete(thingGroupName: string, expectedVersion?: number): void {
    const { store, bus, events } = this.ctx;
    checkName('thingGroupName', thingGroupName);
    const group = store.getThingGroup(thingGroupName);
    if (group === null) return;
    checkVersion('Thing group', thingGroupName, expectedVersion, group.version);
    if (store.listChildGroupNames(thingGroupName).length > 0) {
      throw registryErrors.refused(`Cannot delete thing group : ${thingGroupName} when there are still child groups attached to it.`);
    }
    const ancestors = this.ancestors(group);
    const members = store.transaction(() => {
      const list = store.listMembershipsOfGroup(thingGroupName);
      store.deleteThingGroup(thingGroupName);
      return list;
    });
    for (const m of members) {
      bus.emit('thinggroup.membership.changed', { thingName: m.thingName, groupName: thingGroupName });
      const thing = store.getThing(m.thingName);
      if (thing !== null) events.membership('REMOVED', group, thing, m.membershipId);
    }
    bus.emit('thinggroup.changed', { groupName: thingGroupName });
    const parent = ancestors[ancestors.length - 1];
    if (parent !== undefined) events.hierarchy('REMOVED', parent, group);
    events.thingGroup('DELETED', group, parent?.thingGroupId ?? null, ancestors.map((a) => this.ref(a.thingGroupName)));
  }

  /**
   * Without `parentGroup`, every group (as the guide's ListThingGroups example shows). With it,
   * its direct children, or with `recursive` all its descendants.
   */
  list(filter: ListThingGroupsFilter, page: PageRequest): Page<GroupRef> {
    if (filter.namePrefixFilter !== undefined) checkName('namePrefixFilter', filter.namePrefixFilter);
    const prefix = filter.namePrefixFilter;
    if (filter.parentGroup !== undefined) {
      this.require(filter.parentGroup, 'parentGroup');
      if (filter.recursive === true) {
        const names = this.descendantNames(filter.parentGroup).filter((n) => prefix === undefined || n.startsWith(prefix));
        return pageOfKeys(names, page, (n) => this.ref(n));
      }
    }
    const rows = this.ctx.store.listThingGroups({
      ...keysetQuery(page),
      ...(filter.parentGroup !== undefined ? { parentGroupName: filter.parentGroup } : {}),
      ...(prefix !== undefined ? { namePrefix: prefix } : {}),
    });
    return toPage(rows, page, (g) => g.thingGroupName, (g) => this.ref(g.thingGroupName));
  }

  private publishGroup(operation: 'CREATED' | 'UPDATED' | 'DELETED', g: ThingGroupRecord): void {
    if (!this.ctx.events.isEnabled('THING_GROUP')) return;
    const ancestors = this.ancestors(g);
    this.ctx.events.thingGroup(operation, g, ancestors[ancestors.length - 1]?.thingGroupId ?? null, ancestors.map((a) => this.ref(a.thingGroupName)));
  }
}
