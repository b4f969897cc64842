import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventBus, openDatabase, type ClientInfo, type Message } from '../../core/index.js';
import { createLogger } from '../../lib/index.js';
import type { AuthzSubject } from './context.js';
import { createPolicyEngine, type PolicyEngine } from './engine.js';
import { createAuthorizationHooks } from './hooks.js';

const REGION = 'eu-central-1';
const ACCOUNT = '123456789012';
const A = (r: string): string => `arn:aws:iot:${REGION}:${ACCOUNT}:${r}`;
const CERT_ID = 'cd'.repeat(32);

function setup() {
  const engine = createPolicyEngine({
    db: openDatabase(':memory:'), bus: new EventBus(), region: REGION, accountId: ACCOUNT, logger: createLogger('silent'),
    registry: { getThing: (n) => (n === 'lamp-1' ? { thingName: 'lamp-1' } : null), listGroupsForThingSync: () => [] },
    certificateFacts: (id) => (id === CERT_ID ? { certificateId: id, subject: {}, issuer: {}, subjectAlternativeName: {}, serialNumber: '1', notBefore: new Date(0), notAfter: new Date(0) } : null),
  });
  engine.service.createPolicy('device', JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: 'iot:Connect', Resource: A('client/${iot:Connection.Thing.ThingName}') },
      { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: A('topic/things/${iot:Connection.Thing.ThingName}/*') },
      { Effect: 'Allow', Action: 'iot:RetainPublish', Resource: A('topic/things/${iot:Connection.Thing.ThingName}/retained') },
      { Effect: 'Allow', Action: 'iot:Subscribe', Resource: [A('topicfilter/things/${iot:Connection.Thing.ThingName}/#'), A('topicfilter/$share/workers/jobs/+')] },
    ],
  }));
  engine.service.attachPolicy('device', A(`cert/${CERT_ID}`), ['cert'], 'target');
  // Counts the engine's decisions, to see the per-connection cache at work.
  let calls = 0;
  const counting: PolicyEngine = { ...engine, authorize: (s, a, r) => (calls++, engine.authorize(s, a, r)), get generation() { return engine.generation; } };
  const subjectOf = (c: ClientInfo): AuthzSubject => ({ clientId: c.clientId, principal: c.principal, thingName: c.thingName, sourceIp: c.remoteAddress });
  const hooks = createAuthorizationHooks(counting, { region: REGION, accountId: ACCOUNT, subjectOf });
  return { engine, hooks, calls: () => calls };
}

const client = (clientId = 'lamp-1'): ClientInfo => ({
  clientId, username: null, remoteAddress: '192.0.2.7', transport: 'tls', protocolVersion: 5, principal: CERT_ID, thingName: 'lamp-1', authContext: null, sessionIdentifier: 's1',
});
const msg = (topic: string, retain = false): Message => ({ topic, payload: Buffer.alloc(0), qos: 0, retain, properties: null, expiresAt: 0, origin: null, headers: null });

test('CONNECT is iot:Connect on client/{clientId}', () => {
  const { hooks } = setup();
  assert.equal(hooks.authorizeConnect({ clientId: 'lamp-1', principal: CERT_ID, thingName: 'lamp-1', sourceIp: '' }), true);
  assert.equal(hooks.authorizeConnect({ clientId: 'someone-else', principal: CERT_ID, thingName: 'lamp-1', sourceIp: '' }), false);
});

test('PUBLISH is iot:Publish on topic/{topic}; a device publishing outside its thing name is denied', () => {
  const { hooks } = setup();
  const c = client();
  assert.equal(hooks.authorizePublish(c, msg('things/lamp-1/state')), true);
  assert.equal(hooks.authorizePublish(c, msg('things/lamp-2/state')), false);
});

test('PUBLISH with RETAIN also needs iot:RetainPublish on the topic', () => {
  const { hooks } = setup();
  const c = client();
  assert.equal(hooks.authorizePublish(c, msg('things/lamp-1/retained', true)), true);
  assert.equal(hooks.authorizePublish(c, msg('things/lamp-1/state', true)), false);
  assert.equal(hooks.authorizePublish(c, msg('things/lamp-1/state', false)), true);
});

test('SUBSCRIBE is iot:Subscribe on topicfilter/{filter as sent}: + and # literal, $share/{group}/ included', () => {
  const { hooks } = setup();
  const c = client();
  assert.equal(hooks.authorizeSubscribe(c, 'things/lamp-1/#'), true);
  assert.equal(hooks.authorizeSubscribe(c, 'things/lamp-1/state'), false, '# in the policy is not a wildcard');
  assert.equal(hooks.authorizeSubscribe(c, '$share/workers/jobs/+'), true);
  assert.equal(hooks.authorizeSubscribe(c, 'jobs/+'), false);
  assert.equal(hooks.authorizeSubscribe(c, '$share/others/jobs/+'), false);
});

test('delivery is iot:Receive on topic/{topic}', () => {
  const { hooks } = setup();
  const c = client();
  assert.equal(hooks.authorizeReceive(c, msg('things/lamp-1/cmd')), true);
  assert.equal(hooks.authorizeReceive(c, msg('things/lamp-2/cmd')), false);
});

test('decisions are cached per connection and dropped as soon as the generation moves', () => {
  const { engine, hooks, calls } = setup();
  const c = client();
  for (let i = 0; i < 5; i++) assert.equal(hooks.authorizePublish(c, msg('things/lamp-1/state')), true);
  assert.equal(calls(), 1);
  hooks.authorizePublish(client(), msg('things/lamp-1/state')); // another connection has its own cache
  assert.equal(calls(), 2);
  engine.service.detachPolicy('device', A(`cert/${CERT_ID}`), ['cert'], 'target');
  assert.equal(hooks.authorizePublish(c, msg('things/lamp-1/state')), false, 'a policy change takes effect on a live connection');
  assert.equal(calls(), 3);
});
