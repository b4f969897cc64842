import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Session, type Subscription } from './session.js';

function sub(s: Session, filter: string, qos: 0 | 1 | 2 = 0): Subscription {
  return { session: s, filter, topicFilter: filter, group: null, qos, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: null };
}

function internal(s: Session): unknown {
  return (s as unknown as { subs: unknown }).subs;
}

test('a session holds its only subscription inline, a Map from the second, and goes back inline at one', () => {
  const s = new Session('c1', 4, 0, 'sid');
  assert.equal(s.subscriptionCount, 0);
  assert.equal(s.getSubscription('a'), undefined);
  assert.deepEqual(s.listSubscriptions(), []);
  assert.equal(s.deleteSubscription('a'), false);

  const a = sub(s, 'a');
  s.setSubscription(a);
  assert.equal(internal(s), a, 'inline');
  assert.equal(s.subscriptionCount, 1);
  assert.equal(s.getSubscription('a'), a);
  assert.equal(s.getSubscription('b'), undefined);
  const a2 = sub(s, 'a', 1);
  s.setSubscription(a2);
  assert.equal(internal(s), a2, 'replaced, still inline');
  assert.equal(s.subscriptionCount, 1);

  const b = sub(s, 'b');
  const c = sub(s, '$share/g/c');
  s.setSubscription(b);
  s.setSubscription(c);
  assert.ok(internal(s) instanceof Map);
  assert.equal(s.subscriptionCount, 3);
  assert.deepEqual(s.listSubscriptions(), [a2, b, c], 'in the order subscribed');
  assert.equal(s.getSubscription('$share/g/c'), c);

  assert.equal(s.deleteSubscription('a'), true);
  assert.equal(s.deleteSubscription('a'), false);
  assert.ok(internal(s) instanceof Map);
  assert.equal(s.deleteSubscription('$share/g/c'), true);
  assert.equal(internal(s), b, 'back inline');
  assert.equal(s.deleteSubscription('x'), false);
  assert.equal(s.deleteSubscription('b'), true);
  assert.equal(internal(s), null);
  assert.equal(s.subscriptionCount, 0);
});

test('listSubscriptions is a copy: removing while going through it visits every subscription', () => {
  const s = new Session('c1', 5, 0, 'sid');
  for (const f of ['a', 'b', 'c']) s.setSubscription(sub(s, f));
  const seen: string[] = [];
  for (const x of s.listSubscriptions()) {
    seen.push(x.filter);
    s.deleteSubscription(x.filter);
  }
  assert.deepEqual(seen, ['a', 'b', 'c']);
  assert.equal(s.subscriptionCount, 0);
});
