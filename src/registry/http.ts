/**
 * The registry's AWS IoT API operations: each handler translates the model's input to a
 * service call and the result to the model's output. Registry errors become AWS errors through
 * one table; the router validated the input against the model before the handler runs.
 */
import { AwsServiceError, type AwsHandlers, type IotOperations } from '../http/index.js';
import { RegistryError, type RegistryErrorCode } from './errors.js';
import type { BillingGroup, EventType, Page, Thing, ThingGroup, ThingType } from './model.js';
import type { RegistryService } from './service.js';

/** Registry error codes -> AWS IoT error types (statuses come from the service model). */
const AWS_ERROR_TYPES: Record<RegistryErrorCode, string> = {
  'registry.not_found': 'ResourceNotFoundException',
  'registry.already_exists': 'ResourceAlreadyExistsException',
  'registry.invalid_request': 'InvalidRequestException',
  'registry.version_conflict': 'VersionConflictException',
};

function toAwsError(err: unknown): unknown {
  if (!(err instanceof RegistryError)) return err;
  return new AwsServiceError(AWS_ERROR_TYPES[err.code], err.message, err.status, { cause: err, ...(err.details ? { fields: err.details } : {}) });
}

/** Wraps every handler so a RegistryError leaves as the matching AWS error. */
function translateErrors(handlers: AwsHandlers<IotOperations>): AwsHandlers<IotOperations> {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(handlers) as [string, (input: unknown, ctx: unknown) => unknown][]) {
    out[name] = (input: unknown, ctx: unknown) => {
      try {
        return fn(input, ctx);
      } catch (err) {
        throw toAwsError(err);
      }
    };
  }
  return out as AwsHandlers<IotOperations>;
}

const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v);
const date = (ms: number | null): Date | undefined => (ms === null ? undefined : new Date(ms));
const page = <T, K extends string>(p: Page<T>, key: K): Record<K, T[]> & { nextToken?: string } =>
  ({ [key]: p.items, ...(p.nextToken !== undefined ? { nextToken: p.nextToken } : {}) }) as Record<K, T[]> & { nextToken?: string };

const thingAttribute = (t: Thing) => ({ thingName: t.thingName, thingTypeName: opt(t.thingTypeName), thingArn: t.thingArn, attributes: t.attributes, version: t.version });

const thingTypeDefinition = (t: ThingType) => ({
  thingTypeName: t.thingTypeName,
  thingTypeArn: t.thingTypeArn,
  thingTypeProperties: { thingTypeDescription: opt(t.description), searchableAttributes: t.searchableAttributes },
  thingTypeMetadata: { deprecated: t.deprecated, deprecationDate: date(t.deprecationDate), creationDate: new Date(t.creationDate) },
});

const describeGroup = (g: ThingGroup) => ({
  thingGroupName: g.thingGroupName,
  thingGroupId: g.thingGroupId,
  thingGroupArn: g.thingGroupArn,
  version: g.version,
  thingGroupProperties: { thingGroupDescription: opt(g.description), attributePayload: { attributes: g.attributes } },
  thingGroupMetadata: { parentGroupName: opt(g.parentGroupName), rootToParentThingGroups: g.rootToParentThingGroups, creationDate: new Date(g.creationDate) },
});

const describeBilling = (g: BillingGroup) => ({
  billingGroupName: g.billingGroupName,
  billingGroupId: g.billingGroupId,
  billingGroupArn: g.billingGroupArn,
  version: g.version,
  billingGroupProperties: { billingGroupDescription: opt(g.description) },
  billingGroupMetadata: { creationDate: new Date(g.creationDate) },
});

/** The handlers of every registry operation of the IoT model, for `createAwsRestRouter`. */
export function createRegistryHandlers(svc: RegistryService): AwsHandlers<IotOperations> {
  return translateErrors({
    CreateThing: (i) => {
      const t = svc.createThing({ thingName: i.thingName, thingTypeName: i.thingTypeName, attributes: i.attributePayload?.attributes, billingGroupName: i.billingGroupName });
      return { thingName: t.thingName, thingArn: t.thingArn, thingId: t.thingId };
    },
    DescribeThing: (i) => {
      const t = svc.describeThing(i.thingName);
      // AWS: the default MQTT client id is the thing name.
      return { defaultClientId: t.thingName, ...thingAttribute(t), thingId: t.thingId, billingGroupName: opt(t.billingGroupName) };
    },
    UpdateThing: (i) => {
      svc.updateThing(i.thingName, {
        thingTypeName: i.thingTypeName,
        removeThingType: i.removeThingType,
        attributes: i.attributePayload?.attributes,
        merge: i.attributePayload?.merge,
        expectedVersion: i.expectedVersion,
      });
      return {};
    },
    DeleteThing: (i) => (svc.deleteThing(i.thingName, { expectedVersion: i.expectedVersion }), {}),
    ListThings: (i) => {
      const p = svc.listThings({ attributeName: i.attributeName, attributeValue: i.attributeValue, usePrefixAttributeValue: i.usePrefixAttributeValue, thingTypeName: i.thingTypeName }, i);
      return page({ items: p.items.map(thingAttribute), nextToken: p.nextToken }, 'things');
    },

    CreateThingType: (i) => {
      const t = svc.createThingType({ thingTypeName: i.thingTypeName, description: i.thingTypeProperties?.thingTypeDescription, searchableAttributes: i.thingTypeProperties?.searchableAttributes });
      return { thingTypeName: t.thingTypeName, thingTypeArn: t.thingTypeArn, thingTypeId: t.thingTypeId };
    },
    DescribeThingType: (i) => {
      const t = svc.describeThingType(i.thingTypeName);
      return { ...thingTypeDefinition(t), thingTypeId: t.thingTypeId };
    },
    DeprecateThingType: (i) => (svc.deprecateThingType(i.thingTypeName, { undoDeprecate: i.undoDeprecate }), {}),
    DeleteThingType: (i) => (svc.deleteThingType(i.thingTypeName), {}),
    ListThingTypes: (i) => {
      const p = svc.listThingTypes({ thingTypeName: i.thingTypeName }, i);
      return page({ items: p.items.map(thingTypeDefinition), nextToken: p.nextToken }, 'thingTypes');
    },

    CreateThingGroup: (i) => {
      const g = svc.createThingGroup({
        thingGroupName: i.thingGroupName,
        parentGroupName: i.parentGroupName,
        description: i.thingGroupProperties?.thingGroupDescription,
        attributes: i.thingGroupProperties?.attributePayload?.attributes,
      });
      return { thingGroupName: g.thingGroupName, thingGroupArn: g.thingGroupArn, thingGroupId: g.thingGroupId };
    },
    DescribeThingGroup: (i) => describeGroup(svc.describeThingGroup(i.thingGroupName)),
    UpdateThingGroup: (i) => {
      const props = i.thingGroupProperties;
      const version = svc.updateThingGroup(i.thingGroupName, {
        description: props.thingGroupDescription,
        attributes: props.attributePayload?.attributes,
        merge: props.attributePayload?.merge,
        expectedVersion: i.expectedVersion,
      });
      return { version };
    },
    DeleteThingGroup: (i) => (svc.deleteThingGroup(i.thingGroupName, { expectedVersion: i.expectedVersion }), {}),
    ListThingGroups: (i) => page(svc.listThingGroups({ parentGroup: i.parentGroup, namePrefixFilter: i.namePrefixFilter, recursive: i.recursive }, i), 'thingGroups'),
    AddThingToThingGroup: (i) => (svc.addThingToThingGroup(i), {}),
    RemoveThingFromThingGroup: (i) => (svc.removeThingFromThingGroup(i), {}),
    UpdateThingGroupsForThing: (i) => (svc.updateThingGroupsForThing(i), {}),
    ListThingsInThingGroup: (i) => page(svc.listThingsInThingGroup(i.thingGroupName, { recursive: i.recursive }, i), 'things'),
    ListThingGroupsForThing: (i) => page(svc.listThingGroupsForThing(i.thingName, i), 'thingGroups'),

    CreateBillingGroup: (i) => {
      const g = svc.createBillingGroup({ billingGroupName: i.billingGroupName, description: i.billingGroupProperties?.billingGroupDescription });
      return { billingGroupName: g.billingGroupName, billingGroupArn: g.billingGroupArn, billingGroupId: g.billingGroupId };
    },
    DescribeBillingGroup: (i) => describeBilling(svc.describeBillingGroup(i.billingGroupName)),
    UpdateBillingGroup: (i) => ({
      version: svc.updateBillingGroup(i.billingGroupName, { description: i.billingGroupProperties.billingGroupDescription, expectedVersion: i.expectedVersion }),
    }),
    DeleteBillingGroup: (i) => (svc.deleteBillingGroup(i.billingGroupName, { expectedVersion: i.expectedVersion }), {}),
    ListBillingGroups: (i) => page(svc.listBillingGroups({ namePrefixFilter: i.namePrefixFilter }, i), 'billingGroups'),
    AddThingToBillingGroup: (i) => (svc.addThingToBillingGroup(i), {}),
    RemoveThingFromBillingGroup: (i) => (svc.removeThingFromBillingGroup(i), {}),
    ListThingsInBillingGroup: (i) => page(svc.listThingsInBillingGroup(i.billingGroupName, i), 'things'),

    UpdateEventConfigurations: (i) => {
      const changes: Partial<Record<string, boolean>> = {};
      // A configuration without `Enabled` turns the type off, as an absent boolean is false.
      for (const [type, c] of Object.entries(i.eventConfigurations ?? {})) changes[type] = c.Enabled === true;
      svc.updateEventConfigurations(changes);
      return {};
    },
    DescribeEventConfigurations: () => {
      const c = svc.describeEventConfigurations();
      const eventConfigurations: Record<string, { Enabled: boolean }> = {};
      for (const [type, enabled] of Object.entries(c.eventConfigurations) as [EventType, boolean][]) eventConfigurations[type] = { Enabled: enabled };
      return { eventConfigurations, creationDate: date(c.creationDate), lastModifiedDate: date(c.lastModifiedDate) };
    },
  });
}
