import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openDatabase } from '../core/index.js';
import { ensureAdminCredentials } from './admin-key.js';
import { createAccessKeyService } from './keys.js';
import { createSqliteIdentityStore } from './store-sqlite.js';
import { openAccessKeys } from './index.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'thingport-keys-db-'));
  dirs.push(d);
  return d;
}

test('created keys look like AWS keys, are listed, looked up with their name as principal, and revoked for good', async () => {
  const keys = createAccessKeyService({ store: createSqliteIdentityStore(openDatabase(':memory:')), dataDir: dataDir(), now: () => 42 });
  const k = keys.create('ci-bot');
  assert.match(k.accessKeyId, /^AKIA[A-Z0-9]{16}$/);
  assert.match(k.secretAccessKey, /^[A-Za-z0-9]{40}$/);
  assert.deepEqual(await keys.lookup(k.accessKeyId), { secretAccessKey: k.secretAccessKey, principal: 'ci-bot' });
  assert.deepEqual(keys.list().map((r) => [r.accessKeyId, r.name, r.status, r.createdAt]), [[k.accessKeyId, 'ci-bot', 'ACTIVE', 42]]);
  assert.equal(keys.revoke(k.accessKeyId), true);
  assert.equal(keys.revoke(k.accessKeyId), false);
  assert.equal(await keys.lookup(k.accessKeyId), null);
  assert.equal(await keys.lookup('AKIAUNKNOWNUNKNOWN00'), null);
  assert.throws(() => keys.create('bad name!'), /key name/);
});

test('the admin key of keys.json is imported on first open and found even when keys.json appears later', async () => {
  const dir = dataDir();
  const store = createSqliteIdentityStore(openDatabase(':memory:'));
  const keys = createAccessKeyService({ store, dataDir: dir, now: Date.now });
  assert.equal(await keys.importAdminKey(), false, 'no keys.json yet');
  const creds = await ensureAdminCredentials(dir, { region: 'us-east-1', endpoint: 'http://127.0.0.1:1' });
  // The server created the admin key after identity started: the first request still authenticates.
  const found = await keys.lookup(creds.accessKeyId);
  assert.equal(found?.principal, 'admin');
  assert.equal(keys.list().length, 1);
});

test('a revoked admin key stays revoked when keys.json is imported again', async () => {
  const dir = dataDir();
  const creds = await ensureAdminCredentials(dir, { region: 'us-east-1', endpoint: 'http://127.0.0.1:1' });
  const first = await openAccessKeys(dir);
  assert.equal(first.keys.revoke(creds.accessKeyId), true);
  first.close();
  const again = await openAccessKeys(dir);
  try {
    assert.equal(await again.keys.lookup(creds.accessKeyId), null);
    assert.equal(again.keys.list()[0]?.status, 'REVOKED');
  } finally {
    again.close();
  }
});
