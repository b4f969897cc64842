import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openDatabase } from '../core/index.js';
import { createSqliteIdentityStore } from './store-sqlite.js';
import { identityStoreSuite } from './store-suite.js';

identityStoreSuite('sqlite', () => createSqliteIdentityStore(openDatabase(':memory:')));

test('the identity tables are migrated once and survive a reopen of the same database', () => {
  const db = openDatabase(':memory:');
  const a = createSqliteIdentityStore(db);
  a.setSettingIfAbsent('k', 'v');
  const b = createSqliteIdentityStore(db); // second migrate is a no-op
  assert.equal(b.getSetting('k'), 'v');
  assert.equal((db.prepare("SELECT version FROM schema_versions WHERE module = 'identity'").get() as { version: number }).version, 1);
});
