/**
 * The conformance suite of PolicyStore (STYLE.md #5): every implementation runs it with its own
 * factory, e.g. `policyStoreConformance('sqlite', () => createSqlitePolicyStore(openDatabase(':memory:')))`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PolicyStore } from './store.js';

const DOC = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*"}}';
const CERT = 'arn:aws:iot:eu-central-1:123456789012:cert/' + 'a'.repeat(64);
const GROUP = 'arn:aws:iot:eu-central-1:123456789012:thinggroup/floor-1';

/** Registers the suite's tests under `label`; `makeStore` returns a fresh, empty store. */
export function policyStoreConformance(label: string, makeStore: () => PolicyStore): void {
  const named = (name: string): string => `PolicyStore conformance (${label}): ${name}`;

  test(named('a new policy has version 1 as its default, tags and timestamps'), () => {
    const s = makeStore();
    assert.equal(s.getPolicy('p'), null);
    s.insertPolicy({ name: 'p', document: DOC, generationId: 'g1', tags: [{ Key: 'team', Value: 'a' }], now: 1000 });
    assert.deepEqual(s.getPolicy('p'), { name: 'p', defaultVersionId: 1, generationId: 'g1', tags: [{ Key: 'team', Value: 'a' }], createdAt: 1000, updatedAt: 1000 });
    assert.deepEqual(s.listVersions('p'), [{ policyName: 'p', versionId: 1, document: DOC, createdAt: 1000 }]);
    assert.deepEqual(s.getVersion('p', 1), { policyName: 'p', versionId: 1, document: DOC, createdAt: 1000 });
    assert.equal(s.getVersion('p', 2), null);
  });

  test(named('policies list in creation order'), () => {
    const s = makeStore();
    for (const n of ['zeta', 'alpha', 'mid']) s.insertPolicy({ name: n, document: DOC, generationId: n, tags: [], now: 1 });
    assert.deepEqual(s.listPolicies().map((p) => p.name), ['zeta', 'alpha', 'mid']);
  });

  test(named('version ids increase and are never reused after a deletion'), () => {
    const s = makeStore();
    s.insertPolicy({ name: 'p', document: DOC, generationId: 'g', tags: [], now: 1 });
    assert.equal(s.insertVersion('p', 'v2', 2), 2);
    assert.equal(s.insertVersion('p', 'v3', 3), 3);
    assert.equal(s.deleteVersion('p', 3), true);
    assert.equal(s.deleteVersion('p', 3), false);
    assert.equal(s.insertVersion('p', 'v4', 4), 4);
    assert.deepEqual(s.listVersions('p').map((v) => v.versionId), [1, 2, 4]);
  });

  test(named('setting the default version records the generation id and update time'), () => {
    const s = makeStore();
    s.insertPolicy({ name: 'p', document: DOC, generationId: 'g1', tags: [], now: 1 });
    s.insertVersion('p', 'v2', 2);
    s.setDefaultVersion('p', 2, 'g2', 5);
    const p = s.getPolicy('p')!;
    assert.equal(p.defaultVersionId, 2);
    assert.equal(p.generationId, 'g2');
    assert.equal(p.updatedAt, 5);
    assert.equal(p.createdAt, 1);
  });

  test(named('attachments are idempotent, ordered, and listed both ways'), () => {
    const s = makeStore();
    s.insertPolicy({ name: 'a', document: DOC, generationId: 'g', tags: [], now: 1 });
    s.insertPolicy({ name: 'b', document: DOC, generationId: 'g', tags: [], now: 1 });
    assert.equal(s.attach('a', CERT, 1), true);
    assert.equal(s.attach('a', CERT, 2), false);
    assert.equal(s.attach('b', CERT, 3), true);
    assert.equal(s.attach('a', GROUP, 4), true);
    assert.deepEqual(s.policiesOf(CERT), ['a', 'b']);
    assert.deepEqual(s.targetsOf('a'), [CERT, GROUP]);
    assert.deepEqual(s.attachments(), [
      { policyName: 'a', target: CERT },
      { policyName: 'b', target: CERT },
      { policyName: 'a', target: GROUP },
    ]);
    assert.equal(s.detach('a', CERT), true);
    assert.equal(s.detach('a', CERT), false);
    assert.deepEqual(s.policiesOf(CERT), ['b']);
    assert.deepEqual(s.policiesOf('nothing'), []);
  });

  test(named('deleting a policy removes its versions and attachments'), () => {
    const s = makeStore();
    s.insertPolicy({ name: 'p', document: DOC, generationId: 'g', tags: [], now: 1 });
    s.insertVersion('p', 'v2', 2);
    s.attach('p', CERT, 1);
    assert.equal(s.deletePolicy('p'), true);
    assert.equal(s.deletePolicy('p'), false);
    assert.equal(s.getPolicy('p'), null);
    assert.deepEqual(s.listVersions('p'), []);
    assert.deepEqual(s.policiesOf(CERT), []);
    // The name can be used again, starting over at version 1.
    s.insertPolicy({ name: 'p', document: DOC, generationId: 'g', tags: [], now: 9 });
    assert.equal(s.getPolicy('p')?.defaultVersionId, 1);
    assert.equal(s.insertVersion('p', 'v2', 10), 2);
  });
}
