import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RegistryError, type RegistryErrorCode } from './errors.js';
import { ACCOUNT, REGION, registryFixture } from './test-fixture.js';

function throwsCode(fn: () => unknown, code: RegistryErrorCode, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof RegistryError, String(err));
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

/** root <- a <- b, root <- c */
function tree(service: ReturnType<typeof registryFixture>['service']): void {
  service.createThingGroup({ thingGroupName: 'root', description: 'top', attributes: { site: 'berlin' } });
  service.createThingGroup({ thingGroupName: 'a', parentGroupName: 'root' });
  service.createThingGroup({ thingGroupName: 'b', parentGroupName: 'a' });
  service.createThingGroup({ thingGroupName: 'c', parentGroupName: 'root' });
}

test('CreateThingGroup / DescribeThingGroup: ARN thinggroup/NAME, rootToParentThingGroups root first, version 1', () => {
  const { service } = registryFixture();
  tree(service);
  const b = service.describeThingGroup('b');
  assert.equal(b.thingGroupArn, `arn:aws:iot:${REGION}:${ACCOUNT}:thinggroup/b`);
  assert.equal(b.parentGroupName, 'a');
  assert.deepEqual(b.rootToParentThingGroups.map((g) => g.groupName), ['root', 'a']);
  assert.equal(b.rootToParentThingGroups[0]!.groupArn, `arn:aws:iot:${REGION}:${ACCOUNT}:thinggroup/root`);
  assert.equal(b.version, 1);
  assert.deepEqual(service.describeThingGroup('root').rootToParentThingGroups, []);
  assert.equal(service.getThingGroup('nope'), null);
  throwsCode(() => service.describeThingGroup('nope'), 'registry.not_found');
  throwsCode(() => service.createThingGroup({ thingGroupName: 'x', parentGroupName: 'nope' }), 'registry.not_found', /Thing group nope/);
  assert.equal(service.createThingGroup({ thingGroupName: 'b', parentGroupName: 'a' }).thingGroupId, b.thingGroupId, 'identical create succeeds');
  throwsCode(() => service.createThingGroup({ thingGroupName: 'b', parentGroupName: 'root' }), 'registry.already_exists', /Thing group b/);
});

test('[guide Static thing groups] a hierarchy is at most 7 levels deep', () => {
  const { service } = registryFixture();
  service.createThingGroup({ thingGroupName: 'g1' });
  for (let i = 2; i <= 7; i++) service.createThingGroup({ thingGroupName: `g${i}`, parentGroupName: `g${i - 1}` });
  assert.equal(service.describeThingGroup('g7').rootToParentThingGroups.length, 6);
  throwsCode(() => service.createThingGroup({ thingGroupName: 'g8', parentGroupName: 'g7' }), 'registry.invalid_request', /^parentGroupName: .*at most 7 levels/);
});

test('[guide Static thing groups] direct children and group attributes are limited (100 and 50 by default)', () => {
  const { service } = registryFixture({ maxChildGroups: 2 });
  service.createThingGroup({ thingGroupName: 'p' });
  service.createThingGroup({ thingGroupName: 'c1', parentGroupName: 'p' });
  service.createThingGroup({ thingGroupName: 'c2', parentGroupName: 'p' });
  throwsCode(() => service.createThingGroup({ thingGroupName: 'c3', parentGroupName: 'p' }), 'registry.invalid_request', /already has 2 child groups/);
  const attrs = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));
  service.createThingGroup({ thingGroupName: 'fifty', attributes: attrs(50) });
  throwsCode(() => service.createThingGroup({ thingGroupName: 'big', attributes: attrs(51) }), 'registry.invalid_request', /at most 50 attributes/);
  throwsCode(() => service.updateThingGroup('fifty', { attributes: { extra: 'v' }, merge: true }), 'registry.invalid_request', /at most 50 attributes/);
});

test('UpdateThingGroup: version increments, expectedVersion conflicts, merge and replace of attributes', () => {
  const { service } = registryFixture();
  tree(service);
  assert.equal(service.updateThingGroup('root', { attributes: { floor: '2' }, merge: true }), 2);
  assert.deepEqual(service.describeThingGroup('root').attributes, { floor: '2', site: 'berlin' });
  assert.equal(service.updateThingGroup('root', { description: 'new', expectedVersion: 2 }), 3);
  assert.equal(service.describeThingGroup('root').description, 'new');
  throwsCode(() => service.updateThingGroup('root', { expectedVersion: 2 }), 'registry.version_conflict');
  assert.equal(service.updateThingGroup('root', { attributes: { only: 'this' } }), 4);
  assert.deepEqual(service.describeThingGroup('root').attributes, { only: 'this' });
  throwsCode(() => service.updateThingGroup('nope', {}), 'registry.not_found');
});

test('[guide Delete a thing group] a group with child groups cannot be deleted; one with things can; unknown is a no-op', () => {
  const { service, busEvents } = registryFixture();
  tree(service);
  service.createThing({ thingName: 't' });
  service.addThingToThingGroup({ thingName: 't', thingGroupName: 'b' });
  throwsCode(() => service.deleteThingGroup('a'), 'registry.invalid_request', /Cannot delete thing group : a when there are still child groups attached to it\./);
  throwsCode(() => service.deleteThingGroup('b', { expectedVersion: 9 }), 'registry.version_conflict');
  busEvents.length = 0;
  service.deleteThingGroup('b');
  assert.deepEqual(busEvents, [
    { event: 'thinggroup.membership.changed', payload: { thingName: 't', groupName: 'b' } },
    { event: 'thinggroup.changed', payload: { groupName: 'b' } },
  ]);
  assert.deepEqual(service.listThingGroupsForThing('t').items, []);
  service.deleteThingGroup('a');
  service.deleteThingGroup('never-existed');
});

test('ListThingGroups: all groups, direct children, recursive descendants, name prefix', () => {
  const { service } = registryFixture();
  tree(service);
  const names = (p: { items: { groupName: string }[] }) => p.items.map((g) => g.groupName);
  assert.deepEqual(names(service.listThingGroups({})), ['a', 'b', 'c', 'root']);
  assert.deepEqual(names(service.listThingGroups({ parentGroup: 'root' })), ['a', 'c']);
  assert.deepEqual(names(service.listThingGroups({ parentGroup: 'root', recursive: true })), ['a', 'b', 'c']);
  const page1 = service.listThingGroups({ parentGroup: 'root', recursive: true }, { maxResults: 2 });
  assert.deepEqual(names(page1), ['a', 'b']);
  assert.deepEqual(names(service.listThingGroups({ parentGroup: 'root', recursive: true }, { maxResults: 2, nextToken: page1.nextToken! })), ['c']);
  assert.deepEqual(names(service.listThingGroups({ namePrefixFilter: 'r' })), ['root']);
  throwsCode(() => service.listThingGroups({ parentGroup: 'nope' }), 'registry.not_found');
});

test('membership: add by name or ARN, idempotent add/remove, recursive listing, groups of a thing with ancestors', () => {
  const { service, busEvents } = registryFixture();
  tree(service);
  for (const t of ['t1', 't2', 't3']) service.createThing({ thingName: t });
  service.addThingToThingGroup({ thingName: 't1', thingGroupName: 'b' });
  service.addThingToThingGroup({ thingArn: `arn:aws:iot:${REGION}:${ACCOUNT}:thing/t2`, thingGroupArn: `arn:aws:iot:${REGION}:${ACCOUNT}:thinggroup/a` });
  service.addThingToThingGroup({ thingName: 't2', thingGroupName: 'a' });
  service.addThingToThingGroup({ thingName: 't3', thingGroupName: 'root' });
  service.addThingToThingGroup({ thingName: 't1', thingGroupName: 'c' });
  assert.equal(busEvents.filter((e) => e.event === 'thinggroup.membership.changed').length, 4, 'the repeated add changed nothing');
  assert.deepEqual(service.listThingsInThingGroup('root').items, ['t3']);
  assert.deepEqual(service.listThingsInThingGroup('root', { recursive: true }).items, ['t1', 't2', 't3']);
  assert.deepEqual(service.listThingsInThingGroup('a', { recursive: true }, { maxResults: 1 }).items, ['t1']);
  assert.deepEqual(service.listGroupsForThingSync('t1'), ['b', 'a', 'root', 'c']);
  assert.deepEqual(service.listThingGroupsForThing('t1').items.map((g) => g.groupName), ['a', 'b', 'c', 'root']);
  assert.deepEqual(service.listGroupsForThingSync('unknown'), []);
  service.removeThingFromThingGroup({ thingName: 't1', thingGroupName: 'b' });
  service.removeThingFromThingGroup({ thingName: 't1', thingGroupName: 'b' });
  assert.deepEqual(service.listGroupsForThingSync('t1'), ['c', 'root']);
  throwsCode(() => service.addThingToThingGroup({ thingName: 'nope', thingGroupName: 'a' }), 'registry.not_found', /Thing nope/);
  throwsCode(() => service.addThingToThingGroup({ thingName: 't1', thingGroupName: 'nope' }), 'registry.not_found', /Thing group nope/);
  throwsCode(() => service.addThingToThingGroup({ thingGroupName: 'a' }), 'registry.invalid_request', /^thingName: thingName or thingArn is required/);
  throwsCode(() => service.addThingToThingGroup({ thingArn: `arn:aws:iot:us-east-1:${ACCOUNT}:thing/t1`, thingGroupName: 'a' }), 'registry.invalid_request', /^thingArn: /);
  throwsCode(() => service.addThingToThingGroup({ thingName: 't2', thingArn: `arn:aws:iot:${REGION}:${ACCOUNT}:thing/t1`, thingGroupName: 'a' }), 'registry.invalid_request', /^thingArn: /);
});

test('[guide Add a thing to a static thing group] a thing is in at most 10 groups; UpdateThingGroupsForThing applies all or nothing', () => {
  const { service } = registryFixture();
  service.createThing({ thingName: 't' });
  for (let i = 0; i < 11; i++) service.createThingGroup({ thingGroupName: `g${i}` });
  for (let i = 0; i < 10; i++) service.addThingToThingGroup({ thingName: 't', thingGroupName: `g${i}` });
  throwsCode(() => service.addThingToThingGroup({ thingName: 't', thingGroupName: 'g10' }), 'registry.invalid_request', /at most 10/);
  throwsCode(() => service.updateThingGroupsForThing({ thingName: 't', thingGroupsToAdd: ['g10'] }), 'registry.invalid_request', /at most 10/);
  throwsCode(() => service.updateThingGroupsForThing({ thingName: 't', thingGroupsToAdd: ['g10'], thingGroupsToRemove: ['g0', 'nope'] }), 'registry.not_found');
  assert.equal(service.listGroupsForThingSync('t').length, 10, 'nothing changed');
  service.updateThingGroupsForThing({ thingName: 't', thingGroupsToAdd: ['g10'], thingGroupsToRemove: ['g0'] });
  assert.ok(service.listGroupsForThingSync('t').includes('g10'));
  assert.ok(!service.listGroupsForThingSync('t').includes('g0'));
  throwsCode(() => service.updateThingGroupsForThing({ thingName: 't', thingGroupsToAdd: ['g1'], thingGroupsToRemove: ['g1'] }), 'registry.invalid_request', /^thingGroupsToAdd: /);
});

test('deleting a thing removes its memberships and announces each', () => {
  const { service, busEvents } = registryFixture();
  tree(service);
  service.createThing({ thingName: 't' });
  service.addThingToThingGroup({ thingName: 't', thingGroupName: 'a' });
  service.addThingToThingGroup({ thingName: 't', thingGroupName: 'c' });
  busEvents.length = 0;
  service.deleteThing('t');
  assert.deepEqual(busEvents.map((e) => e.event), ['thinggroup.membership.changed', 'thinggroup.membership.changed', 'thing.deleted']);
  assert.deepEqual(service.listThingsInThingGroup('root', { recursive: true }).items, []);
});

test('billing groups: create, describe, version, one group per thing, list things, delete clears', () => {
  const { service } = registryFixture();
  const b = service.createBillingGroup({ billingGroupName: 'bill', description: 'd' });
  assert.equal(b.billingGroupArn, `arn:aws:iot:${REGION}:${ACCOUNT}:billinggroup/bill`);
  service.createBillingGroup({ billingGroupName: 'other' });
  throwsCode(() => service.createBillingGroup({ billingGroupName: 'bill', description: 'x' }), 'registry.already_exists');
  service.createThing({ thingName: 't', billingGroupName: 'bill' });
  service.createThing({ thingName: 'u' });
  service.addThingToBillingGroup({ thingName: 'u', billingGroupName: 'bill' });
  throwsCode(() => service.addThingToBillingGroup({ thingName: 'u', billingGroupName: 'other' }), 'registry.invalid_request', /only one billing group/);
  assert.deepEqual(service.listThingsInBillingGroup('bill').items, ['t', 'u']);
  service.removeThingFromBillingGroup({ thingName: 'u', billingGroupName: 'bill' });
  assert.equal(service.describeThing('u').billingGroupName, null);
  assert.equal(service.updateBillingGroup('bill', { description: 'e', expectedVersion: 1 }), 2);
  throwsCode(() => service.updateBillingGroup('bill', { expectedVersion: 1 }), 'registry.version_conflict');
  assert.deepEqual(service.listBillingGroups({ namePrefixFilter: 'bi' }).items.map((g) => g.groupName), ['bill']);
  service.deleteBillingGroup('bill');
  assert.equal(service.describeThing('t').billingGroupName, null);
  throwsCode(() => service.describeBillingGroup('bill'), 'registry.not_found');
});
