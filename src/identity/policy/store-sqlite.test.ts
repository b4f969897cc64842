import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openDatabase } from '../../core/index.js';
import { policyStoreConformance } from './store-conformance.js';
import { createSqlitePolicyStore } from './store-sqlite.js';

policyStoreConformance('sqlite', () => createSqlitePolicyStore(openDatabase(':memory:')));

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

test('SQLite policy store: data survives reopening the database file, and migration runs once', () => {
  const dir = mkdtempSync(join(tmpdir(), 'thingport-policy-'));
  dirs.push(dir);
  const file = join(dir, 'thingport.db');
  const db1 = openDatabase(file);
  const s1 = createSqlitePolicyStore(db1);
  s1.insertPolicy({ name: 'p', document: '{}', generationId: 'g', tags: [], now: 1 });
  s1.attach('p', 'target-1', 2);
  db1.close();
  const db2 = openDatabase(file);
  const s2 = createSqlitePolicyStore(db2);
  assert.equal(s2.getPolicy('p')?.generationId, 'g');
  assert.deepEqual(s2.policiesOf('target-1'), ['p']);
  assert.deepEqual(db2.prepare("SELECT version FROM schema_versions WHERE module = 'policy'").get(), { version: 1 });
  db2.close();
});
