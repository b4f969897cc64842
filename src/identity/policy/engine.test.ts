// The engine over a real (in-memory) SQLite store and bus with a fake registry: which policies
// apply to a subject, and that every change that can alter a decision takes effect at once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventBus, openDatabase, type SqliteDatabase } from '../../core/index.js';
import { createLogger } from '../../lib/index.js';
import type { AuthzSubject, CertificateFacts, ThingFacts } from './context.js';
import { parsePolicyDocument } from './document.js';
import { createPolicyEngine, type PolicyEngine } from './engine.js';

const REGION = 'eu-central-1';
const ACCOUNT = '123456789012';
const A = (r: string): string => `arn:aws:iot:${REGION}:${ACCOUNT}:${r}`;
const CERT_ID = 'ab'.repeat(32);
const CERT_ARN = A(`cert/${CERT_ID}`);
const doc = (...Statement: object[]): string => JSON.stringify({ Version: '2012-10-17', Statement });
const allow = (Action: string, Resource: string): object => ({ Effect: 'Allow', Action, Resource });

function setup(db: SqliteDatabase = openDatabase(':memory:')) {
  const things = new Map<string, ThingFacts>([['lamp-1', { thingName: 'lamp-1', attributes: { room: 'kitchen' } }]]);
  const groupsOf = new Map<string, string[]>();
  const groups = new Map<string, string[]>([['building', []], ['floor-1', ['building']]]);
  const facts: CertificateFacts = { certificateId: CERT_ID, subject: { CommonName: 'lamp-1' }, issuer: {}, subjectAlternativeName: {}, serialNumber: '01', notBefore: new Date(0), notAfter: new Date(8.64e15) };
  const bus = new EventBus();
  const logs: string[] = [];
  const logger = createLogger('error', { destination: { write: (s: string) => void logs.push(s) } as unknown as NodeJS.WritableStream });
  const engine = createPolicyEngine({
    db, bus, region: REGION, accountId: ACCOUNT, logger,
    registry: { getThing: (n) => things.get(n) ?? null, listGroupsForThingSync: (n) => groupsOf.get(n) ?? [], getThingGroup: (g) => (groups.has(g) ? { rootToParentThingGroups: [...groups.get(g)!].reverse().map((groupName) => ({ groupName })) } : null) },
    certificateFacts: (id) => (id === CERT_ID ? facts : null),
  });
  const subject = (over: Partial<AuthzSubject> = {}): AuthzSubject => ({ clientId: 'lamp-1', principal: CERT_ID, thingName: 'lamp-1', sourceIp: '192.0.2.1', ...over });
  return { db, bus, engine, things, groupsOf, groups, subject, logs };
}

const can = (engine: PolicyEngine, s: AuthzSubject, topic: string): boolean => engine.authorize(s, 'iot:Publish', A(`topic/${topic}`));

test('invalidation: AttachPolicy and DetachPolicy take effect at once and bump the generation', () => {
  const { engine, subject } = setup();
  const s = subject();
  engine.service.createPolicy('pub', doc(allow('iot:Publish', A('topic/a'))));
  assert.equal(can(engine, s, 'a'), false);
  const g0 = engine.generation;
  engine.service.attachPolicy('pub', CERT_ARN, ['cert'], 'target');
  assert.ok(engine.generation > g0);
  assert.equal(can(engine, s, 'a'), true);
  engine.service.detachPolicy('pub', CERT_ARN, ['cert'], 'target');
  assert.equal(can(engine, s, 'a'), false);
});

test('invalidation: CreatePolicyVersion with setAsDefault and SetDefaultPolicyVersion switch the deciding document', () => {
  const { engine, subject } = setup();
  const s = subject();
  engine.service.createPolicy('p', doc(allow('iot:Publish', A('topic/v1'))));
  engine.service.attachPolicy('p', CERT_ARN, ['cert'], 'target');
  engine.service.createPolicyVersion('p', doc(allow('iot:Publish', A('topic/v2'))), false);
  assert.equal(can(engine, s, 'v1'), true, 'a non-default version changes nothing');
  assert.equal(can(engine, s, 'v2'), false);
  engine.service.setDefaultPolicyVersion('p', '2');
  assert.equal(can(engine, s, 'v1'), false);
  assert.equal(can(engine, s, 'v2'), true);
  engine.service.createPolicyVersion('p', doc(allow('iot:Publish', A('topic/v3'))), true);
  assert.equal(can(engine, s, 'v3'), true);
  engine.service.setDefaultPolicyVersion('p', '1');
  assert.equal(can(engine, s, 'v1'), true);
});

test('thing groups: a thing inherits the policies of its groups and their ancestors, once membership changes are announced', () => {
  const { engine, bus, groupsOf, subject } = setup();
  const s = subject();
  engine.service.createPolicy('building-policy', doc(allow('iot:Publish', A('topic/building'))));
  engine.service.attachPolicy('building-policy', A('thinggroup/building'), ['thinggroup'], 'target');
  assert.equal(can(engine, s, 'building'), false);
  groupsOf.set('lamp-1', ['floor-1', 'building']); // the registry lists ancestors too
  bus.emit('thinggroup.membership.changed', { thingName: 'lamp-1', groupName: 'floor-1' });
  assert.equal(can(engine, s, 'building'), true);
  assert.deepEqual(engine.service.listAttachedPolicies(A('thinggroup/floor-1'), true, ['thinggroup'], 'target'), ['building-policy']);
  assert.deepEqual(engine.service.listAttachedPolicies(A('thinggroup/floor-1'), false, ['thinggroup'], 'target'), []);
});

test('thing groups: group policies apply only when the client id is the thing name (iot-policies.html)', () => {
  const { engine, groupsOf, subject } = setup();
  groupsOf.set('lamp-1', ['building']);
  engine.service.createPolicy('g', doc(allow('iot:Publish', '*')));
  engine.service.attachPolicy('g', A('thinggroup/building'), ['thinggroup'], 'target');
  assert.equal(can(engine, subject(), 'x'), true);
  assert.equal(can(engine, subject({ clientId: 'other-client' }), 'x'), false);
});

test('invalidation: a thing attribute change (thing.updated) changes decisions that read the attribute; without an event the memoised decision stays', () => {
  const { engine, bus, things, subject } = setup();
  const s = subject();
  engine.service.createPolicy('room', doc(allow('iot:Publish', A('topic/rooms/${iot:Connection.Thing.Attributes[room]}'))));
  engine.service.attachPolicy('room', CERT_ARN, ['cert'], 'target');
  assert.equal(can(engine, s, 'rooms/kitchen'), true);
  things.set('lamp-1', { thingName: 'lamp-1', attributes: { room: 'hall' } });
  assert.equal(can(engine, s, 'rooms/kitchen'), true, 'memoised until the registry announces the change');
  bus.emit('thing.updated', { thingName: 'lamp-1' });
  assert.equal(can(engine, s, 'rooms/kitchen'), false);
  assert.equal(can(engine, s, 'rooms/hall'), true);
  things.delete('lamp-1');
  bus.emit('thing.deleted', { thingName: 'lamp-1' });
  assert.equal(can(engine, s, 'rooms/hall'), false);
});

test('invalidation: principal.thing.changed, certificate.status.changed and thinggroup.changed bump the generation', () => {
  const { engine, bus } = setup();
  for (const emit of [
    () => bus.emit('principal.thing.changed', { principal: CERT_ID, thingName: 'lamp-1' }),
    () => bus.emit('certificate.status.changed', { certificateId: CERT_ID, status: 'INACTIVE' }),
    () => bus.emit('thinggroup.changed', { groupName: 'building' }),
  ]) {
    const g = engine.generation;
    emit();
    assert.equal(engine.generation, g + 1);
  }
});

test('custom authorizer policies (extraPolicies) apply to their subject only, and a Deny among them wins', () => {
  const { engine, subject } = setup();
  engine.service.createPolicy('all', doc(allow('iot:*', '*')));
  engine.service.attachPolicy('all', CERT_ARN, ['cert'], 'target');
  const extra = parsePolicyDocument(doc({ Effect: 'Deny', Action: 'iot:Publish', Resource: A('topic/blocked') }, allow('iot:Subscribe', '*')));
  const viaAuthorizer = subject({ principal: 'authorizer-principal', thingName: null, extraPolicies: [extra] });
  assert.equal(engine.authorize(viaAuthorizer, 'iot:Subscribe', A('topicfilter/x')), true);
  assert.equal(engine.authorize(viaAuthorizer, 'iot:Publish', A('topic/x')), false, 'the certificate policy is not the authorizer principal\'s');
  const both = subject({ extraPolicies: [extra] });
  assert.equal(can(engine, both, 'x'), true);
  assert.equal(can(engine, both, 'blocked'), false);
});

test('anonymous subjects (no principal) get nothing but their extra policies', () => {
  const { engine, subject } = setup();
  engine.service.createPolicy('all', doc(allow('iot:*', '*')));
  engine.service.attachPolicy('all', CERT_ARN, ['cert'], 'target');
  assert.equal(can(engine, subject({ principal: null, thingName: null }), 'x'), false);
});

test('Cognito identities are principals too', () => {
  const { engine, subject } = setup();
  const cognito = 'eu-central-1:0f7e6d5c-4b3a-2918-0706-f5e4d3c2b1a0';
  engine.service.createPolicy('c', doc(allow('iot:Publish', '*')));
  engine.service.attachPolicy('c', cognito, ['cert', 'cognito'], 'principal');
  assert.equal(can(engine, subject({ principal: cognito, thingName: null }), 'x'), true);
  assert.deepEqual(engine.policiesOfPrincipal(cognito), ['c']);
});

test('time-dependent policies are never cached', () => {
  const { engine, subject } = setup();
  engine.service.createPolicy('t', doc({ ...allow('iot:Publish', '*'), Condition: { DateGreaterThan: { 'aws:CurrentTime': '2000-01-01T00:00:00Z' } } }));
  const s = subject();
  assert.equal(engine.decisionsCacheable(s), true);
  engine.service.attachPolicy('t', CERT_ARN, ['cert'], 'target');
  assert.equal(engine.decisionsCacheable(s), false);
  assert.equal(can(engine, s, 'x'), true);
});

test('a new engine on the same database loads policies and attachments; a stored policy that no longer parses grants nothing', () => {
  const first = setup();
  first.engine.service.createPolicy('ok', doc(allow('iot:Publish', A('topic/ok'))));
  first.engine.service.createPolicy('broken', doc(allow('iot:Publish', '*')));
  first.engine.service.attachPolicy('ok', CERT_ARN, ['cert'], 'target');
  first.engine.service.attachPolicy('broken', CERT_ARN, ['cert'], 'target');
  first.engine.close();
  first.db.prepare("UPDATE policy_versions SET document = '{not json' WHERE policy_name = 'broken'").run();
  const second = setup(first.db);
  const s = second.subject();
  assert.equal(can(second.engine, s, 'ok'), true);
  assert.equal(can(second.engine, s, 'other'), false);
  assert.match(second.logs.join(''), /stored policy does not parse/);
  assert.deepEqual(second.engine.policiesOfPrincipal(CERT_ID), ['ok', 'broken']);
});

test('a deleted thing group loses its policy attachments (thinggroup.changed for a group the registry no longer has); detachAllFromThingGroup does it on demand', () => {
  const { engine, bus, groups } = setup();
  engine.service.createPolicy('g', doc(allow('iot:*', '*')));
  engine.service.attachPolicy('g', A('thinggroup/building'), ['thinggroup'], 'target');
  engine.service.attachPolicy('g', A('thinggroup/floor-1'), ['thinggroup'], 'target');
  bus.emit('thinggroup.changed', { groupName: 'floor-1' }); // an update: still there
  assert.deepEqual(engine.service.listTargetsForPolicy('g'), [A('thinggroup/building'), A('thinggroup/floor-1')]);
  groups.delete('floor-1');
  bus.emit('thinggroup.changed', { groupName: 'floor-1' });
  assert.deepEqual(engine.service.listTargetsForPolicy('g'), [A('thinggroup/building')]);
  engine.detachAllFromThingGroup('building');
  assert.deepEqual(engine.service.listTargetsForPolicy('g'), []);
  engine.service.deletePolicy('g');
});
