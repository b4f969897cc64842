import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteBrokerStore } from './store-sqlite.js';
import type { Message } from './message.js';
import type { QueuedEntry, QueuedState } from './store.js';

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
  s.putQueued('c1', { seq: 1, message: msg('a/1'), qos: 1, retain: false, subscriptionIds: [7], state: 'queued', packetId: 0 });
  s.putQueued('c1', { seq: 2, message: msg('a/2'), qos: 1, retain: false, subscriptionIds: null, state: 'queued', packetId: 0 });
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
  s.putQueued('c1', { seq: 1, message: msg('a'), qos: 1, retain: false, subscriptionIds: null, state: 'queued', packetId: 0 });
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
  s.putQueued('c1', { seq: 1, message: msg('x'), qos: 1, retain: false, subscriptionIds: null, state: 'queued', packetId: 0 });
  s.putIncomingQos2('c1', 3);
  s.flush();
  s.deleteSession('c1');
  s.flush();
  const snap = s.load();
  assert.equal(snap.sessions.length + snap.subscriptions.length + snap.queued.length + snap.incomingQos2.length, 0);
  s.close();
});

const entry = (seq: number, message: Message, state: QueuedState = 'queued', packetId = 0): QueuedEntry => ({
  seq,
  message,
  qos: 1,
  retain: false,
  subscriptionIds: null,
  state,
  packetId,
});

/** Rows of a table, read through a second connection (what a restart would find). */
function rows(file: string, sql: string): Record<string, unknown>[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).all() as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('store: a message queued for several receivers in one batch is stored once; the last row deleted takes it along', (t) => {
  const file = tmpFile(t);
  const s = new SqliteBrokerStore(file);
  const m = msg('fan/out', 'payload stored once');
  for (const c of ['c1', 'c2', 'c3']) s.putQueued(c, entry(1, m));
  s.flush();
  assert.equal(rows(file, 'SELECT * FROM broker_messages').length, 1);
  const q = rows(file, 'SELECT client_id, message_id, topic, payload FROM broker_queue ORDER BY client_id');
  assert.deepEqual(q.map((r) => [r.client_id, r.topic, r.payload]), [['c1', null, null], ['c2', null, null], ['c3', null, null]]);
  assert.equal(new Set(q.map((r) => r.message_id)).size, 1, 'all rows reference the same message');
  assert.equal(s.counts.messagesWritten, 1);
  s.deleteQueued('c1', 1);
  s.deleteQueued('c2', 1);
  s.flush();
  assert.equal(rows(file, 'SELECT * FROM broker_messages').length, 1, 'still referenced by c3');
  s.deleteQueued('c3', 1);
  s.flush();
  assert.equal(rows(file, 'SELECT * FROM broker_messages').length, 0);
  assert.equal(rows(file, 'SELECT * FROM broker_queue').length, 0);
  s.close();
});

test('store: a message with one receiver left in its batch stays inline in the queue row', (t) => {
  const file = tmpFile(t);
  const s = new SqliteBrokerStore(file);
  const m = msg('one');
  s.putQueued('c1', entry(1, m));
  s.putQueued('c2', entry(1, m, 'sent', 5));
  s.deleteQueued('c2', 1); // acknowledged before the commit
  s.putQueued('c3', entry(1, msg('other')));
  s.flush();
  assert.equal(rows(file, 'SELECT * FROM broker_messages').length, 0);
  const q = rows(file, 'SELECT client_id, message_id, topic FROM broker_queue ORDER BY client_id');
  assert.deepEqual(q, [{ client_id: 'c1', message_id: null, topic: 'one' }, { client_id: 'c3', message_id: null, topic: 'other' }]);
  assert.deepEqual([s.counts.queuedWritten, s.counts.queuedCancelled], [2, 1]);
  s.close();
});

test('store: after a restart the receivers of a shared message share one Message again; deletes still release the row', (t) => {
  const file = tmpFile(t);
  const s = new SqliteBrokerStore(file);
  const m = msg('shared/after/restart', 'p');
  s.putQueued('c1', entry(1, m));
  s.putQueued('c2', { ...entry(1, m, 'sent', 7), qos: 0, retain: true, subscriptionIds: [3] });
  s.putQueued('c2', entry(2, msg('inline', 'q')));
  s.close();

  const r = new SqliteBrokerStore(file);
  const snap = r.load();
  assert.deepEqual(snap.queued.map((q) => [q.clientId, q.seq, q.message.topic, q.state, q.packetId, q.qos, q.retain, q.subscriptionIds]), [
    ['c1', 1, 'shared/after/restart', 'queued', 0, 1, false, null],
    ['c2', 1, 'shared/after/restart', 'sent', 7, 0, true, [3]],
    ['c2', 2, 'inline', 'queued', 0, 1, false, null],
  ]);
  assert.equal(snap.queued[0].message, snap.queued[1].message, 'one Message object for both receivers');
  assert.deepEqual(snap.queued[0].message.properties?.correlationData, Buffer.from([1, 2, 3]));
  assert.equal(snap.queued[0].message.payload.toString(), 'p');
  r.deleteQueued('c1', 1);
  r.flush();
  assert.equal(rows(file, 'SELECT * FROM broker_messages').length, 1);
  r.deleteSession('c2');
  r.flush();
  assert.equal(rows(file, 'SELECT * FROM broker_messages').length, 0, 'the session delete released it');
  assert.equal(rows(file, 'SELECT * FROM broker_queue').length, 0);
  // New shared messages get fresh ids after a restart.
  const m2 = msg('again');
  r.putQueued('c1', entry(2, m2));
  r.putQueued('c3', entry(1, m2));
  r.flush();
  assert.equal(rows(file, 'SELECT * FROM broker_messages').length, 1);
  r.close();
});

test('store: a data directory written with schema 1 (every message inline) is upgraded in place and reads the same', (t) => {
  const file = tmpFile(t);
  const v1 = new Database(file);
  v1.exec(`
    CREATE TABLE broker_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE broker_sessions (client_id TEXT PRIMARY KEY, expiry_interval INTEGER NOT NULL, disconnected_at INTEGER, protocol_version INTEGER NOT NULL);
    CREATE TABLE broker_subscriptions (client_id TEXT NOT NULL, filter TEXT NOT NULL, qos INTEGER NOT NULL, no_local INTEGER NOT NULL,
      retain_as_published INTEGER NOT NULL, retain_handling INTEGER NOT NULL, subscription_id INTEGER, PRIMARY KEY (client_id, filter));
    CREATE TABLE broker_retained (topic TEXT PRIMARY KEY, payload BLOB NOT NULL, qos INTEGER NOT NULL, properties TEXT, expires_at INTEGER NOT NULL, origin TEXT);
    CREATE TABLE broker_queue (client_id TEXT NOT NULL, seq INTEGER NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL, msg_qos INTEGER NOT NULL,
      msg_retain INTEGER NOT NULL, properties TEXT, expires_at INTEGER NOT NULL, origin TEXT, qos INTEGER NOT NULL, retain INTEGER NOT NULL,
      subscription_ids TEXT, state TEXT NOT NULL, packet_id INTEGER NOT NULL, PRIMARY KEY (client_id, seq));
    CREATE TABLE broker_incoming_qos2 (client_id TEXT NOT NULL, packet_id INTEGER NOT NULL, PRIMARY KEY (client_id, packet_id));
    INSERT INTO broker_meta VALUES ('schema_version', '1');
    INSERT INTO broker_sessions VALUES ('c1', 3600, 5, 5);
    INSERT INTO broker_queue VALUES ('c1', 1, 'old/1', x'6869', 1, 0, '{"contentType":"text/plain"}', 0, 'pub', 1, 0, '[4]', 'sent', 17);
    INSERT INTO broker_queue VALUES ('c1', 2, 'old/2', x'', 2, 1, NULL, 99, NULL, 2, 1, NULL, 'queued', 0);
  `);
  v1.close();

  const s = new SqliteBrokerStore(file);
  const snap = s.load();
  assert.deepEqual(snap.sessions.map((x) => x.clientId), ['c1']);
  assert.deepEqual(
    snap.queued.map((q) => [q.seq, q.message.topic, q.message.payload.toString(), q.message.qos, q.message.retain, q.message.properties, q.message.expiresAt, q.message.origin, q.qos, q.retain, q.subscriptionIds, q.state, q.packetId]),
    [
      [1, 'old/1', 'hi', 1, false, { contentType: 'text/plain' }, 0, 'pub', 1, false, [4], 'sent', 17],
      [2, 'old/2', '', 2, true, null, 99, null, 2, true, null, 'queued', 0],
    ],
  );
  assert.deepEqual(rows(file, "SELECT value FROM broker_meta WHERE key = 'schema_version'"), [{ value: '2' }]);
  // The upgraded store takes new writes in the new layout.
  const m = msg('new');
  s.putQueued('c1', entry(3, m));
  s.putQueued('c2', entry(1, m));
  s.deleteQueued('c1', 1);
  s.flush();
  assert.equal(rows(file, 'SELECT * FROM broker_messages').length, 1);
  assert.deepEqual(rows(file, 'SELECT client_id, seq FROM broker_queue ORDER BY client_id, seq'), [{ client_id: 'c1', seq: 2 }, { client_id: 'c1', seq: 3 }, { client_id: 'c2', seq: 1 }]);
  s.close();
  assert.equal(new SqliteBrokerStore(file).load().queued.length, 3, 'opens again without upgrading twice');
});

test('store: a database from a newer Thingport is refused', (t) => {
  const file = tmpFile(t);
  new SqliteBrokerStore(file).close();
  const db = new Database(file);
  db.prepare("UPDATE broker_meta SET value = '99' WHERE key = 'schema_version'").run();
  db.close();
  assert.throws(() => new SqliteBrokerStore(file), /schema 99 is newer/);
});

test('store: a batch with a delivery in flight waits one turn, and the PUBACK in that turn means nothing is written', async (t) => {
  const file = tmpFile(t);
  const s = new SqliteBrokerStore(file);
  t.after(() => s.close());
  s.putQueued('sub', entry(1, msg('inflight'), 'sent', 1));
  let acked = false;
  s.afterFlush(() => (acked = true)); // the publisher's PUBACK
  await nextTurn();
  assert.equal(acked, false, 'held for the receiver');
  s.deleteQueued('sub', 1); // the receiver's PUBACK, one turn later
  await nextTurn();
  await nextTurn();
  assert.equal(acked, true);
  assert.deepEqual([s.counts.queuedWritten, s.counts.queuedCancelled], [0, 1]);
  assert.equal(rows(file, 'SELECT * FROM broker_queue').length, 0);
});

test('store: a held batch without its PUBACK is committed after the grace turn; later acks become deletes', async (t) => {
  const file = tmpFile(t);
  const s = new SqliteBrokerStore(file);
  t.after(() => s.close());
  s.putQueued('sub', entry(1, msg('slow'), 'sent', 1));
  let acked = false;
  s.afterFlush(() => (acked = true));
  await nextTurn();
  assert.equal(acked, false);
  await nextTurn();
  assert.equal(acked, true, 'committed one turn later');
  assert.equal(rows(file, 'SELECT * FROM broker_queue').length, 1);
  s.updateQueued('sub', 1, 'sent', 2);
  s.deleteQueued('sub', 1);
  s.flush();
  assert.equal(rows(file, 'SELECT * FROM broker_queue').length, 0);
});

test('store: a batch with nothing in flight (receiver offline) commits at the end of its own turn', async (t) => {
  const file = tmpFile(t);
  const s = new SqliteBrokerStore(file);
  t.after(() => s.close());
  s.putQueued('offline', entry(1, msg('queued')));
  let acked = false;
  s.afterFlush(() => (acked = true));
  await nextTurn();
  assert.equal(acked, true);
  assert.equal(rows(file, 'SELECT * FROM broker_queue').length, 1);
});

test('store: graceTurns 0 commits every batch at the end of its turn', async (t) => {
  const file = tmpFile(t);
  const s = new SqliteBrokerStore(file, { graceTurns: 0 });
  t.after(() => s.close());
  s.putQueued('sub', entry(1, msg('inflight'), 'sent', 1));
  let acked = false;
  s.afterFlush(() => (acked = true));
  await nextTurn();
  assert.equal(acked, true);
  assert.equal(s.counts.queuedWritten, 1);
});

test('store: callbacks wait for their own batch, not a later one; the batch id tells them apart', async (t) => {
  const file = tmpFile(t);
  const s = new SqliteBrokerStore(file);
  t.after(() => s.close());
  const b1 = s.batch;
  s.putQueued('sub', entry(1, msg('one'), 'sent', 1));
  const order: string[] = [];
  s.afterFlush(() => order.push('first'));
  await nextTurn();
  assert.notEqual(s.batch, b1, 'a new batch records after the turn');
  s.putQueued('sub', entry(2, msg('two'), 'sent', 2));
  s.afterFlush(() => order.push('second'));
  await nextTurn();
  assert.deepEqual(order, ['first']);
  assert.deepEqual(rows(file, 'SELECT seq FROM broker_queue'), [{ seq: 1 }], 'the second batch is still held');
  await nextTurn();
  assert.deepEqual(order, ['first', 'second']);
});

test('store: out-of-order acknowledgements cancel the right deliveries', (t) => {
  const file = tmpFile(t);
  const s = new SqliteBrokerStore(file);
  for (let i = 1; i <= 100; i++) s.putQueued('c', entry(i, msg(`m${i}`), 'sent', i));
  for (let i = 100; i >= 1; i -= 3) s.deleteQueued('c', i);
  for (let i = 2; i <= 100; i += 7) s.updateQueued('c', i, 'pubrel', 1000 + i);
  s.flush();
  const expected = Array.from({ length: 100 }, (_, k) => k + 1).filter((i) => (100 - i) % 3 !== 0);
  const got = rows(file, 'SELECT seq, state, packet_id FROM broker_queue ORDER BY seq');
  assert.deepEqual(got.map((r) => r.seq), expected);
  for (const r of got) {
    const seq = r.seq as number;
    const upd = (seq - 2) % 7 === 0 && seq >= 2;
    assert.deepEqual([r.state, r.packet_id], upd ? ['pubrel', 1000 + seq] : ['sent', seq], `seq ${seq}`);
  }
  s.close();
});

test('store: draining a written queue: a send acknowledged within the grace turn writes only the delete', async (t) => {
  const file = tmpFile(t);
  const s = new SqliteBrokerStore(file);
  t.after(() => s.close());
  for (let i = 1; i <= 3; i++) s.putQueued('c', entry(i, msg(`m${i}`)));
  s.flush();
  // The client comes back: all three are sent; 1 and 2 are acknowledged in the next turn, 3 is not.
  for (let i = 1; i <= 3; i++) s.updateQueued('c', i, 'sent', 10 + i);
  await nextTurn();
  s.deleteQueued('c', 1);
  s.deleteQueued('c', 2);
  s.updateQueued('c', 3, 'pubrel', 13); // a second change folds into the pending update
  await nextTurn();
  await nextTurn();
  assert.equal(s.dirty, false);
  assert.deepEqual([s.counts.updatesWritten, s.counts.updatesCancelled], [1, 2]);
  assert.deepEqual(rows(file, 'SELECT seq, state, packet_id FROM broker_queue'), [{ seq: 3, state: 'pubrel', packet_id: 13 }]);
});

test('store: a store opened without load() still gives new shared messages fresh ids', (t) => {
  const file = tmpFile(t);
  const a = new SqliteBrokerStore(file);
  const m = msg('x');
  a.putQueued('c1', entry(1, m));
  a.putQueued('c2', entry(1, m));
  a.close();
  const b = new SqliteBrokerStore(file);
  const m2 = msg('y');
  b.putQueued('c1', entry(2, m2));
  b.putQueued('c2', entry(2, m2));
  b.flush();
  assert.equal(rows(file, 'SELECT * FROM broker_messages').length, 2);
  b.close();
});

test('store: consecutive acknowledgements become one range delete that still releases shared messages', (t) => {
  const file = tmpFile(t);
  const s = new SqliteBrokerStore(file);
  const shared = [msg('s2'), msg('s4')];
  for (let i = 1; i <= 6; i++) {
    const m = i === 2 ? shared[0] : i === 4 ? shared[1] : msg(`c${i}`);
    s.putQueued('c', entry(i, m));
    if (i === 2 || i === 4) s.putQueued('other', entry(i, m));
  }
  s.flush();
  assert.equal(rows(file, 'SELECT * FROM broker_messages').length, 2);
  for (let i = 1; i <= 5; i++) s.deleteQueued('c', i); // 6 stays
  s.flush();
  assert.deepEqual(rows(file, "SELECT seq FROM broker_queue WHERE client_id = 'c'"), [{ seq: 6 }]);
  assert.equal(rows(file, 'SELECT * FROM broker_messages').length, 2, "still referenced by 'other'");
  s.deleteQueued('other', 2);
  s.deleteQueued('other', 4);
  s.flush();
  assert.equal(rows(file, 'SELECT * FROM broker_messages').length, 0);
  s.close();
  const again = new SqliteBrokerStore(file).load();
  assert.deepEqual(again.queued.map((q) => [q.clientId, q.seq, q.message.topic]), [['c', 6, 'c6']]);
});
