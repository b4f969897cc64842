// The AuthorizerStore contract, as a suite every adapter runs (STYLE.md #5); SQLite runs it here.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { openDatabase } from '../core/index.js';
import { createSqliteAuthorizerStore, type AuthorizerRecord, type AuthorizerStore } from './authorizers-store.js';

const rec = (n: number, over: Partial<AuthorizerRecord> = {}): AuthorizerRecord => ({
  authorizerName: `auth-${n}`,
  authorizerFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:f${n}`,
  tokenKeyName: n % 2 === 0 ? 'tok' : null,
  tokenSigningPublicKeys: n % 2 === 0 ? { k1: `pem-${n}` } : {},
  status: 'ACTIVE',
  signingDisabled: n % 2 === 1,
  enableCachingForHttp: false,
  tags: [{ Key: 'n', Value: String(n) }],
  createdAt: 1_000 + n,
  lastModifiedAt: 1_000 + n,
  ...over,
});

function authorizerStoreSuite(name: string, open: () => AuthorizerStore): void {
  describe(`AuthorizerStore conformance (${name})`, () => {
    test('insert once, read back every field, update, delete', () => {
      const s = open();
      assert.equal(s.insertAuthorizer(rec(1)), true);
      assert.equal(s.insertAuthorizer(rec(1, { authorizerFunctionArn: 'other' })), false);
      assert.deepEqual(s.getAuthorizer('auth-1'), rec(1));
      const changed = rec(1, { status: 'INACTIVE', tokenKeyName: 't2', tokenSigningPublicKeys: { a: 'x', b: 'y' }, enableCachingForHttp: true, lastModifiedAt: 5_000 });
      assert.equal(s.updateAuthorizer(changed), true);
      assert.deepEqual(s.getAuthorizer('auth-1'), changed);
      assert.equal(s.updateAuthorizer(rec(9)), false);
      assert.equal(s.deleteAuthorizer('auth-1'), true);
      assert.equal(s.deleteAuthorizer('auth-1'), false);
      assert.equal(s.getAuthorizer('auth-1'), null);
    });

    test('lists by creation time both ways, in pages, optionally by status', () => {
      const s = open();
      for (const n of [3, 1, 2]) s.insertAuthorizer(rec(n, { status: n === 2 ? 'INACTIVE' : 'ACTIVE' }));
      const names = (p: { items: AuthorizerRecord[] }): string[] => p.items.map((r) => r.authorizerName);
      assert.deepEqual(names(s.listAuthorizers({ offset: 0, limit: 10, ascending: true })), ['auth-1', 'auth-2', 'auth-3']);
      assert.deepEqual(names(s.listAuthorizers({ offset: 0, limit: 10, ascending: false })), ['auth-3', 'auth-2', 'auth-1']);
      const first = s.listAuthorizers({ offset: 0, limit: 2, ascending: true });
      assert.deepEqual([names(first), first.more], [['auth-1', 'auth-2'], true]);
      const second = s.listAuthorizers({ offset: 2, limit: 2, ascending: true });
      assert.deepEqual([names(second), second.more], [['auth-3'], false]);
      assert.deepEqual(names(s.listAuthorizers({ offset: 0, limit: 10, ascending: true, status: 'INACTIVE' })), ['auth-2']);
    });

    test('the default authorizer: unset, set, replaced, cleared', () => {
      const s = open();
      assert.equal(s.getDefaultAuthorizer(), null);
      s.setDefaultAuthorizer('a');
      s.setDefaultAuthorizer('b');
      assert.equal(s.getDefaultAuthorizer(), 'b');
      s.setDefaultAuthorizer(null);
      assert.equal(s.getDefaultAuthorizer(), null);
    });
  });
}

authorizerStoreSuite('sqlite', () => createSqliteAuthorizerStore(openDatabase(':memory:')));

test('the authorizer tables are migrated once and survive a reopen of the same database', () => {
  const db = openDatabase(':memory:');
  createSqliteAuthorizerStore(db).insertAuthorizer(rec(4));
  assert.equal(createSqliteAuthorizerStore(db).getAuthorizer('auth-4')?.authorizerName, 'auth-4');
});
