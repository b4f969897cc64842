import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteBrokerStore } from './store-sqlite.js';
import type { Message } from './message.js';

function tmpFile(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tp-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'broker.db');
}

const msg = (topic: string, payload = 'x'): Message => ({
  topic,
  payload: Buffer.from(payload),
  qos: 1,
  retain: false,
  properties: { contentType: 'text/plain', correlationData: Buffer.from([1, 2, 3]), userProperties: { a: '1' } },
  expiresAt: 0,
  origin: 'pub',
  headers: null,
});

test('store: nothing is committed before flush; afterFlush runs once committed', (t) => {
  const file = tmpFile(t);
  const s = new SqliteBrokerStore(file);
  s.putSession({ clientId: 'c1', expiryInterval: 60, disconnectedAt: null, protocolVersion: 5 });
  assert.equal(s.dirty, true);
  let flushed = false;
  s.afterFlush(() => (flushed = true));
  assert.equal(flushed, false, 'callback waits for the batch');
  const other = new SqliteBrokerStore(file);
  assert.equal(other.load().sessions.length, 0, 'not yet visible to another reader');
  s.flush();
  assert.equal(flushed, true);
  assert.equal(s.dirty, false);
  assert.equal(other.load().sessions.length, 1);
  other.close();
  s.close();
});

test('store: sessions, subscriptions, retained, queue and QoS 2 ids survive reopening, properties intact', (t) => {
  const file = tmpFile(t);
  const s = new SqliteBrokerStore(file);
  s.putSession({ clientId: 'c1', expiryInterval: 3600, disconnectedAt: 5, protocolVersion: 4 });
  s.putSubscription({ clientId: 'c1', filter: 'a/#', qos: 1, noLocal: true, retainAsPublished: false, retainHandling: 2, subscriptionId: 7 });
  s.putRetained({ ...msg('r/1'), retain: true });
  s.putQueued({ clientId: 'c1', seq: 1, message: msg('a/1'), qos: 1, retain: false, subscriptionIds: [7], state: 'queued', packetId: 0 });
  s.putQueued({ clientId: 'c1', seq: 2, message: msg('a/2'), qos: 1, retain: false, subscriptionIds: null, state: 'queued', packetId: 0 });
  s.flush();
  s.updateQueued('c1', 2, 'sent', 42);
  s.putIncomingQos2('c1', 9);
  s.close();

  const r = new SqliteBrokerStore(file);
  const snap = r.load();
  assert.deepEqual(snap.sessions, [{ clientId: 'c1', expiryInterval: 3600, disconnectedAt: 5, protocolVersion: 4 }]);
  assert.deepEqual(snap.subscriptions, [{ clientId: 'c1', filter: 'a/#', qos: 1, noLocal: true, retainAsPublished: false, retainHandling: 2, subscriptionId: 7 }]);
  assert.equal(snap.retained.length, 1);
  assert.deepEqual(snap.retained[0].properties?.correlationData, Buffer.from([1, 2, 3]));
  assert.deepEqual(snap.queued.map((q) => [q.seq, q.state, q.packetId, q.message.topic]), [[1, 'queued', 0, 'a/1'], [2, 'sent', 42, 'a/2']]);
  assert.deepEqual(snap.queued[0].subscriptionIds, [7]);
  assert.deepEqual(snap.incomingQos2, [{ clientId: 'c1', packetId: 9 }]);
  r.close();
});

test('store: a queued message acknowledged before its batch commits is never written', (t) => {
  const file = tmpFile(t);
  const s = new SqliteBrokerStore(file);
  s.putQueued({ clientId: 'c1', seq: 1, message: msg('a'), qos: 1, retain: false, subscriptionIds: null, state: 'queued', packetId: 0 });
  s.updateQueued('c1', 1, 'sent', 1);
  s.deleteQueued('c1', 1);
  s.flush();
  assert.equal(s.load().queued.length, 0);
  s.close();
});

test('store: deleting a session removes its subscriptions, queue and QoS 2 state', (t) => {
  const file = tmpFile(t);
  const s = new SqliteBrokerStore(file);
  s.putSession({ clientId: 'c1', expiryInterval: 60, disconnectedAt: null, protocolVersion: 5 });
  s.putSubscription({ clientId: 'c1', filter: 'x', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: null });
  s.putQueued({ clientId: 'c1', seq: 1, message: msg('x'), qos: 1, retain: false, subscriptionIds: null, state: 'queued', packetId: 0 });
  s.putIncomingQos2('c1', 3);
  s.flush();
  s.deleteSession('c1');
  s.flush();
  const snap = s.load();
  assert.equal(snap.sessions.length + snap.subscriptions.length + snap.queued.length + snap.incomingQos2.length, 0);
  s.close();
});
