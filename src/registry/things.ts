/**
 * Things: create, describe, update, delete, list (AWS CreateThing, DescribeThing, UpdateThing,
 * DeleteThing, ListThings).
 */
import { randomUUID } from 'node:crypto';
import type { RegistryContext } from './context.js';
import { registryErrors } from './errors.js';
import type { Page, PageRequest, Thing } from './model.js';
import { keysetQuery, toPage } from './paging.js';
import type { ThingRecord } from './store.js';
import { applyAttributes, checkAttributeCount, checkAttributeName, checkAttributes, checkName, checkVersion, sameAttributes } from './validate.js';

export interface CreateThingInput {
  thingName: string;
  thingTypeName?: string;
  attributes?: Record<string, string>;
  billingGroupName?: string;
}

export interface UpdateThingInput {
  thingTypeName?: string;
  removeThingType?: boolean;
  /** Absent: attributes unchanged. */
  attributes?: Record<string, string>;
  /** Merge `attributes` into the stored ones instead of replacing them. */
  merge?: boolean;
  expectedVersion?: number;
}

export interface ListThingsFilter {
  attributeName?: string;
  attributeValue?: string;
  usePrefixAttributeValue?: boolean;
  thingTypeName?: string;
}

export class Things {
  constructor(private readonly ctx: RegistryContext) {}

  toThing(r: ThingRecord): Thing {
    return {
      thingName: r.thingName,
      thingId: r.thingId,
      thingArn: this.ctx.arns.thing(r.thingName),
      thingTypeName: r.thingTypeName,
      attributes: { ...r.attributes },
      version: r.version,
      billingGroupName: r.billingGroupName,
    };
  }

  /** The stored thing, or ResourceNotFound. */
  require(thingName: string): ThingRecord {
    const t = this.ctx.store.getThing(thingName);
    if (t === null) throw registryErrors.notFound('Thing', thingName);
    return t;
  }

  get(thingName: string): Thing | null {
    const t = this.ctx.store.getThing(thingName);
    return t === null ? null : this.toThing(t);
  }

  /**
   * AWS CreateThing: "If this call is made multiple times using the same thing name and
   * configuration, the call will succeed. If this call is made with the same thing name but
   * different configuration a ResourceAlreadyExistsException is thrown."
   */
  create(input: CreateThingInput): Thing {
    const { store } = this.ctx;
    checkName('thingName', input.thingName);
    if (input.thingTypeName !== undefined) checkName('thingTypeName', input.thingTypeName);
    if (input.billingGroupName !== undefined) checkName('billingGroupName', input.billingGroupName);
    checkAttributes('attributePayload.attributes', input.attributes);
    const attributes = applyAttributes({}, input.attributes ?? {}, false);
    const typeName = input.thingTypeName ?? null;
    const billing = input.billingGroupName ?? null;

    const existing = store.getThing(input.thingName);
    if (existing !== null) {
      if (existing.thingTypeName === typeName && existing.billingGroupName === billing && sameAttributes(existing.attributes, attributes)) return this.toThing(existing);
      throw registryErrors.alreadyExists('Thing', input.thingName, existing.thingId, this.ctx.arns.thing(input.thingName));
    }
    if (typeName !== null) this.requireUsableType('thingTypeName', typeName);
    if (billing !== null && store.getBillingGroup(billing) === null) throw registryErrors.notFound('Billing group', billing);
    this.checkCount(attributes, typeName);

    const thing: ThingRecord = { thingName: input.thingName, thingId: randomUUID(), thingTypeName: typeName, attributes, version: 1, billingGroupName: billing, createdAt: this.ctx.now() };
    store.putThing(thing);
    this.ctx.bus.emit('thing.created', { thingName: thing.thingName });
    this.ctx.events.thing('CREATED', thing);
    if (typeName !== null) this.ctx.events.typeAssociation('CREATED', thing, typeName);
    return this.toThing(thing);
  }

  update(thingName: string, input: UpdateThingInput): Thing {
    checkName('thingName', thingName);
    if (input.thingTypeName !== undefined) checkName('thingTypeName', input.thingTypeName);
    checkAttributes('attributePayload.attributes', input.attributes);
    if (input.removeThingType === true && input.thingTypeName !== undefined) {
      throw registryErrors.invalid('removeThingType', 'cannot be true when thingTypeName is also given');
    }
    const current = this.require(thingName);
    checkVersion('Thing', thingName, input.expectedVersion, current.version);

    let typeName = current.thingTypeName;
    if (input.removeThingType === true) typeName = null;
    else if (input.thingTypeName !== undefined && input.thingTypeName !== current.thingTypeName) {
      // A deprecated type keeps the things it has but takes no new ones (guide: "Deprecate a thing type").
      this.requireUsableType('thingTypeName', input.thingTypeName);
      typeName = input.thingTypeName;
    }
    const attributes = input.attributes === undefined ? current.attributes : applyAttributes(current.attributes, input.attributes, input.merge === true);
    this.checkCount(attributes, typeName);

    const next: ThingRecord = { ...current, thingTypeName: typeName, attributes, version: current.version + 1 };
    this.ctx.store.putThing(next);
    this.ctx.bus.emit('thing.updated', { thingName });
    this.ctx.events.thing('UPDATED', next);
    if (current.thingTypeName !== typeName) {
      if (current.thingTypeName !== null) this.ctx.events.typeAssociation('DELETED', next, current.thingTypeName);
      if (typeName !== null) this.ctx.events.typeAssociation('CREATED', next, typeName);
    }
    return this.toThing(next);
  }

  /**
   * AWS DeleteThing "returns successfully with no error if the deletion is successful or you
   * specify a thing that doesn't exist". Memberships go with the thing.
   */
  delete(thingName: string, expectedVersion?: number): void {
    const { store, bus, events } = this.ctx;
    checkName('thingName', thingName);
    const thing = store.getThing(thingName);
    if (thing === null) return;
    checkVersion('Thing', thingName, expectedVersion, thing.version);
    for (const guard of this.ctx.deleteGuards) {
      const reason = guard(thingName);
      if (reason !== null) throw registryErrors.refused(reason);
    }
    const memberships = store.transaction(() => {
      const list = store.listMembershipsOfThing(thingName);
      store.deleteThing(thingName);
      return list;
    });
    for (const m of memberships) {
      bus.emit('thinggroup.membership.changed', { thingName, groupName: m.thingGroupName });
      const group = store.getThingGroup(m.thingGroupName);
      if (group !== null) events.membership('REMOVED', group, thing, m.membershipId);
    }
    bus.emit('thing.deleted', { thingName });
    events.thing('DELETED', thing);
    if (thing.thingTypeName !== null) events.typeAssociation('DELETED', thing, thing.thingTypeName);
  }

  list(filter: ListThingsFilter, page: PageRequest): Page<Thing> {
    if (filter.attributeName !== undefined) checkAttributeName('attributeName', filter.attributeName);
    if (filter.attributeValue !== undefined && filter.attributeName === undefined) throw registryErrors.invalid('attributeValue', 'requires attributeName');
    if (filter.thingTypeName !== undefined) checkName('thingTypeName', filter.thingTypeName);
    const rows = this.ctx.store.listThings({
      ...keysetQuery(page),
      ...(filter.thingTypeName !== undefined ? { thingTypeName: filter.thingTypeName } : {}),
      ...(filter.attributeName !== undefined ? { attributeName: filter.attributeName } : {}),
      ...(filter.attributeValue !== undefined ? { attributeValue: filter.attributeValue, attributeValuePrefix: filter.usePrefixAttributeValue === true } : {}),
    });
    return toPage(rows, page, (t) => t.thingName, (t) => this.toThing(t));
  }

  /** The type must exist (ResourceNotFound) and not be deprecated (InvalidRequest). */
  private requireUsableType(field: string, thingTypeName: string): void {
    const type = this.ctx.store.getThingType(thingTypeName);
    if (type === null) throw registryErrors.notFound('Thing type', thingTypeName);
    if (type.deprecated) throw registryErrors.invalid(field, `thing type ${thingTypeName} is deprecated; no new things can be associated with it`);
  }

  /** Guide "Thing types": up to 50 attributes with a thing type, up to three without. */
  private checkCount(attributes: Record<string, string>, typeName: string | null): void {
    const { limits } = this.ctx;
    if (typeName === null) checkAttributeCount('attributePayload.attributes', attributes, limits.maxAttributesWithoutType, 'a thing without a thing type');
    else checkAttributeCount('attributePayload.attributes', attributes, limits.maxAttributesWithType, 'a thing with a thing type');
  }
}
