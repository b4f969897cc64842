// Lifecycle events are built only when something would receive them (the event tests over MQTT
// are in test/broker/11-lifecycle-events.test.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mqttConfigSchema } from '../core/index.js';
import { createLogger } from '../lib/index.js';
import { Broker } from './broker.js';

const logger = createLogger('silent');

test('wantsEvent: false with no receiver; true for an in-process handler or an onMessage hook', async () => {
  const broker = new Broker({ config: mqttConfigSchema.parse({}), logger, hooks: {} });
  const topic = '$aws/events/presence/connected/dev-1';
  assert.equal(broker.wantsEvent(topic), false);
  // `#` does not match `$` topics [MQTT-4.7.2-1]: a catch-all handler is no receiver.
  const offAll = broker.subscribe('#', () => {});
  assert.equal(broker.wantsEvent(topic), false);
  const off = broker.subscribe('$aws/events/presence/+/+', () => {});
  assert.equal(broker.wantsEvent(topic), true);
  assert.equal(broker.wantsEvent('$aws/events/subscriptions/subscribed/dev-1'), false);
  off();
  offAll();
  assert.equal(broker.wantsEvent(topic), false);
  await broker.close();
  const hooked = new Broker({ config: mqttConfigSchema.parse({}), logger, hooks: { onMessage: [() => {}] } });
  assert.equal(hooked.wantsEvent(topic), true);
  await hooked.close();
});
