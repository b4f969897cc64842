// End to end: the registry's AWS IoT operations on a real HTTP listener, driven by AWS's own
// SDK client (real SigV4, real serialisation, the SDK's exception classes).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  AddThingToThingGroupCommand,
  CreateBillingGroupCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  CreateThingTypeCommand,
  DeleteThingCommand,
  DeleteThingGroupCommand,
  DeleteThingTypeCommand,
  DeprecateThingTypeCommand,
  DescribeBillingGroupCommand,
  DescribeEventConfigurationsCommand,
  DescribeThingCommand,
  DescribeThingGroupCommand,
  DescribeThingTypeCommand,
  InvalidRequestException,
  IoTClient,
  ListThingGroupsCommand,
  ListThingGroupsForThingCommand,
  ListThingsInBillingGroupCommand,
  ListThingsInThingGroupCommand,
  ListThingTypesCommand,
  RemoveThingFromThingGroupCommand,
  ResourceAlreadyExistsException,
  ResourceNotFoundException,
  UpdateEventConfigurationsCommand,
  UpdateThingCommand,
  UpdateThingGroupCommand,
  UpdateThingGroupsForThingCommand,
  VersionConflictException,
  paginateListThings,
} from '@aws-sdk/client-iot';
import type { FastifyInstance } from 'fastify';
import { EventBus, openDatabase, type PublishInput, type SqliteDatabase } from '../core/index.js';
import { createAwsRestRouter, createHttpApp, iotModel, type IotOperations } from '../http/index.js';
import { createLogger } from '../lib/index.js';
import { createRegistry } from './index.js';

const REGION = 'eu-central-1';
const ACCOUNT = '123456789012';
const KEY = { accessKeyId: 'AKIATHINGPORTREG0001', secretAccessKey: 'thingport-registry-test-secret-0123456789' };

let app: FastifyInstance;
let db: SqliteDatabase;
let iot: IoTClient;
const published: { topic: string; payload: Record<string, unknown> }[] = [];
const clock = { offset: 0 };

before(async () => {
  const logger = createLogger('silent');
  db = openDatabase(':memory:');
  const messaging = {
    publish: async (p: PublishInput) => {
      published.push({ topic: p.topic, payload: JSON.parse(String(p.payload)) as Record<string, unknown> });
    },
  };
  const { iotHandlers } = createRegistry({ db, bus: new EventBus(), region: REGION, accountId: ACCOUNT, messaging, logger, now: () => Date.now() + clock.offset });
  app = createHttpApp({ logger, health: () => ({}), metrics: { render: async () => '', contentType: 'text/plain' } });
  createAwsRestRouter<IotOperations>(app, {
    service: iotModel,
    region: REGION,
    authenticate: (id) => (id === KEY.accessKeyId ? { secretAccessKey: KEY.secretAccessKey, principal: 'user/admin' } : null),
    handlers: iotHandlers,
    logger,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const endpoint = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  iot = new IoTClient({ endpoint, region: REGION, credentials: KEY, maxAttempts: 1 });
});

after(async () => {
  iot.destroy();
  await app.close();
  db.close();
});

async function rejects<T>(p: Promise<unknown>, cls: abstract new (...args: never[]) => T): Promise<T & Error & { $metadata: { httpStatusCode?: number } }> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${(err as Error).name}: ${(err as Error).message}`);
    return err as T & Error & { $metadata: { httpStatusCode?: number } };
  }
  throw new Error(`expected ${cls.name}`);
}

test('things: create, describe (defaultClientId, version), update with merge, version conflict, delete', async () => {
  const created = await iot.send(new CreateThingCommand({ thingName: 'lamp-1', attributePayload: { attributes: { room: 'kitchen', watt: '60' } } }));
  assert.equal(created.thingArn, `arn:aws:iot:${REGION}:${ACCOUNT}:thing/lamp-1`);
  assert.match(created.thingId ?? '', /^[0-9a-f-]{36}$/);
  const again = await iot.send(new CreateThingCommand({ thingName: 'lamp-1', attributePayload: { attributes: { watt: '60', room: 'kitchen' } } }));
  assert.equal(again.thingId, created.thingId, 'CreateThing with the same configuration succeeds');
  const exists = await rejects(iot.send(new CreateThingCommand({ thingName: 'lamp-1' })), ResourceAlreadyExistsException);
  assert.equal(exists.$metadata.httpStatusCode, 409);
  assert.equal(exists.resourceId, created.thingId);
  assert.equal(exists.resourceArn, created.thingArn);

  const d = await iot.send(new DescribeThingCommand({ thingName: 'lamp-1' }));
  assert.deepEqual(
    { defaultClientId: d.defaultClientId, thingName: d.thingName, thingId: d.thingId, thingArn: d.thingArn, attributes: d.attributes, version: d.version, thingTypeName: d.thingTypeName },
    { defaultClientId: 'lamp-1', thingName: 'lamp-1', thingId: created.thingId, thingArn: created.thingArn, attributes: { room: 'kitchen', watt: '60' }, version: 1, thingTypeName: undefined },
  );
  await iot.send(new UpdateThingCommand({ thingName: 'lamp-1', attributePayload: { attributes: { watt: '', colour: 'red' }, merge: true }, expectedVersion: 1 }));
  const d2 = await iot.send(new DescribeThingCommand({ thingName: 'lamp-1' }));
  assert.deepEqual([d2.attributes, d2.version], [{ colour: 'red', room: 'kitchen' }, 2]);
  const conflict = await rejects(iot.send(new UpdateThingCommand({ thingName: 'lamp-1', expectedVersion: 1 })), VersionConflictException);
  assert.equal(conflict.$metadata.httpStatusCode, 409);
  await rejects(iot.send(new DeleteThingCommand({ thingName: 'lamp-1', expectedVersion: 1 })), VersionConflictException);
  await iot.send(new DeleteThingCommand({ thingName: 'lamp-1', expectedVersion: 2 }));
  const gone = await rejects(iot.send(new DescribeThingCommand({ thingName: 'lamp-1' })), ResourceNotFoundException);
  assert.equal(gone.$metadata.httpStatusCode, 404);
  assert.match(gone.message, /Thing lamp-1 does not exist/);
  await iot.send(new DeleteThingCommand({ thingName: 'lamp-1' }));
  await rejects(iot.send(new UpdateThingCommand({ thingName: 'lamp-1' })), ResourceNotFoundException);
});

test('validation errors are InvalidRequestException naming the field (model rules at the edge, registry rules in the service)', async () => {
  const badName = await rejects(iot.send(new CreateThingCommand({ thingName: 'bad name!' })), InvalidRequestException);
  assert.match(badName.message, /thingName/);
  const tooMany = await rejects(iot.send(new CreateThingCommand({ thingName: 'many', attributePayload: { attributes: { a: '1', b: '2', c: '3', d: '4' } } })), InvalidRequestException);
  assert.match(tooMany.message, /^attributePayload\.attributes: a thing without a thing type can have at most 3 attributes/);
  await rejects(iot.send(new CreateThingCommand({ thingName: 'typed', thingTypeName: 'NoSuchType' })), ResourceNotFoundException);
  const tooSearchable = await rejects(
    iot.send(new CreateThingTypeCommand({ thingTypeName: 'Wide', thingTypeProperties: { searchableAttributes: ['a', 'b', 'c', 'd'] } })),
    InvalidRequestException,
  );
  assert.match(tooSearchable.message, /searchableAttributes/);
});

test('pagination: ListThings pages with nextToken through the SDK paginator; filters by type and attribute prefix', async () => {
  await iot.send(new CreateThingTypeCommand({ thingTypeName: 'Sensor', thingTypeProperties: { thingTypeDescription: 'a sensor', searchableAttributes: ['site'] } }));
  for (let i = 0; i < 7; i++) {
    await iot.send(new CreateThingCommand({ thingName: `sensor-${i}`, thingTypeName: i < 4 ? 'Sensor' : undefined, attributePayload: { attributes: { site: i % 2 === 0 ? `berlin-${i}` : 'paris' } } }));
  }
  const pages: string[][] = [];
  for await (const page of paginateListThings({ client: iot, pageSize: 3 }, {})) pages.push((page.things ?? []).map((t) => t.thingName!));
  assert.deepEqual(pages, [['sensor-0', 'sensor-1', 'sensor-2'], ['sensor-3', 'sensor-4', 'sensor-5'], ['sensor-6']]);
  const { ListThingsCommand } = await import('@aws-sdk/client-iot');
  const typed = await iot.send(new ListThingsCommand({ thingTypeName: 'Sensor' }));
  assert.deepEqual(typed.things?.map((t) => [t.thingName, t.thingTypeName, t.version]), [['sensor-0', 'Sensor', 1], ['sensor-1', 'Sensor', 1], ['sensor-2', 'Sensor', 1], ['sensor-3', 'Sensor', 1]]);
  const berlin = await iot.send(new ListThingsCommand({ attributeName: 'site', attributeValue: 'berlin', usePrefixAttributeValue: true }));
  assert.deepEqual(berlin.things?.map((t) => t.thingName), ['sensor-0', 'sensor-2', 'sensor-4', 'sensor-6']);
  await rejects(iot.send(new ListThingsCommand({ nextToken: 'forged' })), InvalidRequestException);
});

test('thing types: describe, deprecate, list, delete only five minutes after deprecation', async () => {
  const d = await iot.send(new DescribeThingTypeCommand({ thingTypeName: 'Sensor' }));
  assert.equal(d.thingTypeArn, `arn:aws:iot:${REGION}:${ACCOUNT}:thingtype/Sensor`);
  assert.deepEqual(d.thingTypeProperties, { thingTypeDescription: 'a sensor', searchableAttributes: ['site'] });
  assert.equal(d.thingTypeMetadata?.deprecated, false);
  assert.ok(d.thingTypeMetadata?.creationDate instanceof Date);
  await rejects(iot.send(new DeleteThingTypeCommand({ thingTypeName: 'Sensor' })), InvalidRequestException);
  await iot.send(new DeprecateThingTypeCommand({ thingTypeName: 'Sensor' }));
  const dep = await iot.send(new DescribeThingTypeCommand({ thingTypeName: 'Sensor' }));
  assert.equal(dep.thingTypeMetadata?.deprecated, true);
  assert.ok(dep.thingTypeMetadata?.deprecationDate instanceof Date);
  const refused = await rejects(iot.send(new CreateThingCommand({ thingName: 'late', thingTypeName: 'Sensor' })), InvalidRequestException);
  assert.match(refused.message, /deprecated/);
  const listed = await iot.send(new ListThingTypesCommand({}));
  assert.deepEqual(listed.thingTypes?.map((t) => [t.thingTypeName, t.thingTypeMetadata?.deprecated]), [['Sensor', true]]);
  await rejects(iot.send(new DeleteThingTypeCommand({ thingTypeName: 'Sensor' })), InvalidRequestException);
  for (let i = 0; i < 4; i++) await iot.send(new UpdateThingCommand({ thingName: `sensor-${i}`, removeThingType: true }));
  clock.offset += 5 * 60 * 1000;
  await iot.send(new DeleteThingTypeCommand({ thingTypeName: 'Sensor' }));
  await rejects(iot.send(new DescribeThingTypeCommand({ thingTypeName: 'Sensor' })), ResourceNotFoundException);
});

test('thing groups: hierarchy, rootToParentThingGroups, recursive listings, versions, delete refused with children', async () => {
  await iot.send(new CreateThingGroupCommand({ thingGroupName: 'site', thingGroupProperties: { thingGroupDescription: 'all', attributePayload: { attributes: { city: 'berlin' } } } }));
  await iot.send(new CreateThingGroupCommand({ thingGroupName: 'floor-1', parentGroupName: 'site' }));
  const room = await iot.send(new CreateThingGroupCommand({ thingGroupName: 'room-101', parentGroupName: 'floor-1' }));
  assert.equal(room.thingGroupArn, `arn:aws:iot:${REGION}:${ACCOUNT}:thinggroup/room-101`);
  const d = await iot.send(new DescribeThingGroupCommand({ thingGroupName: 'room-101' }));
  assert.equal(d.version, 1);
  assert.equal(d.thingGroupMetadata?.parentGroupName, 'floor-1');
  assert.deepEqual(d.thingGroupMetadata?.rootToParentThingGroups?.map((g) => g.groupName), ['site', 'floor-1']);
  await rejects(iot.send(new CreateThingGroupCommand({ thingGroupName: 'x', parentGroupName: 'nowhere' })), ResourceNotFoundException);

  await iot.send(new AddThingToThingGroupCommand({ thingName: 'sensor-0', thingGroupName: 'room-101' }));
  await iot.send(new AddThingToThingGroupCommand({ thingArn: `arn:aws:iot:${REGION}:${ACCOUNT}:thing/sensor-1`, thingGroupName: 'floor-1' }));
  await iot.send(new UpdateThingGroupsForThingCommand({ thingName: 'sensor-2', thingGroupsToAdd: ['site', 'floor-1'] }));
  const direct = await iot.send(new ListThingsInThingGroupCommand({ thingGroupName: 'site' }));
  assert.deepEqual(direct.things, ['sensor-2']);
  const all = await iot.send(new ListThingsInThingGroupCommand({ thingGroupName: 'site', recursive: true }));
  assert.deepEqual(all.things, ['sensor-0', 'sensor-1', 'sensor-2']);
  const children = await iot.send(new ListThingGroupsCommand({ parentGroup: 'site' }));
  assert.deepEqual(children.thingGroups?.map((g) => g.groupName), ['floor-1']);
  const descendants = await iot.send(new ListThingGroupsCommand({ parentGroup: 'site', recursive: true }));
  assert.deepEqual(descendants.thingGroups?.map((g) => g.groupName), ['floor-1', 'room-101']);
  const forThing = await iot.send(new ListThingGroupsForThingCommand({ thingName: 'sensor-0' }));
  assert.deepEqual(forThing.thingGroups?.map((g) => g.groupName), ['floor-1', 'room-101', 'site']);

  const v = await iot.send(new UpdateThingGroupCommand({ thingGroupName: 'site', thingGroupProperties: { attributePayload: { attributes: { zip: '10115' }, merge: true } }, expectedVersion: 1 }));
  assert.equal(v.version, 2);
  await rejects(iot.send(new UpdateThingGroupCommand({ thingGroupName: 'site', thingGroupProperties: {}, expectedVersion: 1 })), VersionConflictException);
  const site = await iot.send(new DescribeThingGroupCommand({ thingGroupName: 'site' }));
  assert.deepEqual(site.thingGroupProperties, { thingGroupDescription: 'all', attributePayload: { attributes: { city: 'berlin', zip: '10115' } } });

  const refused = await rejects(iot.send(new DeleteThingGroupCommand({ thingGroupName: 'floor-1' })), InvalidRequestException);
  assert.match(refused.message, /still child groups/);
  await iot.send(new RemoveThingFromThingGroupCommand({ thingName: 'sensor-0', thingGroupName: 'room-101' }));
  await iot.send(new DeleteThingGroupCommand({ thingGroupName: 'room-101' }));
  await rejects(iot.send(new DescribeThingGroupCommand({ thingGroupName: 'room-101' })), ResourceNotFoundException);
  await rejects(iot.send(new ListThingsInThingGroupCommand({ thingGroupName: 'room-101' })), ResourceNotFoundException);
});

test('billing groups: create, describe, things', async () => {
  const b = await iot.send(new CreateBillingGroupCommand({ billingGroupName: 'ops', billingGroupProperties: { billingGroupDescription: 'operations' } }));
  assert.equal(b.billingGroupArn, `arn:aws:iot:${REGION}:${ACCOUNT}:billinggroup/ops`);
  await iot.send(new CreateThingCommand({ thingName: 'billed', billingGroupName: 'ops' }));
  const d = await iot.send(new DescribeBillingGroupCommand({ billingGroupName: 'ops' }));
  assert.deepEqual([d.version, d.billingGroupProperties?.billingGroupDescription], [1, 'operations']);
  assert.equal((await iot.send(new DescribeThingCommand({ thingName: 'billed' }))).billingGroupName, 'ops');
  assert.deepEqual((await iot.send(new ListThingsInBillingGroupCommand({ billingGroupName: 'ops' }))).things, ['billed']);
});

test('registry events: enabled with UpdateEventConfigurations, published on $aws/events topics', async () => {
  await iot.send(new UpdateEventConfigurationsCommand({ eventConfigurations: { THING: { Enabled: true }, THING_GROUP_MEMBERSHIP: { Enabled: true } } }));
  const c = await iot.send(new DescribeEventConfigurationsCommand({}));
  assert.deepEqual(c.eventConfigurations?.THING, { Enabled: true });
  assert.deepEqual(c.eventConfigurations?.JOB, { Enabled: false });
  assert.ok(c.creationDate instanceof Date && c.lastModifiedDate instanceof Date);
  published.length = 0;
  const t = await iot.send(new CreateThingCommand({ thingName: 'evented', attributePayload: { attributes: { a: '1' } } }));
  await iot.send(new AddThingToThingGroupCommand({ thingName: 'evented', thingGroupName: 'site' }));
  await iot.send(new DeleteThingCommand({ thingName: 'evented' }));
  assert.deepEqual(published.map((p) => p.topic), [
    '$aws/events/thing/evented/created',
    '$aws/events/thingGroupMembership/thingGroup/site/thing/evented/added',
    '$aws/events/thingGroupMembership/thingGroup/site/thing/evented/removed',
    '$aws/events/thing/evented/deleted',
  ]);
  assert.deepEqual(
    { eventType: published[0]!.payload.eventType, operation: published[0]!.payload.operation, accountId: published[0]!.payload.accountId, thingId: published[0]!.payload.thingId, versionNumber: published[0]!.payload.versionNumber },
    { eventType: 'THING_EVENT', operation: 'CREATED', accountId: ACCOUNT, thingId: t.thingId, versionNumber: 1 },
  );
  assert.equal(typeof published[0]!.payload.timestamp, 'number');
});
