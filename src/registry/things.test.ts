import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RegistryError, type RegistryErrorCode } from './errors.js';
import { ACCOUNT, REGION, registryFixture } from './test-fixture.js';

function throwsCode(fn: () => unknown, code: RegistryErrorCode, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof RegistryError, `expected a RegistryError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

test('CreateThing: ARN thing/NAME, UUID thingId, version 1, defaults', () => {
  const { service } = registryFixture();
  const t = service.createThing({ thingName: 'lamp-1', attributes: { room: 'kitchen' } });
  assert.equal(t.thingArn, `arn:aws:iot:${REGION}:${ACCOUNT}:thing/lamp-1`);
  assert.match(t.thingId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(t.version, 1);
  assert.equal(t.thingTypeName, null);
  assert.deepEqual(service.getThing('lamp-1'), t);
  assert.equal(service.getThing('nope'), null);
});

test('[AWS CreateThing] same name and configuration succeeds; a different configuration is ResourceAlreadyExists', () => {
  const { service } = registryFixture();
  const a = service.createThing({ thingName: 'lamp', attributes: { b: '2', a: '1' } });
  const again = service.createThing({ thingName: 'lamp', attributes: { a: '1', b: '2' } });
  assert.equal(again.thingId, a.thingId);
  throwsCode(() => service.createThing({ thingName: 'lamp', attributes: { a: '1' } }), 'registry.already_exists', /Thing lamp already exists/);
  try {
    service.createThing({ thingName: 'lamp' });
  } catch (err) {
    assert.deepEqual((err as RegistryError).details, { resourceId: a.thingId, resourceArn: a.thingArn });
  }
});

test('names and attributes are validated with the field named', () => {
  const { service } = registryFixture();
  throwsCode(() => service.createThing({ thingName: 'bad name' }), 'registry.invalid_request', /^thingName: /);
  throwsCode(() => service.createThing({ thingName: 'x'.repeat(129) }), 'registry.invalid_request', /^thingName: /);
  throwsCode(() => service.createThing({ thingName: 'ok', attributes: { 'bad key': 'v' } }), 'registry.invalid_request', /^attributePayload\.attributes: /);
  throwsCode(() => service.createThing({ thingName: 'ok', attributes: { k: 'v'.repeat(801) } }), 'registry.invalid_request', /^attributePayload\.attributes\.k: /);
  throwsCode(() => service.createThing({ thingName: 'ok', thingTypeName: 'no such' }), 'registry.invalid_request', /^thingTypeName: /);
});

test('[guide Thing types] at most 3 attributes without a thing type, 50 with one', () => {
  const { service } = registryFixture();
  const attrs = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`a${i}`, 'v']));
  service.createThing({ thingName: 'three', attributes: attrs(3) });
  throwsCode(() => service.createThing({ thingName: 'four', attributes: attrs(4) }), 'registry.invalid_request', /at most 3 attributes/);
  service.createThingType({ thingTypeName: 'Bulb' });
  service.createThing({ thingName: 'fifty', thingTypeName: 'Bulb', attributes: attrs(50) });
  throwsCode(() => service.createThing({ thingName: 'fifty-one', thingTypeName: 'Bulb', attributes: attrs(51) }), 'registry.invalid_request', /at most 50 attributes/);
  // Removing the type from a thing with more than three attributes is refused.
  throwsCode(() => service.updateThing('fifty', { removeThingType: true }), 'registry.invalid_request', /without a thing type/);
});

test('CreateThing with an unknown type or billing group is ResourceNotFound', () => {
  const { service } = registryFixture();
  throwsCode(() => service.createThing({ thingName: 't', thingTypeName: 'Nope' }), 'registry.not_found', /Thing type Nope/);
  throwsCode(() => service.createThing({ thingName: 't', billingGroupName: 'Nope' }), 'registry.not_found', /Billing group Nope/);
});

test('[AWS AttributePayload] UpdateThing replaces attributes, merges with merge=true, and an empty value removes one', () => {
  const { service } = registryFixture();
  service.createThing({ thingName: 't', attributes: { a: '1', b: '2' } });
  assert.deepEqual(service.updateThing('t', { attributes: { c: '3' } }).attributes, { c: '3' });
  assert.deepEqual(service.updateThing('t', { attributes: { a: '1' }, merge: true }).attributes, { a: '1', c: '3' });
  assert.deepEqual(service.updateThing('t', { attributes: { c: '' }, merge: true }).attributes, { a: '1' });
  assert.deepEqual(service.updateThing('t', {}).attributes, { a: '1' }, 'no attributePayload leaves attributes alone');
  assert.equal(service.describeThing('t').version, 5, 'every update increments the version');
});

test('UpdateThing: expectedVersion gives VersionConflict; unknown thing is ResourceNotFound', () => {
  const { service } = registryFixture();
  service.createThing({ thingName: 't' });
  service.updateThing('t', { expectedVersion: 1, attributes: { a: '1' } });
  throwsCode(() => service.updateThing('t', { expectedVersion: 1, attributes: { a: '2' } }), 'registry.version_conflict', /expected 1, current 2/);
  assert.deepEqual(service.describeThing('t').attributes, { a: '1' }, 'a conflicting update changes nothing');
  throwsCode(() => service.updateThing('nope', {}), 'registry.not_found');
  throwsCode(() => service.describeThing('nope'), 'registry.not_found', /Thing nope does not exist/);
});

test('UpdateThing: set, change and remove the thing type; thingTypeName with removeThingType is refused', () => {
  const { service } = registryFixture();
  service.createThingType({ thingTypeName: 'A' });
  service.createThingType({ thingTypeName: 'B' });
  service.createThing({ thingName: 't' });
  assert.equal(service.updateThing('t', { thingTypeName: 'A' }).thingTypeName, 'A');
  assert.equal(service.updateThing('t', { thingTypeName: 'B' }).thingTypeName, 'B');
  assert.equal(service.updateThing('t', { removeThingType: true }).thingTypeName, null);
  throwsCode(() => service.updateThing('t', { thingTypeName: 'A', removeThingType: true }), 'registry.invalid_request', /^removeThingType: /);
  throwsCode(() => service.updateThing('t', { thingTypeName: 'Nope' }), 'registry.not_found');
});

test('[guide Deprecate a thing type] a deprecated type takes no new things; existing things keep it', () => {
  const { service } = registryFixture();
  service.createThingType({ thingTypeName: 'Old' });
  service.createThing({ thingName: 'kept', thingTypeName: 'Old' });
  service.deprecateThingType('Old');
  throwsCode(() => service.createThing({ thingName: 'new', thingTypeName: 'Old' }), 'registry.invalid_request', /deprecated/);
  service.createThing({ thingName: 'other' });
  throwsCode(() => service.updateThing('other', { thingTypeName: 'Old' }), 'registry.invalid_request', /deprecated/);
  assert.equal(service.updateThing('kept', { thingTypeName: 'Old', attributes: { a: '1' } }).thingTypeName, 'Old');
  service.deprecateThingType('Old', { undoDeprecate: true });
  service.createThing({ thingName: 'new', thingTypeName: 'Old' });
});

test('[AWS DeleteThing] deleting a thing that does not exist succeeds; expectedVersion is checked; guards can refuse', () => {
  const { service, busEvents } = registryFixture();
  service.deleteThing('never-existed');
  service.createThing({ thingName: 't' });
  throwsCode(() => service.deleteThing('t', { expectedVersion: 7 }), 'registry.version_conflict');
  const remove = service.addThingDeleteGuard((name) => (name === 't' ? 'Cannot delete. Thing t is still attached to one or more principals' : null));
  throwsCode(() => service.deleteThing('t'), 'registry.invalid_request', /still attached/);
  remove();
  service.deleteThing('t', { expectedVersion: 1 });
  assert.equal(service.getThing('t'), null);
  assert.deepEqual(
    busEvents.map((e) => e.event),
    ['thing.created', 'thing.deleted'],
  );
});

test('ListThings: filters by type and attribute (exact or prefix) with keyset pages', () => {
  const { service } = registryFixture();
  service.createThingType({ thingTypeName: 'Bulb' });
  for (let i = 0; i < 7; i++) service.createThing({ thingName: `t${i}`, attributes: { room: i % 2 === 0 ? `kitchen-${i}` : 'hall' }, ...(i < 3 ? { thingTypeName: 'Bulb' } : {}) });
  const first = service.listThings({}, { maxResults: 3 });
  assert.deepEqual(first.items.map((t) => t.thingName), ['t0', 't1', 't2']);
  assert.ok(first.nextToken);
  // A thing created between pages after the cursor shows up; nothing is skipped or repeated.
  service.createThing({ thingName: 't2a' });
  const second = service.listThings({}, { maxResults: 3, nextToken: first.nextToken! });
  assert.deepEqual(second.items.map((t) => t.thingName), ['t2a', 't3', 't4']);
  const third = service.listThings({}, { maxResults: 3, nextToken: second.nextToken! });
  assert.deepEqual(third.items.map((t) => t.thingName), ['t5', 't6']);
  assert.equal(third.nextToken, undefined);
  assert.deepEqual(service.listThings({ thingTypeName: 'Bulb' }).items.map((t) => t.thingName), ['t0', 't1', 't2']);
  assert.deepEqual(service.listThings({ attributeName: 'room', attributeValue: 'hall' }).items.map((t) => t.thingName), ['t1', 't3', 't5']);
  assert.deepEqual(service.listThings({ attributeName: 'room', attributeValue: 'kitchen', usePrefixAttributeValue: true }).items.map((t) => t.thingName), ['t0', 't2', 't4', 't6']);
  assert.deepEqual(service.listThings({ attributeName: 'room', attributeValue: 'kitchen' }).items, []);
  throwsCode(() => service.listThings({ attributeValue: 'x' }), 'registry.invalid_request', /^attributeValue: requires attributeName/);
  throwsCode(() => service.listThings({}, { nextToken: 'garbage' }), 'registry.invalid_request', /^nextToken: /);
  throwsCode(() => service.listThings({}, { maxResults: 251 }), 'registry.invalid_request', /^maxResults: /);
});
