/**
 * Thing types: create, describe, deprecate / undeprecate, delete, list (AWS CreateThingType,
 * DescribeThingType, DeprecateThingType, DeleteThingType, ListThingTypes). Types are immutable
 * once created apart from deprecation (guide "Thing types").
 */
import { randomUUID } from 'node:crypto';
import type { RegistryContext } from './context.js';
import { registryErrors } from './errors.js';
import type { Page, PageRequest, ThingType } from './model.js';
import { keysetQuery, toPage } from './paging.js';
import type { ThingTypeRecord } from './store.js';
import { checkAttributeName, checkDescription, checkName } from './validate.js';

export interface CreateThingTypeInput {
  thingTypeName: string;
  description?: string;
  searchableAttributes?: string[];
}

export class ThingTypes {
  constructor(private readonly ctx: RegistryContext) {}

  toThingType(r: ThingTypeRecord): ThingType {
    return {
      thingTypeName: r.thingTypeName,
      thingTypeId: r.thingTypeId,
      thingTypeArn: this.ctx.arns.thingType(r.thingTypeName),
      description: r.description,
      searchableAttributes: [...r.searchableAttributes],
      deprecated: r.deprecated,
      deprecationDate: r.deprecatedAt,
      creationDate: r.createdAt,
    };
  }

  require(thingTypeName: string): ThingTypeRecord {
    checkName('thingTypeName', thingTypeName);
    const t = this.ctx.store.getThingType(thingTypeName);
    if (t === null) throw registryErrors.notFound('Thing type', thingTypeName);
    return t;
  }

  /** Creating a type that exists with the same properties succeeds (as CreateThing does); otherwise ResourceAlreadyExists. */
  create(input: CreateThingTypeInput): ThingType {
    const { store, limits } = this.ctx;
    checkName('thingTypeName', input.thingTypeName);
    checkDescription('thingTypeProperties.thingTypeDescription', input.description);
    const searchable: string[] = [];
    for (const a of input.searchableAttributes ?? []) {
      checkAttributeName('thingTypeProperties.searchableAttributes', a);
      if (!searchable.includes(a)) searchable.push(a);
    }
    if (searchable.length > limits.maxSearchableAttributes) {
      throw registryErrors.invalid('thingTypeProperties.searchableAttributes', `a thing type can have at most ${limits.maxSearchableAttributes} searchable attributes, not ${searchable.length}`);
    }
    const description = input.description ?? null;
    const existing = store.getThingType(input.thingTypeName);
    if (existing !== null) {
      const same = existing.description === description && existing.searchableAttributes.join('\n') === searchable.join('\n');
      if (same) return this.toThingType(existing);
      throw registryErrors.alreadyExists('Thing type', input.thingTypeName, existing.thingTypeId, this.ctx.arns.thingType(input.thingTypeName));
    }
    const type: ThingTypeRecord = {
      thingTypeName: input.thingTypeName,
      thingTypeId: randomUUID(),
      description,
      searchableAttributes: searchable,
      deprecated: false,
      deprecatedAt: null,
      createdAt: this.ctx.now(),
    };
    store.putThingType(type);
    this.ctx.events.thingType('CREATED', type);
    return this.toThingType(type);
  }

  describe(thingTypeName: string): ThingType {
    return this.toThingType(this.require(thingTypeName));
  }

  /**
   * Deprecates (or with `undo`, undeprecates) the type. Deprecating an already deprecated type
   * keeps its original deprecation date, so repeating the call does not restart the wait
   * before deletion.
   */
  deprecate(thingTypeName: string, undo: boolean): void {
    const type = this.require(thingTypeName);
    if (type.deprecated === !undo) return;
    const next: ThingTypeRecord = { ...type, deprecated: !undo, deprecatedAt: undo ? null : this.ctx.now() };
    this.ctx.store.putThingType(next);
    this.ctx.events.thingType('UPDATED', next);
  }

  /**
   * Guide "Thing types": "You can delete thing types only after they have been deprecated",
   * "You must wait five minutes after you deprecate a thing type before you can delete it"
   * (limits.thingTypeDeleteDelayMs), and only "thing types that have no things associated
   * with them". Each refusal is InvalidRequestException.
   */
  delete(thingTypeName: string): void {
    const { store, limits } = this.ctx;
    const type = this.require(thingTypeName);
    if (!type.deprecated) throw registryErrors.refused(`Thing type ${thingTypeName} is not deprecated; deprecate it (DeprecateThingType) before deleting it`);
    const waited = this.ctx.now() - (type.deprecatedAt ?? 0);
    if (waited < limits.thingTypeDeleteDelayMs) {
      const left = Math.ceil((limits.thingTypeDeleteDelayMs - waited) / 1000);
      throw registryErrors.refused(`Thing type ${thingTypeName} can be deleted ${limits.thingTypeDeleteDelayMs / 1000} seconds after its deprecation; ${left} seconds left`);
    }
    const count = store.countThingsOfType(thingTypeName);
    if (count > 0) throw registryErrors.refused(`Thing type ${thingTypeName} cannot be deleted: ${count} thing(s) are still associated with it`);
    store.deleteThingType(thingTypeName);
    this.ctx.events.thingType('DELETED', type);
  }

  /** With `thingTypeName`: only that type (exact name). */
  list(filter: { thingTypeName?: string }, page: PageRequest): Page<ThingType> {
    if (filter.thingTypeName !== undefined) checkName('thingTypeName', filter.thingTypeName);
    const rows = this.ctx.store.listThingTypes({ ...keysetQuery(page), ...(filter.thingTypeName !== undefined ? { thingTypeName: filter.thingTypeName } : {}) });
    return toPage(rows, page, (t) => t.thingTypeName, (t) => this.toThingType(t));
  }
}
