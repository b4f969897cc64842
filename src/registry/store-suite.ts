/**
 * The conformance suite every RegistryStore implementation runs (STYLE.md #5): SQLite in
 * store-sqlite.test.ts, PostgreSQL later. Calls are awaited so an implementation whose
 * internals are asynchronous can run it through a synchronous facade unchanged.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MembershipRecord, RegistryStore, ThingGroupRecord, ThingRecord, ThingTypeRecord } from './store.js';

export interface StoreUnderTest {
  store: RegistryStore;
  /** Releases the store (and its database) after a test. */
  close(): void | Promise<void>;
}

const thing = (name: string, over: Partial<ThingRecord> = {}): ThingRecord => ({
  thingName: name,
  thingId: `id-${name}`,
  thingTypeName: null,
  attributes: {},
  version: 1,
  billingGroupName: null,
  createdAt: 1000,
  ...over,
});
const type = (name: string, over: Partial<ThingTypeRecord> = {}): ThingTypeRecord => ({
  thingTypeName: name,
  thingTypeId: `tid-${name}`,
  description: null,
  searchableAttributes: [],
  deprecated: false,
  deprecatedAt: null,
  createdAt: 1000,
  ...over,
});
const group = (name: string, parent: string | null = null, over: Partial<ThingGroupRecord> = {}): ThingGroupRecord => ({
  thingGroupName: name,
  thingGroupId: `gid-${name}`,
  parentGroupName: parent,
  description: null,
  attributes: {},
  version: 1,
  createdAt: 1000,
  ...over,
});
const member = (g: string, t: string): MembershipRecord => ({ thingGroupName: g, thingName: t, membershipId: `m-${g}-${t}`, addedAt: 2000 });
const names = (rows: { thingName: string }[]) => rows.map((r) => r.thingName);

/** Registers the suite under `name`; `open` gives a fresh, empty store per test. */
export function runRegistryStoreSuite(name: string, open: () => StoreUnderTest | Promise<StoreUnderTest>): void {
  const withStore = (title: string, fn: (s: RegistryStore) => Promise<void> | void) =>
    test(title, async () => {
      const under = await open();
      try {
        await fn(under.store);
      } finally {
        await under.close();
      }
    });

  describe(`registry store conformance: ${name}`, () => {
    withStore('things round-trip with attributes, type and billing group; put replaces', async (s) => {
      assert.equal(await s.getThing('lamp'), null);
      const t = thing('lamp', { thingTypeName: 'Bulb', attributes: { room: 'kitchen', watt: '60' }, billingGroupName: 'b1' });
      await s.putThing(t);
      assert.deepEqual(await s.getThing('lamp'), t);
      await s.putThing({ ...t, attributes: { room: 'hall' }, version: 2 });
      assert.deepEqual(await s.getThing('lamp'), { ...t, attributes: { room: 'hall' }, version: 2 });
      assert.equal(await s.deleteThing('lamp'), true);
      assert.equal(await s.deleteThing('lamp'), false);
      assert.equal(await s.getThing('lamp'), null);
    });

    withStore('listThings: name order, keyset pages, type / billing / attribute filters, case-sensitive prefix', async (s) => {
      await s.putThing(thing('c', { attributes: { room: 'Kitchen' }, thingTypeName: 'T' }));
      await s.putThing(thing('a', { attributes: { room: 'kitchen-2' }, billingGroupName: 'B' }));
      await s.putThing(thing('b', { attributes: { room: 'kitchen', floor: '1' }, thingTypeName: 'T' }));
      await s.putThing(thing('d'));
      assert.deepEqual(names(await s.listThings({ limit: 10 })), ['a', 'b', 'c', 'd']);
      assert.deepEqual(names(await s.listThings({ limit: 2 })), ['a', 'b']);
      assert.deepEqual(names(await s.listThings({ limit: 2, after: 'b' })), ['c', 'd']);
      assert.deepEqual(names(await s.listThings({ limit: 10, thingTypeName: 'T' })), ['b', 'c']);
      assert.deepEqual(names(await s.listThings({ limit: 10, billingGroupName: 'B' })), ['a']);
      assert.deepEqual(names(await s.listThings({ limit: 10, attributeName: 'room' })), ['a', 'b', 'c']);
      assert.deepEqual(names(await s.listThings({ limit: 10, attributeName: 'room', attributeValue: 'kitchen' })), ['b']);
      assert.deepEqual(names(await s.listThings({ limit: 10, attributeName: 'room', attributeValue: 'kitchen', attributeValuePrefix: true })), ['a', 'b']);
      assert.deepEqual(names(await s.listThings({ limit: 10, attributeName: 'room', attributeValue: 'K', attributeValuePrefix: true })), ['c']);
      assert.deepEqual(names(await s.listThings({ limit: 10, attributeName: 'floor', thingTypeName: 'T' })), ['b']);
      assert.equal(await s.countThingsOfType('T'), 2);
      assert.equal(await s.countThingsOfType('nope'), 0);
    });

    withStore('attribute filters follow replaced attributes', async (s) => {
      await s.putThing(thing('x', { attributes: { k: 'v1' } }));
      await s.putThing(thing('x', { attributes: { j: 'v2' }, version: 2 }));
      assert.deepEqual(names(await s.listThings({ limit: 10, attributeName: 'k' })), []);
      assert.deepEqual(names(await s.listThings({ limit: 10, attributeName: 'j', attributeValue: 'v2' })), ['x']);
    });

    withStore('thing types round-trip, list by exact name, delete', async (s) => {
      const t = type('Bulb', { description: 'a bulb', searchableAttributes: ['watt', 'model'], deprecated: true, deprecatedAt: 5000 });
      await s.putThingType(t);
      await s.putThingType(type('Alpha'));
      assert.deepEqual(await s.getThingType('Bulb'), t);
      assert.deepEqual((await s.listThingTypes({ limit: 10 })).map((r) => r.thingTypeName), ['Alpha', 'Bulb']);
      assert.deepEqual((await s.listThingTypes({ limit: 10, thingTypeName: 'Bulb' })).map((r) => r.thingTypeName), ['Bulb']);
      assert.deepEqual((await s.listThingTypes({ limit: 1, after: 'Alpha' })).map((r) => r.thingTypeName), ['Bulb']);
      assert.equal(await s.deleteThingType('Bulb'), true);
      assert.equal(await s.getThingType('Bulb'), null);
      assert.equal(await s.deleteThingType('Bulb'), false);
    });

    withStore('thing groups: hierarchy queries, prefix filter, update', async (s) => {
      await s.putThingGroup(group('root', null, { attributes: { a: '1' }, description: 'top' }));
      await s.putThingGroup(group('rb', 'root'));
      await s.putThingGroup(group('ra', 'root'));
      await s.putThingGroup(group('Rz', null));
      assert.deepEqual(await s.getThingGroup('root'), group('root', null, { attributes: { a: '1' }, description: 'top' }));
      assert.deepEqual(await s.listChildGroupNames('root'), ['ra', 'rb']);
      assert.deepEqual(await s.listChildGroupNames('ra'), []);
      const list = async (q: Parameters<RegistryStore['listThingGroups']>[0]) => (await s.listThingGroups(q)).map((g) => g.thingGroupName);
      assert.deepEqual(await list({ limit: 10 }), ['Rz', 'ra', 'rb', 'root']);
      assert.deepEqual(await list({ limit: 10, parentGroupName: 'root' }), ['ra', 'rb']);
      assert.deepEqual(await list({ limit: 10, namePrefix: 'r' }), ['ra', 'rb', 'root']);
      assert.deepEqual(await list({ limit: 1, namePrefix: 'r', after: 'ra' }), ['rb']);
      await s.putThingGroup(group('root', null, { version: 2, description: 'changed' }));
      assert.equal((await s.getThingGroup('root'))?.version, 2);
      assert.equal(await s.deleteThingGroup('Rz'), true);
      assert.equal(await s.deleteThingGroup('Rz'), false);
    });

    withStore('memberships: both directions, distinct names across groups, cascades on delete', async (s) => {
      for (const g of ['g1', 'g2', 'g3']) await s.putThingGroup(group(g));
      for (const t of ['t1', 't2', 't3']) await s.putThing(thing(t));
      await s.putMembership(member('g1', 't2'));
      await s.putMembership(member('g1', 't1'));
      await s.putMembership(member('g2', 't1'));
      await s.putMembership(member('g3', 't3'));
      assert.deepEqual(await s.getMembership('g1', 't1'), member('g1', 't1'));
      assert.equal(await s.getMembership('g3', 't1'), null);
      assert.deepEqual((await s.listMembershipsOfThing('t1')).map((m) => m.thingGroupName), ['g1', 'g2']);
      assert.deepEqual((await s.listMembershipsOfGroup('g1')).map((m) => m.thingName), ['t1', 't2']);
      assert.deepEqual(await s.listThingNamesInGroups(['g1', 'g2'], { limit: 10 }), ['t1', 't2']);
      assert.deepEqual(await s.listThingNamesInGroups(['g1', 'g2', 'g3'], { limit: 2, after: 't1' }), ['t2', 't3']);
      assert.deepEqual(await s.listThingNamesInGroups([], { limit: 10 }), []);
      assert.equal(await s.deleteMembership('g1', 't2'), true);
      assert.equal(await s.deleteMembership('g1', 't2'), false);
      await s.deleteThing('t1');
      assert.deepEqual(await s.listMembershipsOfGroup('g2'), []);
      await s.deleteThingGroup('g3');
      assert.deepEqual(await s.listMembershipsOfThing('t3'), []);
    });

    withStore('billing groups: round-trip, prefix list, delete clears things', async (s) => {
      const b = { billingGroupName: 'bill-a', billingGroupId: 'bid', description: 'd', version: 1, createdAt: 3000 };
      await s.putBillingGroup(b);
      await s.putBillingGroup({ ...b, billingGroupName: 'other', billingGroupId: 'bid2' });
      await s.putThing(thing('t', { billingGroupName: 'bill-a' }));
      assert.deepEqual(await s.getBillingGroup('bill-a'), b);
      assert.deepEqual((await s.listBillingGroups({ limit: 10, namePrefix: 'bill' })).map((g) => g.billingGroupName), ['bill-a']);
      assert.equal(await s.deleteBillingGroup('bill-a'), true);
      assert.equal((await s.getThing('t'))?.billingGroupName, null);
      assert.equal(await s.deleteBillingGroup('bill-a'), false);
    });

    withStore('settings round-trip and overwrite', async (s) => {
      assert.equal(await s.getSetting('k'), null);
      await s.putSetting('k', '{"a":1}');
      await s.putSetting('k', '{"a":2}');
      assert.equal(await s.getSetting('k'), '{"a":2}');
    });

    withStore('transaction: all or nothing, nested calls join', async (s) => {
      assert.throws(() =>
        s.transaction(() => {
          s.putThing(thing('t1'));
          s.transaction(() => s.putThing(thing('t2')));
          throw new Error('boom');
        }),
      );
      assert.equal(await s.getThing('t1'), null);
      assert.equal(await s.getThing('t2'), null);
      assert.equal(s.transaction(() => (s.putThing(thing('t3')), 42)), 42);
      assert.notEqual(await s.getThing('t3'), null);
    });
  });
}
