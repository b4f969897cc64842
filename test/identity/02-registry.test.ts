/**
 * 02 — The thing registry through `@aws-sdk/client-iot`: things (attributes, versions, filters,
 * pagination), thing types (deprecation), static thing groups (hierarchy, membership, recursion),
 * the SDK's modelled exception classes, and registry events on `$aws/events/...` once enabled
 * with UpdateEventConfigurations (received by an anonymous loopback subscriber).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AddThingToThingGroupCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  CreateThingTypeCommand,
  DeleteThingCommand,
  DeleteThingTypeCommand,
  DeprecateThingTypeCommand,
  DescribeEventConfigurationsCommand,
  DescribeThingCommand,
  DescribeThingGroupCommand,
  DescribeThingTypeCommand,
  InvalidRequestException,
  ListThingGroupsForThingCommand,
  ListThingsCommand,
  ListThingsInThingGroupCommand,
  RemoveThingFromThingGroupCommand,
  ResourceAlreadyExistsException,
  ResourceNotFoundException,
  UpdateEventConfigurationsCommand,
  UpdateThingCommand,
  UpdateThingGroupsForThingCommand,
  VersionConflictException,
  paginateListThings,
  type IoTClient,
} from '@aws-sdk/client-iot';
import { connectClient, type TestClient } from '../helpers/mqtt.js';
import { arnPrefix, expectAwsError, iotClient } from '../helpers/iot.js';
import { randomClientId } from '../helpers/raw-client.js';
import { startThingport, type Thingport } from '../helpers/thingport.js';

interface RegistryEvent {
  eventType: string;
  eventId: string;
  timestamp: number;
  operation: string;
  accountId?: string;
  thingName?: string;
  thingId?: string;
  versionNumber?: number;
  attributes?: Record<string, string>;
  thingGroupName?: string;
  groupArn?: string;
  thingArn?: string;
  membershipId?: string;
}

describe('02 registry', () => {
  let tp: Thingport;
  let iot: IoTClient;
  let events: TestClient;
  before(async () => {
    tp = await startThingport();
    iot = iotClient(tp);
    // Anonymous from loopback: admitted and not subject to policies (mqtt.anonymousLoopback, default on).
    events = await connectClient(tp.mqttPort, { protocolVersion: 5, clientId: randomClientId('events02') });
    await events.subscribe(['$aws/events/thing/#', '$aws/events/thingGroup/#', '$aws/events/thingGroupMembership/#', '$aws/events/thingType/#'], { qos: 1 });
  });
  after(async () => {
    await events?.end();
    iot?.destroy();
    await tp?.stop();
  });

  const eventOf = async (topic: string): Promise<RegistryEvent> => JSON.parse((await events.waitMessage(topic, 5_000)).payload.toString()) as RegistryEvent;

  test('[AWS CreateThing/DescribeThing] attributes, version 1, ARN arn:aws:iot:{region}:{account}:thing/{name}, defaultClientId = thing name', async () => {
    const created = await iot.send(new CreateThingCommand({ thingName: 'lamp-1', attributePayload: { attributes: { room: 'kitchen', watts: '40' } } }));
    assert.equal(created.thingArn, `${arnPrefix(tp)}thing/lamp-1`);
    assert.match(created.thingId ?? '', /^[0-9a-f-]{36}$/);
    const d = await iot.send(new DescribeThingCommand({ thingName: 'lamp-1' }));
    assert.deepEqual(d.attributes, { room: 'kitchen', watts: '40' });
    assert.equal(d.version, 1);
    assert.equal(d.defaultClientId, 'lamp-1');
    assert.equal(d.thingId, created.thingId);
  });

  test('[AWS CreateThing] the same thing again is idempotent; with other attributes: ResourceAlreadyExistsException (409)', async () => {
    const again = await iot.send(new CreateThingCommand({ thingName: 'lamp-1', attributePayload: { attributes: { room: 'kitchen', watts: '40' } } }));
    assert.equal(again.thingName, 'lamp-1');
    await expectAwsError(iot.send(new CreateThingCommand({ thingName: 'lamp-1', attributePayload: { attributes: { room: 'hall' } } })), 'ResourceAlreadyExistsException', {
      status: 409,
      cls: ResourceAlreadyExistsException,
    });
  });

  test('[AWS UpdateThing expectedVersion] merge bumps the version; a stale expectedVersion: VersionConflictException (409)', async () => {
    await iot.send(new UpdateThingCommand({ thingName: 'lamp-1', attributePayload: { attributes: { watts: '60' }, merge: true }, expectedVersion: 1 }));
    const d = await iot.send(new DescribeThingCommand({ thingName: 'lamp-1' }));
    assert.equal(d.version, 2);
    assert.deepEqual(d.attributes, { room: 'kitchen', watts: '60' });
    await expectAwsError(iot.send(new UpdateThingCommand({ thingName: 'lamp-1', attributePayload: { attributes: { watts: '75' } }, expectedVersion: 1 })), 'VersionConflictException', {
      status: 409,
      cls: VersionConflictException,
    });
  });

  test('[AWS errors] a missing thing: ResourceNotFoundException (404); a bad name: InvalidRequestException (400) naming the field', async () => {
    await expectAwsError(iot.send(new DescribeThingCommand({ thingName: 'no-such-thing' })), 'ResourceNotFoundException', { status: 404, cls: ResourceNotFoundException });
    await expectAwsError(iot.send(new CreateThingCommand({ thingName: 'bad name' })), 'InvalidRequestException', { status: 400, cls: InvalidRequestException, message: /thingName/ });
    await expectAwsError(iot.send(new CreateThingCommand({ thingName: 'x'.repeat(129) })), 'InvalidRequestException', { status: 400, message: /thingName/ });
    // AWS: a thing without a type has at most 3 attributes.
    await expectAwsError(
      iot.send(new CreateThingCommand({ thingName: 'too-many-attrs', attributePayload: { attributes: { a: '1', b: '2', c: '3', d: '4' } } })),
      'InvalidRequestException',
      { status: 400 },
    );
  });

  test('[AWS ListThings] attribute and thing-type filters; nextToken/maxResults pages cover every thing once', async () => {
    await iot.send(new CreateThingTypeCommand({ thingTypeName: 'sensor', thingTypeProperties: { thingTypeDescription: 'a sensor', searchableAttributes: ['floor'] } }));
    for (let i = 0; i < 5; i++) {
      await iot.send(new CreateThingCommand({ thingName: `sensor-${i}`, thingTypeName: 'sensor', attributePayload: { attributes: { floor: i < 2 ? '1' : '2' } } }));
    }
    const byType = await iot.send(new ListThingsCommand({ thingTypeName: 'sensor' }));
    assert.deepEqual(byType.things?.map((t) => t.thingName).sort(), ['sensor-0', 'sensor-1', 'sensor-2', 'sensor-3', 'sensor-4']);
    const byAttr = await iot.send(new ListThingsCommand({ attributeName: 'floor', attributeValue: '1' }));
    assert.deepEqual(byAttr.things?.map((t) => t.thingName).sort(), ['sensor-0', 'sensor-1']);
    assert.equal(byAttr.things?.[0]?.thingTypeName, 'sensor');

    const seen: string[] = [];
    let pages = 0;
    for await (const page of paginateListThings({ client: iot, pageSize: 2 }, { thingTypeName: 'sensor' })) {
      pages++;
      assert.ok((page.things?.length ?? 0) <= 2);
      seen.push(...(page.things ?? []).map((t) => t.thingName ?? ''));
    }
    assert.equal(pages, 3);
    assert.deepEqual(seen.sort(), ['sensor-0', 'sensor-1', 'sensor-2', 'sensor-3', 'sensor-4']);
    await expectAwsError(iot.send(new ListThingsCommand({ nextToken: 'not-a-token' })), 'InvalidRequestException', { status: 400 });
  });

  test('[AWS thing types] deprecated types take no new things; undeprecate; DeleteThingType waits 5 minutes after deprecation', async () => {
    const d = await iot.send(new DescribeThingTypeCommand({ thingTypeName: 'sensor' }));
    assert.deepEqual(d.thingTypeProperties?.searchableAttributes, ['floor']);
    assert.equal(d.thingTypeMetadata?.deprecated, false);
    assert.equal(d.thingTypeArn, `${arnPrefix(tp)}thingtype/sensor`);
    await iot.send(new DeprecateThingTypeCommand({ thingTypeName: 'sensor' }));
    assert.equal((await iot.send(new DescribeThingTypeCommand({ thingTypeName: 'sensor' }))).thingTypeMetadata?.deprecated, true);
    await expectAwsError(iot.send(new CreateThingCommand({ thingName: 'sensor-late', thingTypeName: 'sensor' })), 'InvalidRequestException', { status: 400, message: /deprecated/ });
    await expectAwsError(iot.send(new DeleteThingTypeCommand({ thingTypeName: 'sensor' })), 'InvalidRequestException', { status: 400, message: /seconds/ });
    await iot.send(new DeprecateThingTypeCommand({ thingTypeName: 'sensor', undoDeprecate: true }));
    await iot.send(new CreateThingCommand({ thingName: 'sensor-late', thingTypeName: 'sensor' }));
  });

  test('[AWS thing groups] a hierarchy; ListThingsInThingGroup recursive reaches child groups; ListThingGroupsForThing includes parent groups; UpdateThingGroupsForThing', async () => {
    await iot.send(new CreateThingGroupCommand({ thingGroupName: 'building' }));
    await iot.send(new CreateThingGroupCommand({ thingGroupName: 'floor-1', parentGroupName: 'building' }));
    await iot.send(new CreateThingGroupCommand({ thingGroupName: 'floor-2', parentGroupName: 'building' }));
    const g = await iot.send(new DescribeThingGroupCommand({ thingGroupName: 'floor-1' }));
    assert.equal(g.thingGroupMetadata?.parentGroupName, 'building');
    assert.deepEqual(g.thingGroupMetadata?.rootToParentThingGroups?.map((r) => r.groupName), ['building']);
    assert.equal(g.thingGroupArn, `${arnPrefix(tp)}thinggroup/floor-1`);

    await iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'floor-1', thingName: 'sensor-0' }));
    await iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'floor-2', thingName: 'sensor-2' }));
    const direct = await iot.send(new ListThingsInThingGroupCommand({ thingGroupName: 'building' }));
    assert.deepEqual(direct.things, []);
    const all = await iot.send(new ListThingsInThingGroupCommand({ thingGroupName: 'building', recursive: true }));
    assert.deepEqual(all.things?.sort(), ['sensor-0', 'sensor-2']);
    // The developer guide: the thing's groups "including any parent groups".
    const groups = await iot.send(new ListThingGroupsForThingCommand({ thingName: 'sensor-0' }));
    assert.deepEqual(groups.thingGroups?.map((x) => x.groupName).sort(), ['building', 'floor-1']);

    await iot.send(new UpdateThingGroupsForThingCommand({ thingName: 'sensor-0', thingGroupsToAdd: ['floor-2'], thingGroupsToRemove: ['floor-1'] }));
    const after = await iot.send(new ListThingGroupsForThingCommand({ thingName: 'sensor-0' }));
    assert.deepEqual(after.thingGroups?.map((x) => x.groupName).sort(), ['building', 'floor-2']);
    await iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: 'floor-2', thingName: 'sensor-0' }));
    await expectAwsError(iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'no-such-group', thingName: 'sensor-0' })), 'ResourceNotFoundException', { status: 404 });
  });

  test('[AWS thing groups] a hierarchy is at most 7 levels deep: the 8th level is InvalidRequestException', async () => {
    let parent: string | undefined;
    for (let level = 1; level <= 7; level++) {
      const name = `depth-${level}`;
      await iot.send(new CreateThingGroupCommand({ thingGroupName: name, ...(parent ? { parentGroupName: parent } : {}) }));
      parent = name;
    }
    await expectAwsError(iot.send(new CreateThingGroupCommand({ thingGroupName: 'depth-8', parentGroupName: 'depth-7' })), 'InvalidRequestException', {
      status: 400,
      message: /parentGroupName/,
    });
  });

  test('[AWS registry events] off by default; after UpdateEventConfigurations THING: created/updated/deleted on $aws/events/thing/{name}/...', async () => {
    const before0 = await iot.send(new DescribeEventConfigurationsCommand({}));
    assert.equal(before0.eventConfigurations?.THING?.Enabled, false);
    // Created while events are off: no event (checked below, once a later event has arrived).
    await iot.send(new CreateThingCommand({ thingName: 'quiet-thing' }));

    await iot.send(
      new UpdateEventConfigurationsCommand({
        eventConfigurations: { THING: { Enabled: true }, THING_GROUP: { Enabled: true }, THING_GROUP_MEMBERSHIP: { Enabled: true } },
      }),
    );
    const now = await iot.send(new DescribeEventConfigurationsCommand({}));
    assert.equal(now.eventConfigurations?.THING?.Enabled, true);
    assert.equal(now.eventConfigurations?.THING_TYPE?.Enabled, false);

    const t0 = Date.now();
    const created = await iot.send(new CreateThingCommand({ thingName: 'evented', attributePayload: { attributes: { k: 'v' } } }));
    const c = await eventOf('$aws/events/thing/evented/created');
    assert.equal(c.eventType, 'THING_EVENT');
    assert.equal(c.operation, 'CREATED');
    assert.equal(c.accountId, tp.endpoints.accountId);
    assert.equal(c.thingName, 'evented');
    assert.equal(c.thingId, created.thingId);
    assert.equal(c.versionNumber, 1);
    assert.deepEqual(c.attributes, { k: 'v' });
    assert.ok(c.timestamp >= t0 - 1_000 && c.timestamp <= Date.now() + 1_000, 'timestamp is epoch ms');
    assert.equal(events.matching((m) => m.topic.startsWith('$aws/events/thing/quiet-thing/')).length, 0, 'no event while disabled');

    await iot.send(new UpdateThingCommand({ thingName: 'evented', attributePayload: { attributes: { k: 'w' } } }));
    const u = await eventOf('$aws/events/thing/evented/updated');
    assert.equal(u.operation, 'UPDATED');
    assert.equal(u.versionNumber, 2);
    await iot.send(new DeleteThingCommand({ thingName: 'evented' }));
    assert.equal((await eventOf('$aws/events/thing/evented/deleted')).operation, 'DELETED');
  });

  test('[AWS registry events] thing group created and membership added/removed', async () => {
    await iot.send(new CreateThingGroupCommand({ thingGroupName: 'evented-group' }));
    const g = await eventOf('$aws/events/thingGroup/evented-group/created');
    assert.equal(g.eventType, 'THING_GROUP_EVENT');
    assert.equal(g.thingGroupName, 'evented-group');

    await iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'evented-group', thingName: 'lamp-1' }));
    const added = await eventOf('$aws/events/thingGroupMembership/thingGroup/evented-group/thing/lamp-1/added');
    assert.equal(added.eventType, 'THING_GROUP_MEMBERSHIP_EVENT');
    assert.equal(added.operation, 'ADDED');
    assert.equal(added.groupArn, `${arnPrefix(tp)}thinggroup/evented-group`);
    assert.equal(added.thingArn, `${arnPrefix(tp)}thing/lamp-1`);
    await iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: 'evented-group', thingName: 'lamp-1' }));
    const removed = await eventOf('$aws/events/thingGroupMembership/thingGroup/evented-group/thing/lamp-1/removed');
    assert.equal(removed.operation, 'REMOVED');
    assert.equal(removed.membershipId, added.membershipId);
  });
});
