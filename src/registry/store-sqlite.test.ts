import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openDatabase } from '../core/index.js';
import { SqliteRegistryStore } from './store-sqlite.js';
import { runRegistryStoreSuite } from './store-suite.js';

runRegistryStoreSuite('sqlite', () => {
  const db = openDatabase(':memory:');
  return {
    store: new SqliteRegistryStore(db),
    close: () => {
      db.close();
    },
  };
});

test('sqlite store: data survives reopening the file; migrations run once', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-registry-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'thingport.db');
  let db = openDatabase(file);
  new SqliteRegistryStore(db).putThing({ thingName: 'lamp', thingId: 'id', thingTypeName: null, attributes: { a: 'b' }, version: 3, billingGroupName: null, createdAt: 1 });
  db.close();
  db = openDatabase(file);
  const store = new SqliteRegistryStore(db);
  assert.deepEqual(store.getThing('lamp')?.attributes, { a: 'b' });
  assert.equal((db.prepare("SELECT version FROM schema_versions WHERE module = 'registry'").get() as { version: number }).version, 1);
  db.close();
});
