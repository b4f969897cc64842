import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RegistryError, type RegistryErrorCode } from './errors.js';
import { ACCOUNT, REGION, registryFixture } from './test-fixture.js';

function throwsCode(fn: () => unknown, code: RegistryErrorCode, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof RegistryError && err.code === code && (message === undefined || message.test(err.message)));
}

test('CreateThingType / DescribeThingType: ARN thingtype/NAME, properties and metadata', () => {
  const { service, clock } = registryFixture();
  const t = service.createThingType({ thingTypeName: 'LightBulb', description: 'light bulb type', searchableAttributes: ['wattage', 'model', 'wattage'] });
  assert.equal(t.thingTypeArn, `arn:aws:iot:${REGION}:${ACCOUNT}:thingtype/LightBulb`);
  assert.deepEqual(t.searchableAttributes, ['wattage', 'model'], 'duplicates collapse');
  assert.equal(t.creationDate, clock.now);
  assert.deepEqual(service.describeThingType('LightBulb'), t);
  assert.equal(service.createThingType({ thingTypeName: 'LightBulb', description: 'light bulb type', searchableAttributes: ['wattage', 'model'] }).thingTypeId, t.thingTypeId, 'identical create succeeds');
  throwsCode(() => service.createThingType({ thingTypeName: 'LightBulb' }), 'registry.already_exists');
  throwsCode(() => service.describeThingType('Nope'), 'registry.not_found', /Thing type Nope does not exist/);
});

test('a thing type has at most 3 searchable attributes', () => {
  const { service } = registryFixture();
  throwsCode(() => service.createThingType({ thingTypeName: 'T', searchableAttributes: ['a', 'b', 'c', 'd'] }), 'registry.invalid_request', /^thingTypeProperties\.searchableAttributes: .*at most 3/);
  throwsCode(() => service.createThingType({ thingTypeName: 'T', searchableAttributes: ['bad name'] }), 'registry.invalid_request', /searchableAttributes/);
});

test('DeprecateThingType sets deprecated and its date; undoDeprecate clears them; repeating keeps the first date', () => {
  const { service, clock } = registryFixture();
  service.createThingType({ thingTypeName: 'T' });
  const at = clock.now;
  service.deprecateThingType('T');
  clock.now += 1000;
  service.deprecateThingType('T');
  assert.deepEqual([service.describeThingType('T').deprecated, service.describeThingType('T').deprecationDate], [true, at]);
  service.deprecateThingType('T', { undoDeprecate: true });
  assert.deepEqual([service.describeThingType('T').deprecated, service.describeThingType('T').deprecationDate], [false, null]);
  throwsCode(() => service.deprecateThingType('Nope'), 'registry.not_found');
});

test('[guide Delete a thing type] only deprecated types, five minutes after deprecation, with no things', () => {
  const { service, clock } = registryFixture();
  service.createThingType({ thingTypeName: 'T' });
  service.createThing({ thingName: 'x', thingTypeName: 'T' });
  throwsCode(() => service.deleteThingType('T'), 'registry.invalid_request', /not deprecated/);
  service.deprecateThingType('T');
  clock.now += 4 * 60 * 1000;
  throwsCode(() => service.deleteThingType('T'), 'registry.invalid_request', /60 seconds left/);
  clock.now += 60 * 1000;
  throwsCode(() => service.deleteThingType('T'), 'registry.invalid_request', /1 thing\(s\) are still associated/);
  service.updateThing('x', { removeThingType: true });
  service.deleteThingType('T');
  throwsCode(() => service.describeThingType('T'), 'registry.not_found');
  throwsCode(() => service.deleteThingType('T'), 'registry.not_found');
});

test('the wait before deleting a deprecated type is configurable (0 = at once)', () => {
  const { service } = registryFixture({ thingTypeDeleteDelayMs: 0 });
  service.createThingType({ thingTypeName: 'T' });
  service.deprecateThingType('T');
  service.deleteThingType('T');
});

test('ListThingTypes: all types by name, or one by exact name, paginated', () => {
  const { service } = registryFixture();
  for (const n of ['Light', 'LightBulb', 'Alpha']) service.createThingType({ thingTypeName: n });
  const p1 = service.listThingTypes({}, { maxResults: 2 });
  assert.deepEqual(p1.items.map((t) => t.thingTypeName), ['Alpha', 'Light']);
  assert.deepEqual(service.listThingTypes({}, { nextToken: p1.nextToken! }).items.map((t) => t.thingTypeName), ['LightBulb']);
  assert.deepEqual(service.listThingTypes({ thingTypeName: 'Light' }).items.map((t) => t.thingTypeName), ['Light']);
});

test('resolveRegistryLimits refuses bad settings', async () => {
  const { resolveRegistryLimits } = await import('./config.js');
  assert.throws(() => resolveRegistryLimits({ maxGroupDepth: 0 }), /maxGroupDepth/);
  assert.throws(() => resolveRegistryLimits({ maxChildGroups: -1 }), /maxChildGroups/);
  assert.equal(resolveRegistryLimits().maxGroupsPerThing, 10);
});
