/**
 * The conformance suite every ShadowStore implementation runs (STYLE.md #5): SQLite in
 * store-sqlite.test.ts, PostgreSQL when it exists.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ShadowHistoryEntry, ShadowRecord, ShadowStore } from './store.js';

export interface ShadowStoreUnderTest {
  store: ShadowStore;
  close(): void | Promise<void>;
}

const rec = (thingName: string, shadowName: string, version: number, over: Partial<ShadowRecord> = {}): ShadowRecord => ({
  thingName, shadowName, version, deleted: false, desired: '{"a":1}', reported: null, metadataDesired: '{"a":{"timestamp":1}}', metadataReported: null, updatedAt: version * 1000, ...over,
});
const entry = (thingName: string, shadowName: string, version: number, at: number, over: Partial<ShadowHistoryEntry> = {}): ShadowHistoryEntry => ({
  thingName, shadowName, version, operation: 'update', at, principal: 'p', clientId: 'c', clientToken: null, request: '{"desired":{"a":1}}', state: '{"desired":{"a":1}}', ...over,
});

export function runShadowStoreSuite(name: string, make: () => ShadowStoreUnderTest | Promise<ShadowStoreUnderTest>): void {
  describe(`ShadowStore conformance: ${name}`, () => {
    const withStore = (fn: (s: ShadowStore) => void | Promise<void>) => async () => {
      const u = await make();
      try {
        await fn(u.store);
      } finally {
        await u.close();
      }
    };

    test('a committed record reads back exactly (JSON text untouched)', withStore((s) => {
      assert.equal(s.get('t', ''), null);
      const r = rec('t', '', 1, { desired: '{"b":1.0,"10":2}' });
      s.commit(r, null);
      assert.deepEqual(s.get('t', ''), r);
    }));

    test('classic and named shadows of a thing are separate rows', withStore((s) => {
      s.commit(rec('t', '', 1), null);
      s.commit(rec('t', 'cfg', 5), null);
      assert.equal(s.get('t', '')?.version, 1);
      assert.equal(s.get('t', 'cfg')?.version, 5);
    }));

    test('a deleted shadow keeps its version and leaves the named-shadow list', withStore((s) => {
      s.commit(rec('t', 'a', 1), null);
      s.commit(rec('t', 'b', 3), null);
      s.commit(rec('t', 'b', 3, { deleted: true, desired: null, metadataDesired: null }), null);
      assert.equal(s.get('t', 'b')?.deleted, true);
      assert.equal(s.get('t', 'b')?.version, 3);
      assert.deepEqual(s.listNamedShadows('t', null, 10), ['a']);
    }));

    test('named shadows list in name order, after a cursor, never the classic one', withStore((s) => {
      for (const n of ['c', '', 'a', 'b']) s.commit(rec('t', n, 1), null);
      s.commit(rec('other', 'z', 1), null);
      assert.deepEqual(s.listNamedShadows('t', null, 10), ['a', 'b', 'c']);
      assert.deepEqual(s.listNamedShadows('t', 'a', 1), ['b']);
    }));

    test('history: entries in version order, bounded by time and cursor; historyAt finds the state at a moment', withStore((s) => {
      for (let v = 1; v <= 5; v++) s.commit(rec('t', '', v), entry('t', '', v, v * 100));
      const all = s.history({ thingName: 't', shadowName: '', from: null, to: null, afterVersion: null, limit: 10 });
      assert.deepEqual(all.map((e) => e.version), [1, 2, 3, 4, 5]);
      assert.deepEqual(all[0], entry('t', '', 1, 100));
      assert.deepEqual(s.history({ thingName: 't', shadowName: '', from: 200, to: 400, afterVersion: null, limit: 10 }).map((e) => e.version), [2, 3, 4]);
      assert.deepEqual(s.history({ thingName: 't', shadowName: '', from: null, to: null, afterVersion: 3, limit: 1 }).map((e) => e.version), [4]);
      assert.equal(s.historyAt('t', '', 350)?.version, 3);
      assert.equal(s.historyAt('t', '', 50), null);
    }));

    test('history retention: entries past the age or beyond the newest N per shadow go', withStore((s) => {
      for (let v = 1; v <= 6; v++) s.commit(rec('t', '', v), entry('t', '', v, v * 100));
      for (let v = 1; v <= 2; v++) s.commit(rec('u', 'n', v), entry('u', 'n', v, v * 100));
      assert.equal(s.pruneHistory(150, 3), 3 + 1);
      assert.deepEqual(s.history({ thingName: 't', shadowName: '', from: null, to: null, afterVersion: null, limit: 10 }).map((e) => e.version), [4, 5, 6]);
      assert.deepEqual(s.history({ thingName: 'u', shadowName: 'n', from: null, to: null, afterVersion: null, limit: 10 }).map((e) => e.version), [2]);
      assert.equal(s.pruneHistory(0, 1, { thingName: 't', shadowName: '' }), 2);
    }));
  });
}
