import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EVENT_TYPES } from './model.js';
import { ACCOUNT, REGION, registryFixture } from './test-fixture.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

test('events are off until enabled; DescribeEventConfigurations lists every type', () => {
  const { service, published } = registryFixture();
  const c = service.describeEventConfigurations();
  assert.deepEqual(Object.keys(c.eventConfigurations), [...EVENT_TYPES]);
  assert.ok(Object.values(c.eventConfigurations).every((e) => e === false));
  assert.equal(c.creationDate, null);
  service.createThing({ thingName: 't' });
  assert.deepEqual(published, []);
});

test('event configuration is persisted, partial updates keep other types, unknown types are refused', () => {
  const { service, reopen, clock } = registryFixture();
  service.updateEventConfigurations({ THING: true, JOB: true });
  const created = clock.now;
  clock.now += 5000;
  service.updateEventConfigurations({ JOB: false });
  const again = reopen();
  const c = again.describeEventConfigurations();
  assert.equal(c.eventConfigurations.THING, true);
  assert.equal(c.eventConfigurations.JOB, false);
  assert.equal(c.creationDate, created);
  assert.equal(c.lastModifiedDate, created + 5000);
  assert.equal(again.isEventEnabled('THING'), true);
  assert.throws(() => service.updateEventConfigurations({ NOPE: true }), /eventConfigurations: unknown event type NOPE/);
});

test('[guide Registry events] thing created/updated/deleted: topic and payload fields', () => {
  const { service, published, clock } = registryFixture();
  service.updateEventConfigurations({ THING: true });
  const t = service.createThing({ thingName: 'MyThing', attributes: { attribute1: 'value1' } });
  service.updateThing('MyThing', { attributes: { attribute2: 'value2' }, merge: true });
  service.deleteThing('MyThing');
  assert.deepEqual(published.map((p) => p.topic), ['$aws/events/thing/MyThing/created', '$aws/events/thing/MyThing/updated', '$aws/events/thing/MyThing/deleted']);
  const [created, updated] = published;
  assert.match(String(created!.payload.eventId), UUID);
  assert.equal(created!.qos, 1);
  assert.deepEqual({ ...created!.payload, eventId: 'x' }, {
    eventType: 'THING_EVENT',
    eventId: 'x',
    timestamp: clock.now,
    operation: 'CREATED',
    accountId: ACCOUNT,
    thingId: t.thingId,
    thingName: 'MyThing',
    versionNumber: 1,
    thingTypeName: null,
    attributes: { attribute1: 'value1' },
  });
  assert.equal(updated!.payload.operation, 'UPDATED');
  assert.equal(updated!.payload.versionNumber, 2);
  assert.deepEqual(updated!.payload.attributes, { attribute1: 'value1', attribute2: 'value2' });
});

test('[guide Registry events] thing type events, including deprecation as updated', () => {
  const { service, published, clock } = registryFixture();
  service.updateEventConfigurations({ THING_TYPE: true });
  const t = service.createThingType({ thingTypeName: 'MyThingType', description: 'My thing type', searchableAttributes: ['attribute1'] });
  service.deprecateThingType('MyThingType');
  assert.deepEqual(published.map((p) => p.topic), ['$aws/events/thingType/MyThingType/created', '$aws/events/thingType/MyThingType/updated']);
  assert.deepEqual({ ...published[1]!.payload, eventId: 'x' }, {
    eventType: 'THING_TYPE_EVENT',
    eventId: 'x',
    timestamp: clock.now,
    operation: 'UPDATED',
    accountId: ACCOUNT,
    thingTypeId: t.thingTypeId,
    thingTypeName: 'MyThingType',
    isDeprecated: true,
    deprecationDate: clock.now,
    searchableAttributes: ['attribute1'],
    propagatingAttributes: [],
    description: 'My thing type',
  });
});

test('[guide Registry events] thing type association on create, change, removal and delete', () => {
  const { service, published } = registryFixture();
  service.updateEventConfigurations({ THING_TYPE_ASSOCIATION: true });
  service.createThingType({ thingTypeName: 'A' });
  service.createThingType({ thingTypeName: 'B' });
  const t = service.createThing({ thingName: 'myThing', thingTypeName: 'A' });
  service.updateThing('myThing', { thingTypeName: 'B' });
  service.updateThing('myThing', { removeThingType: true });
  assert.deepEqual(
    published.map((p) => [p.topic, p.payload.operation]),
    [
      ['$aws/events/thingTypeAssociation/thing/myThing/A', 'CREATED'],
      ['$aws/events/thingTypeAssociation/thing/myThing/A', 'DELETED'],
      ['$aws/events/thingTypeAssociation/thing/myThing/B', 'CREATED'],
      ['$aws/events/thingTypeAssociation/thing/myThing/B', 'DELETED'],
    ],
  );
  assert.deepEqual(Object.keys(published[0]!.payload).sort(), ['eventId', 'eventType', 'operation', 'thingId', 'thingName', 'thingTypeName', 'timestamp']);
  assert.equal(published[0]!.payload.thingId, t.thingId);
  assert.equal(published[0]!.payload.eventType, 'THING_TYPE_ASSOCIATION_EVENT');
});

test('[guide Registry events] thing group, hierarchy and membership events', () => {
  const { service, published, clock } = registryFixture();
  service.updateEventConfigurations({ THING_GROUP: true, THING_GROUP_HIERARCHY: true, THING_GROUP_MEMBERSHIP: true });
  const root = service.createThingGroup({ thingGroupName: 'MyRootThingGroup', description: 'My root thing group', attributes: { attribute1: 'value1' } });
  const child = service.createThingGroup({ thingGroupName: 'MyChildThingGroup', parentGroupName: 'MyRootThingGroup' });
  const thing = service.createThing({ thingName: 'MyThing' });
  service.addThingToThingGroup({ thingName: 'MyThing', thingGroupName: 'MyChildThingGroup' });
  service.updateThingGroup('MyChildThingGroup', { description: 'changed' });
  service.removeThingFromThingGroup({ thingName: 'MyThing', thingGroupName: 'MyChildThingGroup' });
  service.deleteThingGroup('MyChildThingGroup');
  assert.deepEqual(published.map((p) => p.topic), [
    '$aws/events/thingGroup/MyRootThingGroup/created',
    '$aws/events/thingGroup/MyChildThingGroup/created',
    '$aws/events/thingGroupHierarchy/thingGroup/MyRootThingGroup/childThingGroup/MyChildThingGroup/added',
    '$aws/events/thingGroupMembership/thingGroup/MyChildThingGroup/thing/MyThing/added',
    '$aws/events/thingGroup/MyChildThingGroup/updated',
    '$aws/events/thingGroupMembership/thingGroup/MyChildThingGroup/thing/MyThing/removed',
    '$aws/events/thingGroupHierarchy/thingGroup/MyRootThingGroup/childThingGroup/MyChildThingGroup/removed',
    '$aws/events/thingGroup/MyChildThingGroup/deleted',
  ]);
  const strip = (p: Record<string, unknown>) => ({ ...p, eventId: 'x' });
  assert.deepEqual(strip(published[0]!.payload), {
    eventType: 'THING_GROUP_EVENT',
    eventId: 'x',
    timestamp: clock.now,
    operation: 'CREATED',
    accountId: ACCOUNT,
    thingGroupId: root.thingGroupId,
    thingGroupName: 'MyRootThingGroup',
    versionNumber: 1,
    parentGroupName: null,
    parentGroupId: null,
    description: 'My root thing group',
    rootToParentThingGroups: null,
    attributes: { attribute1: 'value1' },
  });
  assert.deepEqual(published[1]!.payload.rootToParentThingGroups, [{ groupName: 'MyRootThingGroup', groupArn: `arn:aws:iot:${REGION}:${ACCOUNT}:thinggroup/MyRootThingGroup` }]);
  assert.equal(published[1]!.payload.parentGroupId, root.thingGroupId);
  assert.deepEqual(strip(published[2]!.payload), {
    eventType: 'THING_GROUP_HIERARCHY_EVENT',
    eventId: 'x',
    timestamp: clock.now,
    operation: 'ADDED',
    accountId: ACCOUNT,
    thingGroupId: root.thingGroupId,
    thingGroupName: 'MyRootThingGroup',
    childGroupId: child.thingGroupId,
    childGroupName: 'MyChildThingGroup',
  });
  const added = published[3]!.payload;
  assert.deepEqual({ ...strip(added), membershipId: 'm' }, {
    eventType: 'THING_GROUP_MEMBERSHIP_EVENT',
    eventId: 'x',
    timestamp: clock.now,
    operation: 'ADDED',
    accountId: ACCOUNT,
    groupArn: child.thingGroupArn,
    groupId: child.thingGroupId,
    thingArn: thing.thingArn,
    thingId: thing.thingId,
    membershipId: 'm',
  });
  assert.match(String(added.membershipId), UUID);
  assert.equal(published[5]!.payload.membershipId, added.membershipId, 'removal carries the membership id of the addition');
  assert.equal(published[4]!.payload.versionNumber, 2);
});

test('a failing publish is logged, never an API error', async () => {
  const { service, failPublish } = registryFixture();
  service.updateEventConfigurations({ THING: true });
  failPublish.on = true;
  service.createThing({ thingName: 't' });
  await new Promise((r) => setImmediate(r));
  assert.notEqual(service.getThing('t'), null);
});
