import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WriteBehind, type Batch } from './store-write-behind.js';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function harness(opts: { hold?: (b: Batch<string>) => boolean; fail?: () => boolean } = {}) {
  const committed: string[][] = [];
  const errors: unknown[] = [];
  const wb = new WriteBehind<string>({
    commit: (batches) => {
      if (opts.fail?.() === true) throw new Error('disk full');
      committed.push(batches.flatMap((b) => b.ops));
    },
    worthHolding: opts.hold ?? ((b) => b.ops.some((o) => o.startsWith('hold'))),
    graceTurns: 1,
    onError: (err) => errors.push(err),
    retryMs: 5,
  });
  return { wb, committed, errors };
}

test('write-behind: one commit per turn for everything recorded in it; callbacks after the commit', async () => {
  const { wb, committed } = harness();
  const seen: string[] = [];
  wb.record('a');
  wb.afterFlush(() => seen.push(`cb after ${committed.length} commit(s)`));
  wb.record('b');
  assert.equal(wb.dirty, true);
  await nextTurn();
  assert.deepEqual(committed, [['a', 'b']]);
  assert.deepEqual(seen, ['cb after 1 commit(s)']);
  assert.equal(wb.dirty, false);
  let now = false;
  wb.afterFlush(() => (now = true));
  assert.equal(now, true, 'nothing pending: at once');
});

test('write-behind: a held batch commits one turn later, and the batches after it wait for it (order is kept)', async () => {
  const { wb, committed } = harness();
  wb.record('hold-1');
  await nextTurn();
  assert.deepEqual(committed, []);
  wb.record('plain-2');
  await nextTurn();
  assert.deepEqual(committed, [['hold-1', 'plain-2']], 'one transaction for both, in order');
});

test('write-behind: a failed commit keeps the batches and their callbacks, and is retried', async () => {
  let failures = 1;
  const { wb, committed, errors } = harness({ fail: () => failures-- > 0 });
  let acked = false;
  wb.record('x');
  wb.afterFlush(() => (acked = true));
  await nextTurn();
  assert.equal(errors.length, 1);
  assert.equal(acked, false, 'not acknowledged while not committed');
  wb.record('y');
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(committed, [['x', 'y']]);
  assert.equal(acked, true);
});

test('write-behind: flush commits held batches at once; after close nothing is recorded and waiting callbacks never run', () => {
  const { wb, committed } = harness({ fail: () => committed.length > 0 });
  wb.record('hold-1');
  assert.equal(wb.flush(), true);
  assert.deepEqual(committed, [['hold-1']]);
  wb.record('hold-2');
  let acked = false;
  wb.afterFlush(() => (acked = true));
  assert.equal(wb.flush(), false, 'the commit failed');
  wb.close();
  wb.record('z');
  wb.afterFlush(() => (acked = true));
  assert.equal(acked, false);
});
