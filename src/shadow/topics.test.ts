// The MQTT adapter with a fake broker whose publishes settle when the test says so: in-flight
// accounting (429) and per-request answer topics.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClientInfo, Message, MessageHandler, PublishInput } from '../core/index.js';
import { createLogger } from '../lib/index.js';
import { ShadowService } from './service.js';
import { SqliteShadowStore } from './store-sqlite.js';
import { openDatabase } from '../core/index.js';
import { createShadowTopics } from './topics.js';

function setup(maxInFlight = 10) {
  const db = openDatabase(':memory:');
  const published: { topic: string; payload: string }[] = [];
  const pending: (() => void)[] = [];
  let handler: MessageHandler | null = null;
  const messaging = {
    publish: (p: PublishInput) => {
      published.push({ topic: p.topic, payload: String(p.payload) });
      return new Promise<void>((resolve) => pending.push(resolve));
    },
    subscribe: (_f: string, h: MessageHandler) => {
      handler = h;
      return () => (handler = null);
    },
  };
  const logger = createLogger('silent');
  const service = new ShadowService({ store: new SqliteShadowStore(db), messaging, logger, now: () => 1_000_000 });
  const topics = createShadowTopics({ service, messaging, logger, maxInFlight });
  topics.start();
  const client = { clientId: 'c', sessionIdentifier: 's', principal: 'cert-1' } as ClientInfo;
  const send = (topic: string, payload: string, from: ClientInfo | null = client): void =>
    handler!({ topic, payload: Buffer.from(payload), qos: 0, retain: false, properties: null, expiresAt: 0, origin: null, headers: null } as Message, from);
  const flush = async (): Promise<void> => {
    for (const r of pending.splice(0)) r();
    await new Promise((r) => setImmediate(r));
  };
  return { db, published, send, flush, topics };
}

test('AWS 429: the 11th in-flight request on one connection is rejected with Too Many Requests', async () => {
  const s = setup();
  for (let i = 0; i < 11; i++) s.send('$aws/things/t/shadow/update', `{"state":{"reported":{"i":${i}}},"clientToken":"k${i}"}`);
  const rejected = s.published.filter((m) => m.topic === '$aws/things/t/shadow/update/rejected');
  assert.equal(rejected.length, 1);
  assert.equal(rejected[0]!.payload, '{"code":429,"message":"Too Many Requests","timestamp":1000,"clientToken":"k10"}');
  assert.equal(s.topics.inFlight(), 10);
  // Once the answers are out, the connection may send again.
  await s.flush();
  assert.equal(s.topics.inFlight(), 0);
  s.send('$aws/things/t/shadow/update', '{"state":{"reported":{"i":99}}}');
  assert.equal(s.published.filter((m) => m.topic === '$aws/things/t/shadow/update/rejected').length, 1);
  s.db.close();
});

test('AWS 429: the limit is per connection', () => {
  const s = setup(1);
  s.send('$aws/things/t/shadow/get', '');
  s.send('$aws/things/t/shadow/get', '', { clientId: 'other', sessionIdentifier: 'x', principal: null } as ClientInfo);
  assert.equal(s.published.filter((m) => m.topic.endsWith('/get/rejected') && m.payload.includes('429')).length, 0);
  s.db.close();
});

test('responses and notifications are not requests: accepted/rejected/delta/documents topics are ignored', () => {
  const s = setup();
  for (const suffix of ['update/accepted', 'update/rejected', 'update/delta', 'update/documents', 'get/accepted', 'unknown'])
    s.send(`$aws/things/t/shadow/${suffix}`, '{"state":{}}');
  assert.equal(s.published.length, 0);
  s.db.close();
});

test('platform publishes (rules republishing to a shadow topic) are served, without connection throttling', () => {
  const s = setup(0);
  s.send('$aws/things/t/shadow/update', '{"state":{"desired":{"a":1}}}', null);
  assert.deepEqual(s.published.map((m) => m.topic), ['$aws/things/t/shadow/update/accepted', '$aws/things/t/shadow/update/delta', '$aws/things/t/shadow/update/documents']);
  s.db.close();
});
