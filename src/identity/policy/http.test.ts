// End to end: the policy operations behind a real HTTP listener, driven by AWS's own
// @aws-sdk/client-iot (real SigV4, real serialisation), with a minimal fake registry.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  AttachPolicyCommand, AttachPrincipalPolicyCommand, CreatePolicyCommand, CreatePolicyVersionCommand, DeleteConflictException,
  DeletePolicyCommand, DeletePolicyVersionCommand, DetachPolicyCommand, DetachPrincipalPolicyCommand, GetEffectivePoliciesCommand,
  GetPolicyCommand, GetPolicyVersionCommand, InvalidRequestException, IoTClient, ListAttachedPoliciesCommand, ListPoliciesCommand,
  ListPolicyPrincipalsCommand, ListPolicyVersionsCommand, ListPrincipalPoliciesCommand, ListTargetsForPolicyCommand,
  MalformedPolicyException, ResourceAlreadyExistsException, ResourceNotFoundException, SetDefaultPolicyVersionCommand,
  TestAuthorizationCommand, VersionsLimitExceededException,
} from '@aws-sdk/client-iot';
import type { FastifyInstance } from 'fastify';
import { EventBus, openDatabase } from '../../core/index.js';
import { createAwsRestRouter, createHttpApp, iotModel, type IotOperations } from '../../http/index.js';
import { createLogger } from '../../lib/index.js';
import { createPolicyEngine, type PolicyEngine } from './engine.js';

const REGION = 'eu-central-1';
const ACCOUNT = '123456789012';
const A = (r: string): string => `arn:aws:iot:${REGION}:${ACCOUNT}:${r}`;
const KEY = { accessKeyId: 'AKIATHINGPORTPOLICY1', secretAccessKey: 'thingport-policy-secret-0123456789abcdefAB' };
const CERT_ID = '0f'.repeat(32);
const CERT_ARN = A(`cert/${CERT_ID}`);
const doc = (...Statement: object[]): string => JSON.stringify({ Version: '2012-10-17', Statement });
const DEVICE_POLICY = doc(
  { Effect: 'Allow', Action: 'iot:Connect', Resource: A('client/${iot:Connection.Thing.ThingName}') },
  { Effect: 'Allow', Action: 'iot:Publish', Resource: A('topic/things/${iot:Connection.Thing.ThingName}/*') },
);

let app: FastifyInstance;
let engine: PolicyEngine;
let iot: IoTClient;

before(async () => {
  const logger = createLogger('silent');
  engine = createPolicyEngine({
    db: openDatabase(':memory:'), bus: new EventBus(), region: REGION, accountId: ACCOUNT, logger,
    registry: {
      getThing: (n) => (n === 'lamp-1' ? { thingName: 'lamp-1', attributes: {} } : null),
      listGroupsForThingSync: (n) => (n === 'lamp-1' ? ['kitchen', 'house'] : []),
      getThingGroup: (g) => ({ kitchen: { rootToParentThingGroups: [{ groupName: 'house' }] }, house: { rootToParentThingGroups: [] } } as Record<string, { rootToParentThingGroups: { groupName: string }[] }>)[g] ?? null,
    },
    certificateFacts: (id) => (id === CERT_ID ? { certificateId: id, subject: { CommonName: 'lamp-1' }, issuer: {}, subjectAlternativeName: {}, serialNumber: '1', notBefore: new Date(0), notAfter: new Date(0) } : null),
    principalThings: (id) => (id === CERT_ID ? ['lamp-1'] : []),
  });
  app = createHttpApp({ logger, health: () => ({}), metrics: { render: async () => '', contentType: 'text/plain' } });
  createAwsRestRouter<IotOperations>(app, {
    service: iotModel, region: REGION, logger, handlers: engine.iotHandlers,
    authenticate: (id) => (id === KEY.accessKeyId ? { secretAccessKey: KEY.secretAccessKey, principal: 'user/admin' } : null),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  iot = new IoTClient({ endpoint: `http://127.0.0.1:${(app.server.address() as { port: number }).port}`, region: REGION, credentials: KEY, maxAttempts: 1 });
});

after(async () => {
  iot.destroy();
  engine.close();
  await app.close();
});

async function rejects<T>(p: Promise<unknown>, type: new (...args: never[]) => T): Promise<T & Error> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof type, `expected ${type.name}, got ${(err as Error).name}: ${(err as Error).message}`);
    return err as T & Error;
  }
  throw new Error(`expected ${type.name}`);
}

test('CreatePolicy / GetPolicy: version 1 is the default; duplicates and malformed documents are refused', async () => {
  const created = await iot.send(new CreatePolicyCommand({ policyName: 'device', policyDocument: DEVICE_POLICY }));
  assert.equal(created.policyArn, A('policy/device'));
  assert.equal(created.policyVersionId, '1');
  assert.equal(created.policyDocument, DEVICE_POLICY);
  const got = await iot.send(new GetPolicyCommand({ policyName: 'device' }));
  assert.equal(got.defaultVersionId, '1');
  assert.equal(got.policyDocument, DEVICE_POLICY);
  assert.ok(got.creationDate instanceof Date);
  assert.match(got.generationId ?? '', /^[0-9a-f]{64}$/);
  await rejects(iot.send(new CreatePolicyCommand({ policyName: 'device', policyDocument: DEVICE_POLICY })), ResourceAlreadyExistsException);
  const bad = await rejects(iot.send(new CreatePolicyCommand({ policyName: 'bad', policyDocument: doc({ Effect: 'Maybe', Action: 'iot:*', Resource: '*' }) })), MalformedPolicyException);
  assert.match(bad.message, /Effect must be 'Allow' or 'Deny'/);
  await rejects(iot.send(new GetPolicyCommand({ policyName: 'bad' })), ResourceNotFoundException);
});

test('policy versions: at most 5 (VersionsLimitExceededException), SetDefaultPolicyVersion, the default cannot be deleted (DeleteConflictException)', async () => {
  await iot.send(new CreatePolicyCommand({ policyName: 'versions', policyDocument: doc({ Effect: 'Allow', Action: 'iot:Publish', Resource: A('topic/v1') }) }));
  for (let v = 2; v <= 5; v++) {
    const out = await iot.send(new CreatePolicyVersionCommand({ policyName: 'versions', policyDocument: doc({ Effect: 'Allow', Action: 'iot:Publish', Resource: A(`topic/v${v}`) }), setAsDefault: v === 4 }));
    assert.equal(out.policyVersionId, String(v));
    assert.equal(out.isDefaultVersion, v === 4);
  }
  await rejects(iot.send(new CreatePolicyVersionCommand({ policyName: 'versions', policyDocument: DEVICE_POLICY })), VersionsLimitExceededException);
  const list = await iot.send(new ListPolicyVersionsCommand({ policyName: 'versions' }));
  assert.deepEqual(list.policyVersions?.map((v) => [v.versionId, v.isDefaultVersion]), [['1', false], ['2', false], ['3', false], ['4', true], ['5', false]]);
  await iot.send(new SetDefaultPolicyVersionCommand({ policyName: 'versions', policyVersionId: '2' }));
  const v2 = await iot.send(new GetPolicyVersionCommand({ policyName: 'versions', policyVersionId: '2' }));
  assert.equal(v2.isDefaultVersion, true);
  assert.match(v2.policyDocument ?? '', /topic\/v2/);
  await rejects(iot.send(new DeletePolicyVersionCommand({ policyName: 'versions', policyVersionId: '2' })), DeleteConflictException);
  await rejects(iot.send(new GetPolicyVersionCommand({ policyName: 'versions', policyVersionId: '9' })), ResourceNotFoundException);
  await iot.send(new DeletePolicyVersionCommand({ policyName: 'versions', policyVersionId: '5' }));
  const again = await iot.send(new CreatePolicyVersionCommand({ policyName: 'versions', policyDocument: DEVICE_POLICY }));
  assert.equal(again.policyVersionId, '6', 'version ids are not reused');
  await rejects(iot.send(new DeletePolicyCommand({ policyName: 'versions' })), DeleteConflictException);
  for (const v of ['1', '3', '4', '6']) await iot.send(new DeletePolicyVersionCommand({ policyName: 'versions', policyVersionId: v }));
  await iot.send(new DeletePolicyCommand({ policyName: 'versions' }));
  await rejects(iot.send(new GetPolicyCommand({ policyName: 'versions' })), ResourceNotFoundException);
});

test('attachments: certificates and thing groups; listing both ways; the principal-policy family; DeletePolicy refused while attached', async () => {
  await iot.send(new AttachPolicyCommand({ policyName: 'device', target: CERT_ARN }));
  await iot.send(new AttachPolicyCommand({ policyName: 'device', target: CERT_ARN })); // idempotent
  await iot.send(new CreatePolicyCommand({ policyName: 'house', policyDocument: doc({ Effect: 'Allow', Action: 'iot:Subscribe', Resource: '*' }) }));
  await iot.send(new AttachPolicyCommand({ policyName: 'house', target: A('thinggroup/house') }));
  await rejects(iot.send(new AttachPolicyCommand({ policyName: 'device', target: A(`cert/${'ee'.repeat(32)}`) })), ResourceNotFoundException);
  await rejects(iot.send(new AttachPolicyCommand({ policyName: 'device', target: A('thinggroup/nowhere') })), ResourceNotFoundException);
  const badTarget = await rejects(iot.send(new AttachPolicyCommand({ policyName: 'device', target: 'lamp-1' })), InvalidRequestException);
  assert.match(badTarget.message, /Invalid target 'lamp-1'/);
  await rejects(iot.send(new AttachPolicyCommand({ policyName: 'nope', target: CERT_ARN })), ResourceNotFoundException);

  assert.deepEqual((await iot.send(new ListAttachedPoliciesCommand({ target: CERT_ARN }))).policies, [{ policyName: 'device', policyArn: A('policy/device') }]);
  assert.deepEqual((await iot.send(new ListAttachedPoliciesCommand({ target: A('thinggroup/kitchen') }))).policies, []);
  assert.deepEqual((await iot.send(new ListAttachedPoliciesCommand({ target: A('thinggroup/kitchen'), recursive: true }))).policies?.map((p) => p.policyName), ['house']);
  assert.deepEqual((await iot.send(new ListTargetsForPolicyCommand({ policyName: 'house' }))).targets, [A('thinggroup/house')]);
  await rejects(iot.send(new DeletePolicyCommand({ policyName: 'house' })), DeleteConflictException);

  await iot.send(new CreatePolicyCommand({ policyName: 'legacy', policyDocument: doc({ Effect: 'Allow', Action: 'iot:Receive', Resource: '*' }) }));
  await iot.send(new AttachPrincipalPolicyCommand({ policyName: 'legacy', principal: CERT_ARN }));
  assert.deepEqual((await iot.send(new ListPrincipalPoliciesCommand({ principal: CERT_ARN }))).policies?.map((p) => p.policyName), ['device', 'legacy']);
  assert.deepEqual((await iot.send(new ListPolicyPrincipalsCommand({ policyName: 'legacy' }))).principals, [CERT_ARN]);
  await rejects(iot.send(new AttachPrincipalPolicyCommand({ policyName: 'legacy', principal: A('thinggroup/house') })), InvalidRequestException);
  await iot.send(new DetachPrincipalPolicyCommand({ policyName: 'legacy', principal: CERT_ARN }));
  assert.deepEqual((await iot.send(new ListPolicyPrincipalsCommand({ policyName: 'legacy' }))).principals, []);
  await iot.send(new DeletePolicyCommand({ policyName: 'legacy' }));
});

test('ListPolicies pages with pageSize and marker', async () => {
  for (const n of ['page-a', 'page-b', 'page-c']) await iot.send(new CreatePolicyCommand({ policyName: n, policyDocument: DEVICE_POLICY }));
  const names: string[] = [];
  let marker: string | undefined;
  do {
    const page = await iot.send(new ListPoliciesCommand({ pageSize: 2, marker }));
    assert.ok((page.policies?.length ?? 0) <= 2);
    names.push(...(page.policies ?? []).map((p) => p.policyName!));
    marker = page.nextMarker;
  } while (marker !== undefined);
  assert.deepEqual(names, ['device', 'house', 'page-a', 'page-b', 'page-c']);
  for (const n of ['page-a', 'page-b', 'page-c']) await iot.send(new DeletePolicyCommand({ policyName: n }));
  await rejects(iot.send(new ListPoliciesCommand({ marker: 'AAAA' })), InvalidRequestException);
});

test('GetEffectivePolicies: the certificate\'s policies and those of the thing\'s groups, ancestors included', async () => {
  const out = await iot.send(new GetEffectivePoliciesCommand({ principal: CERT_ARN, thingName: 'lamp-1' }));
  assert.deepEqual(out.effectivePolicies?.map((p) => [p.policyName, p.policyArn]), [['device', A('policy/device')], ['house', A('policy/house')]]);
  assert.equal(out.effectivePolicies?.[0]?.policyDocument, DEVICE_POLICY);
  await rejects(iot.send(new GetEffectivePoliciesCommand({ principal: CERT_ARN, thingName: 'ghost' })), ResourceNotFoundException);
});

test('TestAuthorization: allowed, implicitly and explicitly denied, with the deciding policies and missing context values, agreeing with the engine', async () => {
  await iot.send(new CreatePolicyCommand({ policyName: 'no-admin', policyDocument: doc({ Effect: 'Deny', Action: 'iot:Publish', Resource: A('topic/things/*/admin') }) }));
  await iot.send(new AttachPolicyCommand({ policyName: 'no-admin', target: CERT_ARN }));
  const out = await iot.send(new TestAuthorizationCommand({
    principal: CERT_ARN,
    clientId: 'lamp-1',
    authInfos: [
      { actionType: 'PUBLISH', resources: [A('topic/things/lamp-1/state')] },
      { actionType: 'PUBLISH', resources: [A('topic/things/lamp-2/state')] },
      { actionType: 'PUBLISH', resources: [A('topic/things/lamp-1/admin')] },
      { actionType: 'CONNECT', resources: [A('client/lamp-1')] },
      { actionType: 'SUBSCRIBE', resources: [A('topicfilter/things/lamp-1/#')] },
    ],
  }));
  const r = out.authResults!;
  assert.deepEqual(r.map((x) => x.authDecision), ['ALLOWED', 'IMPLICIT_DENY', 'EXPLICIT_DENY', 'ALLOWED', 'ALLOWED']);
  assert.deepEqual(r[0]?.allowed?.policies, [{ policyName: 'device', policyArn: A('policy/device') }]);
  assert.deepEqual(r[1]?.denied?.implicitDeny?.policies?.map((p) => p.policyName), ['device', 'no-admin', 'house']);
  assert.deepEqual(r[2]?.denied?.explicitDeny?.policies, [{ policyName: 'no-admin', policyArn: A('policy/no-admin') }]);
  assert.deepEqual(r[4]?.allowed?.policies?.map((p) => p.policyName), ['house'], 'the thing group policy applies because the client id is the thing name');
  assert.deepEqual(r[0]?.authInfo, { actionType: 'PUBLISH', resources: [A('topic/things/lamp-1/state')] });

  const subject = { clientId: 'lamp-1', principal: CERT_ID, thingName: 'lamp-1', sourceIp: '192.0.2.1' };
  for (const [i, action, resource] of [[0, 'iot:Publish', 'topic/things/lamp-1/state'], [1, 'iot:Publish', 'topic/things/lamp-2/state'], [2, 'iot:Publish', 'topic/things/lamp-1/admin'], [3, 'iot:Connect', 'client/lamp-1']] as const) {
    assert.equal(engine.authorize(subject, action, A(resource)), r[i]?.authDecision === 'ALLOWED', `the broker's decision for ${resource} matches TestAuthorization`);
  }

  // Without a thing (another client id, and the skip list removing the group policy) the thing variables are missing.
  const noThing = await iot.send(new TestAuthorizationCommand({ principal: CERT_ARN, clientId: 'other', policyNamesToSkip: ['no-admin'], policyNamesToAdd: ['house'], authInfos: [{ actionType: 'CONNECT', resources: [A('client/lamp-1')] }] }));
  assert.equal(noThing.authResults?.[0]?.authDecision, 'ALLOWED', 'thing resolved through the certificate\'s only thing');
  await rejects(iot.send(new TestAuthorizationCommand({ principal: CERT_ARN, policyNamesToAdd: ['ghost'], authInfos: [{ actionType: 'CONNECT', resources: ['*'] }] })), ResourceNotFoundException);
  const anonymous = await iot.send(new TestAuthorizationCommand({ policyNamesToAdd: ['device'], clientId: 'c1', authInfos: [{ actionType: 'PUBLISH', resources: [A('topic/things/c1/x')] }] }));
  assert.equal(anonymous.authResults?.[0]?.authDecision, 'IMPLICIT_DENY');
  assert.deepEqual(anonymous.authResults?.[0]?.missingContextValues, ['iot:Connection.Thing.ThingName']);
});

test('DetachPolicy then DeletePolicy succeeds', async () => {
  for (const [name, target] of [['device', CERT_ARN], ['no-admin', CERT_ARN], ['house', A('thinggroup/house')]] as const) {
    await iot.send(new DetachPolicyCommand({ policyName: name, target }));
    await iot.send(new DeletePolicyCommand({ policyName: name }));
  }
  assert.deepEqual((await iot.send(new ListPoliciesCommand({}))).policies, []);
});
