/**
 * Billing groups (AWS CreateBillingGroup, DescribeBillingGroup, UpdateBillingGroup,
 * DeleteBillingGroup, ListBillingGroups, AddThingToBillingGroup, RemoveThingFromBillingGroup,
 * ListThingsInBillingGroup). Thingport bills nothing; the groups are kept so that tools and
 * templates using them work. A thing is in at most one billing group (guide "Billing groups").
 */
import { randomUUID } from 'node:crypto';
import type { RegistryContext } from './context.js';
import { registryErrors } from './errors.js';
import type { BillingGroup, GroupRef, Page, PageRequest } from './model.js';
import { keysetQuery, toPage } from './paging.js';
import type { BillingGroupRecord } from './store.js';
import type { Things } from './things.js';
import { checkDescription, checkName, checkVersion, nameOrArn } from './validate.js';

export interface BillingMembershipTarget {
  thingName?: string;
  thingArn?: string;
  billingGroupName?: string;
  billingGroupArn?: string;
}

export class BillingGroups {
  constructor(
    private readonly ctx: RegistryContext,
    private readonly things: Things,
  ) {}

  toBillingGroup(g: BillingGroupRecord): BillingGroup {
    return {
      billingGroupName: g.billingGroupName,
      billingGroupId: g.billingGroupId,
      billingGroupArn: this.ctx.arns.billingGroup(g.billingGroupName),
      description: g.description,
      version: g.version,
      creationDate: g.createdAt,
    };
  }

  require(billingGroupName: string, field = 'billingGroupName'): BillingGroupRecord {
    checkName(field, billingGroupName);
    const g = this.ctx.store.getBillingGroup(billingGroupName);
    if (g === null) throw registryErrors.notFound('Billing group', billingGroupName);
    return g;
  }

  /** Creating a billing group that exists with the same description succeeds; otherwise ResourceAlreadyExists. */
  create(billingGroupName: string, description?: string): BillingGroup {
    checkName('billingGroupName', billingGroupName);
    checkDescription('billingGroupProperties.billingGroupDescription', description);
    const existing = this.ctx.store.getBillingGroup(billingGroupName);
    if (existing !== null) {
      if (existing.description === (description ?? null)) return this.toBillingGroup(existing);
      throw registryErrors.alreadyExists('Billing group', billingGroupName, existing.billingGroupId, this.ctx.arns.billingGroup(billingGroupName));
    }
    const g: BillingGroupRecord = { billingGroupName, billingGroupId: randomUUID(), description: description ?? null, version: 1, createdAt: this.ctx.now() };
    this.ctx.store.putBillingGroup(g);
    return this.toBillingGroup(g);
  }

  describe(billingGroupName: string): BillingGroup {
    return this.toBillingGroup(this.require(billingGroupName));
  }

  /** Returns the new version. */
  update(billingGroupName: string, description: string | undefined, expectedVersion?: number): number {
    checkDescription('billingGroupProperties.billingGroupDescription', description);
    const g = this.require(billingGroupName);
    checkVersion('Billing group', billingGroupName, expectedVersion, g.version);
    const next = { ...g, description: description ?? g.description, version: g.version + 1 };
    this.ctx.store.putBillingGroup(next);
    return next.version;
  }

  /** Deleting a billing group that does not exist succeeds (DeleteBillingGroup declares no ResourceNotFound); its things leave it. */
  delete(billingGroupName: string, expectedVersion?: number): void {
    checkName('billingGroupName', billingGroupName);
    const g = this.ctx.store.getBillingGroup(billingGroupName);
    if (g === null) return;
    checkVersion('Billing group', billingGroupName, expectedVersion, g.version);
    this.ctx.store.deleteBillingGroup(billingGroupName);
  }

  list(namePrefixFilter: string | undefined, page: PageRequest): Page<GroupRef> {
    if (namePrefixFilter !== undefined) checkName('namePrefixFilter', namePrefixFilter);
    const rows = this.ctx.store.listBillingGroups({ ...keysetQuery(page), ...(namePrefixFilter !== undefined ? { namePrefix: namePrefixFilter } : {}) });
    return toPage(rows, page, (g) => g.billingGroupName, (g) => ({ groupName: g.billingGroupName, groupArn: this.ctx.arns.billingGroup(g.billingGroupName) }));
  }

  /** Idempotent; a thing already in another billing group is refused (it can be in only one). */
  addThing(target: BillingMembershipTarget): void {
    const { thing, group } = this.resolve(target);
    if (thing.billingGroupName === group.billingGroupName) return;
    if (thing.billingGroupName !== null) {
      throw registryErrors.invalid('thingName', `thing ${thing.thingName} is already in billing group ${thing.billingGroupName}; a thing can be in only one billing group`);
    }
    this.ctx.store.putThing({ ...thing, billingGroupName: group.billingGroupName });
  }

  /** Removing a thing that is not in the group succeeds without change. */
  removeThing(target: BillingMembershipTarget): void {
    const { thing, group } = this.resolve(target);
    if (thing.billingGroupName !== group.billingGroupName) return;
    this.ctx.store.putThing({ ...thing, billingGroupName: null });
  }

  listThings(billingGroupName: string, page: PageRequest): Page<string> {
    this.require(billingGroupName);
    const rows = this.ctx.store.listThings({ ...keysetQuery(page), billingGroupName });
    return toPage(rows, page, (t) => t.thingName, (t) => t.thingName);
  }

  private resolve(t: BillingMembershipTarget) {
    const home = { region: this.ctx.region, accountId: this.ctx.accountId };
    const groupName = nameOrArn({ name: t.billingGroupName, arn: t.billingGroupArn, nameField: 'billingGroupName', arnField: 'billingGroupArn', resourceType: 'billinggroup' }, home);
    const thingName = nameOrArn({ name: t.thingName, arn: t.thingArn, nameField: 'thingName', arnField: 'thingArn', resourceType: 'thing' }, home);
    return { group: this.require(groupName), thing: this.things.require(thingName) };
  }
}
