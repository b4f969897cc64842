import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openDatabase } from '../core/index.js';
import { SqliteShadowStore } from './store-sqlite.js';
import { runShadowStoreSuite } from './store-suite.js';

runShadowStoreSuite('sqlite', () => {
  const db = openDatabase(':memory:');
  return { store: new SqliteShadowStore(db), close: () => void db.close() };
});

test('sqlite shadow store: a commit survives reopening the file; migrations run once', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-shadow-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'thingport.db');
  let db = openDatabase(file);
  new SqliteShadowStore(db).commit({ thingName: 't', shadowName: '', version: 7, deleted: false, desired: '{"a":1}', reported: null, metadataDesired: null, metadataReported: null, updatedAt: 1 }, null);
  db.close();
  db = openDatabase(file);
  assert.equal(new SqliteShadowStore(db).get('t', '')?.version, 7);
  assert.equal((db.prepare("SELECT version FROM schema_versions WHERE module = 'shadow'").get() as { version: number }).version, 1);
  db.close();
});
