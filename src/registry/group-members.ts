/**
 * Things in static thing groups (AWS AddThingToThingGroup, RemoveThingFromThingGroup,
 * ListThingsInThingGroup, ListThingGroupsForThing, UpdateThingGroupsForThing) and the
 * synchronous membership view the policy engine uses.
 *
 * A thing is a direct member of at most 10 groups (guide "Add a thing to a static thing
 * group"); it belongs indirectly to every ancestor of those groups, which is how it inherits
 * their policies.
 */
import { randomUUID } from 'node:crypto';
import type { RegistryContext } from './context.js';
import { registryErrors } from './errors.js';
import type { GroupRef, Page, PageRequest } from './model.js';
import { keysetQuery, pageOfKeys, toPage } from './paging.js';
import type { ThingGroupRecord, ThingRecord } from './store.js';
import type { ThingGroups } from './thing-groups.js';
import type { Things } from './things.js';
import { checkName, nameOrArn } from './validate.js';

/** A thing and a group, each named directly or by ARN, as the membership operations take them. */
export interface MembershipTarget {
  thingName?: string;
  thingArn?: string;
  thingGroupName?: string;
  thingGroupArn?: string;
}

export class GroupMembers {
  constructor(
    private readonly ctx: RegistryContext,
    private readonly things: Things,
    private readonly groups: ThingGroups,
  ) {}

  /** Adding a thing that is already a member succeeds without change. */
  add(target: MembershipTarget): void {
    const { thing, group } = this.resolve(target);
    if (this.ctx.store.getMembership(group.thingGroupName, thing.thingName) !== null) return;
    this.checkGroupCount(thing.thingName, this.ctx.store.listMembershipsOfThing(thing.thingName).length + 1);
    const announce = this.ctx.store.transaction(() => this.addOne(group, thing));
    announce();
  }

  /** Removing a thing that is not a member succeeds without change. */
  remove(target: MembershipTarget): void {
    const { thing, group } = this.resolve(target);
    const announce = this.ctx.store.transaction(() => this.removeOne(group, thing));
    announce();
  }

  /**
   * Adds and removes in one step: every named group must exist, and the limit applies to the
   * result. A group both added and removed is refused.
   */
  updateGroupsForThing(thingName: string | undefined, toAdd: readonly string[], toRemove: readonly string[]): void {
    if (thingName === undefined) throw registryErrors.invalid('thingName', 'is required');
    const thing = this.things.require(thingName);
    const both = toAdd.find((g) => toRemove.includes(g));
    if (both !== undefined) throw registryErrors.invalid('thingGroupsToAdd', `thing group ${both} is also in thingGroupsToRemove`);
    const adds = [...new Set(toAdd)].map((g) => this.groups.require(g, 'thingGroupsToAdd'));
    const removes = [...new Set(toRemove)].map((g) => this.groups.require(g, 'thingGroupsToRemove'));
    const current = new Set(this.ctx.store.listMembershipsOfThing(thingName).map((m) => m.thingGroupName));
    for (const g of adds) current.add(g.thingGroupName);
    for (const g of removes) current.delete(g.thingGroupName);
    this.checkGroupCount(thingName, current.size);
    const effects = this.ctx.store.transaction(() => [...adds.map((g) => this.addOne(g, thing)), ...removes.map((g) => this.removeOne(g, thing))]);
    for (const publish of effects) publish();
  }

  /** Things directly in the group, or with `recursive` also in its descendants, each once. */
  listThings(thingGroupName: string, recursive: boolean, page: PageRequest): Page<string> {
    this.groups.require(thingGroupName);
    const names = recursive ? [thingGroupName, ...this.groups.descendantNames(thingGroupName)] : [thingGroupName];
    const rows = this.ctx.store.listThingNamesInGroups(names, keysetQuery(page));
    return toPage(rows, page, (n) => n, (n) => n);
  }

  /**
   * The thing's groups "including any parent groups", as the guide's ListThingGroupsForThing
   * describes and shows it (guide "List groups for a thing").
   */
  listGroupsOfThing(thingName: string, page: PageRequest): Page<GroupRef> {
    this.things.require(thingName);
    return pageOfKeys(this.groupNamesWithAncestors(thingName), page, (n) => this.groups.ref(n));
  }

  /**
   * Every group the thing belongs to, directly or through an ancestor, each once: direct groups
   * in name order, each followed by its ancestors from the parent up. Empty for an unknown thing.
   */
  groupNamesWithAncestors(thingName: string): string[] {
    const out = new Set<string>();
    for (const m of this.ctx.store.listMembershipsOfThing(thingName)) {
      out.add(m.thingGroupName);
      const group = this.ctx.store.getThingGroup(m.thingGroupName);
      if (group !== null) for (const a of this.groups.ancestors(group).reverse()) out.add(a.thingGroupName);
    }
    return [...out];
  }

  /** Writes one membership (inside the caller's transaction) and returns what to announce after commit. */
  private addOne(group: ThingGroupRecord, thing: ThingRecord): () => void {
    if (this.ctx.store.getMembership(group.thingGroupName, thing.thingName) !== null) return () => {};
    const membershipId = randomUUID();
    this.ctx.store.putMembership({ thingGroupName: group.thingGroupName, thingName: thing.thingName, membershipId, addedAt: this.ctx.now() });
    return () => {
      this.ctx.bus.emit('thinggroup.membership.changed', { thingName: thing.thingName, groupName: group.thingGroupName });
      this.ctx.events.membership('ADDED', group, thing, membershipId);
    };
  }

  private removeOne(group: ThingGroupRecord, thing: ThingRecord): () => void {
    const m = this.ctx.store.getMembership(group.thingGroupName, thing.thingName);
    if (m === null) return () => {};
    this.ctx.store.deleteMembership(group.thingGroupName, thing.thingName);
    return () => {
      this.ctx.bus.emit('thinggroup.membership.changed', { thingName: thing.thingName, groupName: group.thingGroupName });
      this.ctx.events.membership('REMOVED', group, thing, m.membershipId);
    };
  }

  private checkGroupCount(thingName: string, count: number): void {
    const max = this.ctx.limits.maxGroupsPerThing;
    if (count > max) throw registryErrors.invalid('thingGroupName', `thing ${thingName} would be in ${count} thing groups; a thing can be in at most ${max}`);
  }

  private resolve(t: MembershipTarget): { thing: ThingRecord; group: ThingGroupRecord } {
    const home = { region: this.ctx.region, accountId: this.ctx.accountId };
    const groupName = nameOrArn({ name: t.thingGroupName, arn: t.thingGroupArn, nameField: 'thingGroupName', arnField: 'thingGroupArn', resourceType: 'thinggroup' }, home);
    const thingName = nameOrArn({ name: t.thingName, arn: t.thingArn, nameField: 'thingName', arnField: 'thingArn', resourceType: 'thing' }, home);
    checkName('thingName', thingName);
    return { group: this.groups.require(groupName), thing: this.things.require(thingName) };
  }
}
