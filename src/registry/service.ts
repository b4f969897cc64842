/**
 * RegistryService: everything the registry does, for every adapter (the AWS API in http.ts, the
 * CLI, and other capabilities such as identity's policy engine). Adapters only translate.
 *
 * Methods are synchronous: the store is (see store.ts), and identity needs `getThing` and
 * `listGroupsForThingSync` while it decides an MQTT action. Errors are RegistryError (errors.ts).
 * Every change is stored first, then announced on the bus (so caches are invalidated at once)
 * and, when enabled, as a registry event on `$aws/events/...`.
 */
import type { EventBus, Messaging } from '../core/index.js';
import type { Logger } from '../lib/index.js';
import { BillingGroups, type BillingMembershipTarget } from './billing-groups.js';
import { resolveRegistryLimits, type RegistryLimits } from './config.js';
import { registryArns, type RegistryContext, type ThingDeleteGuard } from './context.js';
import { registryErrors } from './errors.js';
import { RegistryEvents } from './events.js';
import { GroupMembers, type MembershipTarget } from './group-members.js';
import { EVENT_TYPES, type BillingGroup, type EventConfigurations, type EventType, type GroupRef, type Page, type PageRequest, type Thing, type ThingGroup, type ThingType } from './model.js';
import type { RegistryStore } from './store.js';
import { ThingGroups, type CreateThingGroupInput, type ListThingGroupsFilter, type UpdateThingGroupInput } from './thing-groups.js';
import { ThingTypes, type CreateThingTypeInput } from './thing-types.js';
import { Things, type CreateThingInput, type ListThingsFilter, type UpdateThingInput } from './things.js';

export interface RegistryServiceDeps {
  store: RegistryStore;
  bus: EventBus;
  region: string;
  accountId: string;
  messaging: Pick<Messaging, 'publish'>;
  logger: Logger;
  now?: () => number;
  limits?: Partial<RegistryLimits>;
}

export class RegistryService {
  private readonly ctx: RegistryContext;
  private readonly things: Things;
  private readonly types: ThingTypes;
  private readonly groups: ThingGroups;
  private readonly members: GroupMembers;
  private readonly billing: BillingGroups;

  constructor(deps: RegistryServiceDeps) {
    const now = deps.now ?? Date.now;
    const logger = deps.logger.child({ component: 'registry' });
    const arns = registryArns(deps.region, deps.accountId);
    const publish = deps.messaging.publish.bind(deps.messaging);
    const events = new RegistryEvents({ store: deps.store, publish, accountId: deps.accountId, now, logger, arn: arns });
    this.ctx = { store: deps.store, bus: deps.bus, events, limits: resolveRegistryLimits(deps.limits), region: deps.region, accountId: deps.accountId, now, logger, arns, deleteGuards: [] };
    this.things = new Things(this.ctx);
    this.types = new ThingTypes(this.ctx);
    this.groups = new ThingGroups(this.ctx);
    this.members = new GroupMembers(this.ctx, this.things, this.groups);
    this.billing = new BillingGroups(this.ctx, this.things);
  }

  /** The limits in force (AWS's quotas unless configured otherwise). */
  get limits(): Readonly<RegistryLimits> {
    return this.ctx.limits;
  }

  // ---- things

  createThing(input: CreateThingInput): Thing {
    return this.things.create(input);
  }

  describeThing(thingName: string): Thing {
    return this.things.toThing(this.things.require(thingName));
  }

  /** The thing, or null when there is none. For the policy engine (thing policy variables). */
  getThing(thingName: string): Thing | null {
    return this.things.get(thingName);
  }

  updateThing(thingName: string, input: UpdateThingInput): Thing {
    return this.things.update(thingName, input);
  }

  deleteThing(thingName: string, opts: { expectedVersion?: number } = {}): void {
    this.things.delete(thingName, opts.expectedVersion);
  }

  listThings(filter: ListThingsFilter, page: PageRequest = {}): Page<Thing> {
    return this.things.list(filter, page);
  }

  /**
   * Registers a check run before a thing is deleted (identity refuses while certificates are
   * attached, as AWS does). Returns the function that removes it.
   */
  addThingDeleteGuard(guard: ThingDeleteGuard): () => void {
    this.ctx.deleteGuards.push(guard);
    return () => {
      const i = this.ctx.deleteGuards.indexOf(guard);
      if (i >= 0) this.ctx.deleteGuards.splice(i, 1);
    };
  }

  // ---- thing types

  createThingType(input: CreateThingTypeInput): ThingType {
    return this.types.create(input);
  }

  describeThingType(thingTypeName: string): ThingType {
    return this.types.describe(thingTypeName);
  }

  deprecateThingType(thingTypeName: string, opts: { undoDeprecate?: boolean } = {}): void {
    this.types.deprecate(thingTypeName, opts.undoDeprecate === true);
  }

  deleteThingType(thingTypeName: string): void {
    this.types.delete(thingTypeName);
  }

  listThingTypes(filter: { thingTypeName?: string }, page: PageRequest = {}): Page<ThingType> {
    return this.types.list(filter, page);
  }

  // ---- thing groups

  createThingGroup(input: CreateThingGroupInput): ThingGroup {
    return this.groups.create(input);
  }

  describeThingGroup(thingGroupName: string): ThingGroup {
    return this.groups.describe(thingGroupName);
  }

  /** The group, or null when there is none. For the policy engine. */
  getThingGroup(thingGroupName: string): ThingGroup | null {
    return this.groups.get(thingGroupName);
  }

  /** Returns the group's new version. */
  updateThingGroup(thingGroupName: string, input: UpdateThingGroupInput): number {
    return this.groups.update(thingGroupName, input);
  }

  deleteThingGroup(thingGroupName: string, opts: { expectedVersion?: number } = {}): void {
    this.groups.delete(thingGroupName, opts.expectedVersion);
  }

  listThingGroups(filter: ListThingGroupsFilter, page: PageRequest = {}): Page<GroupRef> {
    return this.groups.list(filter, page);
  }

  addThingToThingGroup(target: MembershipTarget): void {
    this.members.add(target);
  }

  removeThingFromThingGroup(target: MembershipTarget): void {
    this.members.remove(target);
  }

  updateThingGroupsForThing(input: { thingName?: string; thingGroupsToAdd?: string[]; thingGroupsToRemove?: string[] }): void {
    this.members.updateGroupsForThing(input.thingName, input.thingGroupsToAdd ?? [], input.thingGroupsToRemove ?? []);
  }

  listThingsInThingGroup(thingGroupName: string, opts: { recursive?: boolean } = {}, page: PageRequest = {}): Page<string> {
    return this.members.listThings(thingGroupName, opts.recursive === true, page);
  }

  listThingGroupsForThing(thingName: string, page: PageRequest = {}): Page<GroupRef> {
    return this.members.listGroupsOfThing(thingName, page);
  }

  /**
   * Names of every static group the thing is in, directly or through an ancestor of a group it
   * is in (what policy inheritance needs), each once. Empty for an unknown thing.
   */
  listGroupsForThingSync(thingName: string): string[] {
    return this.members.groupNamesWithAncestors(thingName);
  }

  // ---- billing groups

  createBillingGroup(input: { billingGroupName: string; description?: string }): BillingGroup {
    return this.billing.create(input.billingGroupName, input.description);
  }

  describeBillingGroup(billingGroupName: string): BillingGroup {
    return this.billing.describe(billingGroupName);
  }

  /** Returns the group's new version. */
  updateBillingGroup(billingGroupName: string, input: { description?: string; expectedVersion?: number }): number {
    return this.billing.update(billingGroupName, input.description, input.expectedVersion);
  }

  deleteBillingGroup(billingGroupName: string, opts: { expectedVersion?: number } = {}): void {
    this.billing.delete(billingGroupName, opts.expectedVersion);
  }

  listBillingGroups(filter: { namePrefixFilter?: string }, page: PageRequest = {}): Page<GroupRef> {
    return this.billing.list(filter.namePrefixFilter, page);
  }

  addThingToBillingGroup(target: BillingMembershipTarget): void {
    this.billing.addThing(target);
  }

  removeThingFromBillingGroup(target: BillingMembershipTarget): void {
    this.billing.removeThing(target);
  }

  listThingsInBillingGroup(billingGroupName: string, page: PageRequest = {}): Page<string> {
    return this.billing.listThings(billingGroupName, page);
  }

  // ---- event configuration

  describeEventConfigurations(): EventConfigurations {
    return this.ctx.events.describe();
  }

  /** Turns event types on or off; unmentioned types keep their setting. */
  updateEventConfigurations(changes: Partial<Record<string, boolean>>): void {
    for (const type of Object.keys(changes)) {
      if (!(EVENT_TYPES as readonly string[]).includes(type)) throw registryErrors.invalid('eventConfigurations', `unknown event type ${type}; expected one of ${EVENT_TYPES.join(', ')}`);
    }
    this.ctx.events.update(changes as Partial<Record<EventType, boolean>>);
  }

  /** Whether events of `type` are on; other capabilities (jobs, identity) ask before publishing theirs. */
  isEventEnabled(type: EventType): boolean {
    return this.ctx.events.isEnabled(type);
  }
}
