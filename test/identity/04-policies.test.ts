/**
 * 04 — IoT policies enforced by the broker on every CONNECT, PUBLISH, SUBSCRIBE and delivery, for
 * devices with real certificates: the issue's "done when" flow (thing + certificate + policy with
 * `${iot:Connection.Thing.ThingName}`), explicit Deny over Allow, changes taking effect on live
 * connections, policies inherited from thing groups, policy variables and conditions,
 * TestAuthorization agreeing with the broker, and MalformedPolicyException.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AddThingToThingGroupCommand,
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateCertificateFromCsrCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  CreateThingGroupCommand,
  DeleteConflictException,
  DeletePolicyCommand,
  DeletePolicyVersionCommand,
  DetachPolicyCommand,
  DetachThingPrincipalCommand,
  GetEffectivePoliciesCommand,
  GetPolicyCommand,
  ListAttachedPoliciesCommand,
  ListPolicyVersionsCommand,
  ListTargetsForPolicyCommand,
  MalformedPolicyException,
  RemoveThingFromThingGroupCommand,
  SetDefaultPolicyVersionCommand,
  TestAuthorizationCommand,
  UpdateThingCommand,
  VersionsLimitExceededException,
  type IoTClient,
} from '@aws-sdk/client-iot';
import { awsCliMissing, awsJson } from '../helpers/aws-cli.js';
import { connectClient, httpGet, metricValue, type TestClient } from '../helpers/mqtt.js';
import {
  arnPrefix,
  connectDevice,
  connectRefusal,
  createCertificate,
  expectAwsError,
  iotClient,
  policy,
  provisionDevice,
  publishCode,
  RC,
  subackCodes,
} from '../helpers/iot.js';
import { randomClientId } from '../helpers/raw-client.js';
import { startThingport, type Thingport } from '../helpers/thingport.js';
import { makeCsr } from '../helpers/x509.js';

/** Policy variables, written as they appear in policy documents. */
const THING = '${iot:Connection.Thing.ThingName}';
const FLOOR = '${iot:Connection.Thing.Attributes[floor]}';
const CN = '${iot:Certificate.Subject.CommonName}';

const allowed = (code: number): boolean => code < 0x80;

describe('04 policies', () => {
  let tp: Thingport;
  let iot: IoTClient;
  let P: string;
  /** Anonymous loopback client (not subject to policies): publishes to devices and watches what they publish. */
  let observer: TestClient;
  const open: TestClient[] = [];
  before(async () => {
    tp = await startThingport();
    iot = iotClient(tp);
    P = arnPrefix(tp);
    observer = await connectClient(tp.mqttPort, { protocolVersion: 5, clientId: randomClientId('obs04') });
    await observer.subscribe(['devices/#', 'open/#', 'secret/#'], { qos: 1 });
  });
  after(async () => {
    for (const c of open) await c.end().catch(() => undefined);
    await observer?.end();
    iot?.destroy();
    await tp?.stop();
  });

  /** Connects a device and remembers it for clean-up. */
  async function device(creds: { certificatePem: string; privateKey: string }, clientId: string, protocolVersion: 4 | 5 = 5): Promise<TestClient> {
    const c = await connectDevice(tp, creds, { clientId, protocolVersion });
    open.push(c);
    return c;
  }

  /** The thing-scoped policy of the issue's "done when". */
  const thingScoped = (): string =>
    policy(
      { Effect: 'Allow', Action: 'iot:Connect', Resource: `${P}client/${THING}` },
      { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: `${P}topic/devices/${THING}/*` },
      { Effect: 'Allow', Action: 'iot:Subscribe', Resource: `${P}topicfilter/devices/${THING}/*` },
    );

  describe('the "done when" flow: a device may do exactly what its policy allows', () => {
    let sensorA: TestClient;
    let credsA: Awaited<ReturnType<typeof provisionDevice>>;
    before(async () => {
      credsA = await provisionDevice(iot, { thingName: 'sensor-a', policyName: 'thing-scoped', policyDocument: thingScoped() });
    });

    test('[AWS iot:Connect] the device connects as its thing name; any other client id is refused (MQTT 5 0x87, 3.1.1 return code 5)', async () => {
      assert.equal(await connectRefusal(connectDevice(tp, credsA, { clientId: 'sensor-b' })), RC.NOT_AUTHORIZED);
      assert.equal(await connectRefusal(connectDevice(tp, credsA, { clientId: 'sensor-b', protocolVersion: 4 })), RC.V4_NOT_AUTHORIZED);
      sensorA = await device(credsA, 'sensor-a');
      assert.equal(sensorA.connack.reasonCode ?? 0, 0);
    });

    test('[AWS iot:Publish][MQTT5 PUBACK 0x87] publishes under devices/{thing}/ succeed; outside them PUBACK 0x87, nothing routed, the connection stays', async () => {
      assert.equal(await publishCode(sensorA, 'devices/sensor-a/telemetry', 'one'), RC.SUCCESS);
      assert.equal(await publishCode(sensorA, 'devices/sensor-b/telemetry', 'spoofed'), RC.NOT_AUTHORIZED);
      assert.equal(await publishCode(sensorA, 'devices/sensor-a', 'not under the prefix'), RC.NOT_AUTHORIZED);
      assert.equal(await publishCode(sensorA, 'open/anything', 'elsewhere'), RC.NOT_AUTHORIZED);
      assert.equal(await publishCode(sensorA, 'devices/sensor-a/telemetry', 'two'), RC.SUCCESS);
      const got = await observer.waitMessages('devices/sensor-a/telemetry', 2);
      assert.deepEqual(got.map((m) => m.payload.toString()), ['one', 'two']);
      const leaked = observer.matching((m) => ['spoofed', 'not under the prefix', 'elsewhere'].includes(m.payload.toString()));
      assert.deepEqual(leaked.map((m) => m.topic), [], 'denied publishes are not routed');
      assert.equal(sensorA.closed, false);
    });

    test('[Issue 4 §policies] a denied publish is dropped and counted: thingport_messages_dropped_total{reason="not_authorized"} grows', async () => {
      const dropped = async (): Promise<number> => metricValue((await httpGet(`${tp.httpUrl}/metrics`)).body, 'thingport_messages_dropped_total', { reason: 'not_authorized' });
      const before0 = await dropped();
      assert.equal(await publishCode(sensorA, 'devices/sensor-b/telemetry', 'counted?'), RC.NOT_AUTHORIZED);
      assert.ok((await dropped()) > before0, 'the denied publish is counted (src/broker/broker.ts publishFromClient refuses it without noteDrop)');
    });

    test('[AWS iot:Subscribe][MQTT5 SUBACK 0x87] filters under devices/{thing}/ are granted; others get 0x87 in the same SUBACK', async () => {
      const codes = await subackCodes(sensorA, ['devices/sensor-a/cmd', 'devices/sensor-b/cmd', 'devices/#', 'devices/sensor-a/+']);
      assert.deepEqual(codes, [RC.GRANTED_QOS1, RC.NOT_AUTHORIZED, RC.NOT_AUTHORIZED, RC.GRANTED_QOS1]);
    });

    test('[AWS iot:Receive] the device receives what is published on its granted subscription', async () => {
      await observer.publish('devices/sensor-a/cmd', 'reboot', { qos: 1 });
      assert.equal((await sensorA.waitMessage('devices/sensor-a/cmd')).payload.toString(), 'reboot');
    });

    test('[AWS iot:RetainPublish] a retained publish also needs iot:RetainPublish; attaching a policy that grants it applies to the live connection', async () => {
      assert.equal(await publishCode(sensorA, 'devices/sensor-a/state', 'on', { qos: 1, retain: true }), RC.NOT_AUTHORIZED);
      await iot.send(new CreatePolicyCommand({ policyName: 'retain-state', policyDocument: policy({ Effect: 'Allow', Action: 'iot:RetainPublish', Resource: `${P}topic/devices/${THING}/state` }) }));
      await iot.send(new AttachPolicyCommand({ policyName: 'retain-state', target: credsA.certificateArn }));
      assert.equal(await publishCode(sensorA, 'devices/sensor-a/state', 'on', { qos: 1, retain: true }), RC.SUCCESS);
      assert.equal(await publishCode(sensorA, 'devices/sensor-a/other', 'on', { qos: 1, retain: true }), RC.NOT_AUTHORIZED);
    });

    test('[AWS MQTT 3.1.1 authorization] a 3.1.1 device gets SUBACK 0x80 for a filter outside its policy and is disconnected when it publishes outside it', async () => {
      const credsC = await provisionDevice(iot, { thingName: 'sensor-c', policyName: 'thing-scoped' });
      const c = await device(credsC, 'sensor-c', 4);
      assert.deepEqual(await subackCodes(c, ['devices/sensor-c/cmd', 'devices/sensor-a/cmd']), [RC.GRANTED_QOS1, RC.FAILURE_311]);
      await c.publish('devices/sensor-c/telemetry', 'fine', { qos: 1 });
      assert.equal((await observer.waitMessage('devices/sensor-c/telemetry')).payload.toString(), 'fine');
      c.client.publish('devices/sensor-a/telemetry', 'not mine', { qos: 1 });
      await c.waitClose(5_000);
      assert.equal(observer.matching((m) => m.payload.toString() === 'not mine').length, 0);
    });
  });

  test('[AWS iot:Publish] a will message is published only when the policy allows its topic', async () => {
    const creds = await provisionDevice(iot, { thingName: 'will-1', policyName: 'thing-scoped' });
    const leaky = await connectDevice(tp, creds, { clientId: 'will-1', will: { topic: 'open/will-leak', payload: Buffer.from('leaked will'), qos: 1, retain: false } });
    leaky.destroy();
    await leaky.waitClose();
    const fine = await connectDevice(tp, creds, { clientId: 'will-1', will: { topic: 'devices/will-1/status', payload: Buffer.from('offline'), qos: 1, retain: false } });
    fine.destroy();
    assert.equal((await observer.waitMessage('devices/will-1/status')).payload.toString(), 'offline');
    assert.equal(observer.matching('open/will-leak').length, 0);
  });

  test('[AWS default deny] an ACTIVE certificate with no policy attached is refused at CONNECT (0x87)', async () => {
    const c = await createCertificate(iot);
    assert.equal(await connectRefusal(connectDevice(tp, c, { clientId: randomClientId('nopolicy') })), RC.NOT_AUTHORIZED);
  });

  test('[AWS policy evaluation] an explicit Deny overrides any Allow, in the same policy and from another policy', async () => {
    const creds = await provisionDevice(iot, {
      thingName: 'deny-1',
      policyName: 'allow-but-secret',
      policyDocument: policy({ Effect: 'Allow', Action: 'iot:*', Resource: '*' }, { Effect: 'Deny', Action: 'iot:Publish', Resource: `${P}topic/secret/*` }),
    });
    await iot.send(
      new CreatePolicyCommand({
        policyName: 'deny-private',
        policyDocument: policy(
          { Effect: 'Deny', Action: 'iot:Subscribe', Resource: `${P}topicfilter/private/*` },
          { Effect: 'Deny', Action: 'iot:Connect', Resource: `${P}client/blocked-*` },
        ),
      }),
    );
    await iot.send(new AttachPolicyCommand({ policyName: 'deny-private', target: creds.certificateArn }));
    const c = await device(creds, 'deny-1');
    assert.equal(await publishCode(c, 'open/deny-1', 'ok'), RC.SUCCESS);
    assert.equal(await publishCode(c, 'secret/deny-1', 'leak'), RC.NOT_AUTHORIZED);
    assert.deepEqual(await subackCodes(c, ['open/#', 'private/#']), [RC.GRANTED_QOS1, RC.NOT_AUTHORIZED]);
    assert.equal(await connectRefusal(connectDevice(tp, creds, { clientId: 'blocked-1' })), RC.NOT_AUTHORIZED);
    await observer.waitMessage('open/deny-1');
    assert.equal(observer.matching('secret/deny-1').length, 0);
  });

  describe('changes take effect on live connections', () => {
    let creds: Awaited<ReturnType<typeof provisionDevice>>;
    let c: TestClient;
    before(async () => {
      creds = await provisionDevice(iot, {
        thingName: 'live-1',
        policyName: 'live-pol',
        policyDocument: policy({ Effect: 'Allow', Action: 'iot:Connect', Resource: `${P}client/live-1` }, { Effect: 'Allow', Action: ['iot:Publish', 'iot:Subscribe'], Resource: [`${P}topic/a/*`, `${P}topicfilter/a/*`] }),
      });
      c = await device(creds, 'live-1');
    });

    test('[AWS policy versions] CreatePolicyVersion setAsDefault applies at once; SetDefaultPolicyVersion back to 1 takes it away again', async () => {
      assert.equal(await publishCode(c, 'a/1', 'x'), RC.SUCCESS);
      assert.equal(await publishCode(c, 'b/1', 'x'), RC.NOT_AUTHORIZED);
      const v2 = await iot.send(
        new CreatePolicyVersionCommand({
          policyName: 'live-pol',
          setAsDefault: true,
          policyDocument: policy({ Effect: 'Allow', Action: 'iot:Connect', Resource: `${P}client/live-1` }, { Effect: 'Allow', Action: ['iot:Publish', 'iot:Subscribe'], Resource: [`${P}topic/a/*`, `${P}topic/b/*`, `${P}topicfilter/a/*`] }),
        }),
      );
      assert.equal(v2.policyVersionId, '2');
      assert.equal(v2.isDefaultVersion, true);
      assert.equal(await publishCode(c, 'b/1', 'x'), RC.SUCCESS);
      await iot.send(new SetDefaultPolicyVersionCommand({ policyName: 'live-pol', policyVersionId: '1' }));
      assert.equal(await publishCode(c, 'b/1', 'x'), RC.NOT_AUTHORIZED);
      assert.equal((await iot.send(new GetPolicyCommand({ policyName: 'live-pol' }))).defaultVersionId, '1');
      assert.equal(c.closed, false, 'never reconnected');
    });

    test('[AWS DetachPolicy] detaching the policy denies the next publish and subscribe of the live connection; attaching it again allows them', async () => {
      await iot.send(new DetachPolicyCommand({ policyName: 'live-pol', target: creds.certificateArn }));
      assert.equal(await publishCode(c, 'a/2', 'x'), RC.NOT_AUTHORIZED);
      assert.deepEqual(await subackCodes(c, ['a/x']), [RC.NOT_AUTHORIZED]);
      await iot.send(new AttachPolicyCommand({ policyName: 'live-pol', target: creds.certificateArn }));
      assert.equal(await publishCode(c, 'a/2', 'x'), RC.SUCCESS);
      assert.deepEqual(await subackCodes(c, ['a/x']), [RC.GRANTED_QOS1]);
    });

    test('[AWS iot:Receive] a new default version without Receive on a topic stops deliveries on an existing subscription', async () => {
      const doc = (receive: string[]): string =>
        policy({ Effect: 'Allow', Action: ['iot:Connect', 'iot:Subscribe'], Resource: [`${P}client/rx-1`, `${P}topicfilter/news/*`] }, { Effect: 'Allow', Action: 'iot:Receive', Resource: receive });
      const rx = await provisionDevice(iot, { thingName: 'rx-1', policyName: 'rx-pol', policyDocument: doc([`${P}topic/news/*`]) });
      const r = await device(rx, 'rx-1');
      assert.deepEqual(await subackCodes(r, ['news/#']), [RC.GRANTED_QOS1]);
      await observer.publish('news/first', 'first', { qos: 1 });
      await r.waitMessage('news/first');
      await iot.send(new CreatePolicyVersionCommand({ policyName: 'rx-pol', setAsDefault: true, policyDocument: doc([`${P}topic/news/keep`]) }));
      await observer.publish('news/drop', 'dropped', { qos: 1 });
      await observer.publish('news/keep', 'kept', { qos: 1 });
      await r.waitMessage('news/keep');
      assert.equal(r.matching('news/drop').length, 0, 'the denied delivery was dropped');
    });

    test('[AWS iot:Receive] a message queued for an offline persistent session is not delivered on reconnect when iot:Receive denies its topic', async () => {
      // Subscribe allowed on news/*, Receive only on news/keep (as in the test above).
      const doc = policy(
        { Effect: 'Allow', Action: ['iot:Connect', 'iot:Subscribe'], Resource: [`${P}client/rx-2`, `${P}topicfilter/news/*`] },
        { Effect: 'Allow', Action: 'iot:Receive', Resource: `${P}topic/news/keep` },
      );
      const rx = await provisionDevice(iot, { thingName: 'rx-2', policyName: 'rx2-pol', policyDocument: doc });
      const persistent = { clientId: 'rx-2', clean: false, properties: { sessionExpiryInterval: 600 } };
      const first = await connectDevice(tp, rx, persistent);
      assert.deepEqual(await subackCodes(first, ['news/#']), [RC.GRANTED_QOS1]);
      await first.end();
      // While it is offline: one message it may not receive, then one it may.
      await observer.publish('news/offline-drop', 'must not be delivered', { qos: 1 });
      await observer.publish('news/keep', 'kept while offline', { qos: 1 });
      const again = await connectDevice(tp, rx, persistent);
      open.push(again);
      assert.equal(again.connack.sessionPresent, true, 'the session was kept');
      await again.waitMessage('news/keep');
      assert.deepEqual(
        again.matching('news/offline-drop').map((m) => m.payload.toString()),
        [],
        'iot:Receive is decided on delivery (src/broker/broker.ts queues offline deliveries without authorizeReceive and flushes them on reconnect unchecked)',
      );
    });

    test('[AWS DetachThingPrincipal] detaching the thing from a live connection\'s certificate unbinds ${iot:Connection.Thing.ThingName} at once', async () => {
      const creds2 = await provisionDevice(iot, { thingName: 'bound-1', policyName: 'thing-scoped' });
      const b = await device(creds2, 'bound-1');
      assert.equal(await publishCode(b, 'devices/bound-1/x', 'bound'), RC.SUCCESS);
      await iot.send(new DetachThingPrincipalCommand({ thingName: 'bound-1', principal: creds2.certificateArn }));
      assert.equal(await publishCode(b, 'devices/bound-1/x', 'unbound'), RC.NOT_AUTHORIZED);
      await iot.send(new AttachThingPrincipalCommand({ thingName: 'bound-1', principal: creds2.certificateArn }));
      assert.equal(await publishCode(b, 'devices/bound-1/x', 'bound again'), RC.SUCCESS);
    });

    test('[AWS thing attributes] ${iot:Connection.Thing.Attributes[floor]}: UpdateThing changes what the live connection may publish', async () => {
      const at = await provisionDevice(iot, {
        thingName: 'attr-1',
        attributes: { floor: '3' },
        policyName: 'floor-pol',
        policyDocument: policy({ Effect: 'Allow', Action: 'iot:Connect', Resource: `${P}client/attr-1` }, { Effect: 'Allow', Action: 'iot:Publish', Resource: `${P}topic/floors/${FLOOR}/*` }),
      });
      const a = await device(at, 'attr-1');
      assert.equal(await publishCode(a, 'floors/3/temp', '21'), RC.SUCCESS);
      assert.equal(await publishCode(a, 'floors/4/temp', '21'), RC.NOT_AUTHORIZED);
      await iot.send(new UpdateThingCommand({ thingName: 'attr-1', attributePayload: { attributes: { floor: '4' } } }));
      assert.equal(await publishCode(a, 'floors/4/temp', '22'), RC.SUCCESS);
      assert.equal(await publishCode(a, 'floors/3/temp', '22'), RC.NOT_AUTHORIZED);
    });
  });

  test('[AWS thing groups] a policy on a parent thing group applies to things of its child groups when client id = thing name; removal from the group applies at once', async () => {
    await iot.send(new CreateThingGroupCommand({ thingGroupName: 'site' }));
    await iot.send(new CreateThingGroupCommand({ thingGroupName: 'site-line-1', parentGroupName: 'site' }));
    await iot.send(
      new CreatePolicyCommand({
        policyName: 'site-pol',
        policyDocument: policy({ Effect: 'Allow', Action: 'iot:Connect', Resource: `${P}client/${THING}` }, { Effect: 'Allow', Action: 'iot:Publish', Resource: `${P}topic/site/${THING}/*` }),
      }),
    );
    await iot.send(new AttachPolicyCommand({ policyName: 'site-pol', target: `${P}thinggroup/site` }));
    // The certificate itself has no policy.
    const creds = await provisionDevice(iot, { thingName: 'machine-1' });
    await iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'site-line-1', thingName: 'machine-1' }));

    const inherited = await iot.send(new ListAttachedPoliciesCommand({ target: `${P}thinggroup/site-line-1`, recursive: true }));
    assert.deepEqual(inherited.policies?.map((p) => p.policyName), ['site-pol']);
    const effective = await iot.send(new GetEffectivePoliciesCommand({ principal: creds.certificateArn, thingName: 'machine-1' }));
    assert.deepEqual(effective.effectivePolicies?.map((p) => p.policyName), ['site-pol']);

    const m = await device(creds, 'machine-1');
    assert.equal(await publishCode(m, 'site/machine-1/rpm', '1200'), RC.SUCCESS);
    assert.equal(await connectRefusal(connectDevice(tp, creds, { clientId: 'machine-1-alt' })), RC.NOT_AUTHORIZED, 'group policies need client id = thing name');
    await iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: 'site-line-1', thingName: 'machine-1' }));
    assert.equal(await publishCode(m, 'site/machine-1/rpm', '1300'), RC.NOT_AUTHORIZED);
    await iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'site-line-1', thingName: 'machine-1' }));
    assert.equal(await publishCode(m, 'site/machine-1/rpm', '1400'), RC.SUCCESS);
    // TestAuthorization sees the inherited policy the same way (and the same client-id rule).
    const asThing = await iot.send(
      new TestAuthorizationCommand({ principal: creds.certificateArn, clientId: 'machine-1', authInfos: [{ actionType: 'PUBLISH', resources: [`${P}topic/site/machine-1/rpm`] }] }),
    );
    assert.equal(asThing.authResults?.[0]?.authDecision, 'ALLOWED');
    assert.deepEqual(asThing.authResults?.[0]?.allowed?.policies?.map((p) => p.policyName), ['site-pol']);
    const asOther = await iot.send(
      new TestAuthorizationCommand({ principal: creds.certificateArn, clientId: 'machine-1-alt', authInfos: [{ actionType: 'CONNECT', resources: [`${P}client/machine-1-alt`] }] }),
    );
    assert.equal(asOther.authResults?.[0]?.authDecision, 'IMPLICIT_DENY');
    const targets = await iot.send(new ListTargetsForPolicyCommand({ policyName: 'site-pol' }));
    assert.deepEqual(targets.targets, [`${P}thinggroup/site`]);
  });

  test('[AWS policy variables] ${iot:Certificate.Subject.CommonName} from a CSR\'s subject scopes the topics', async () => {
    const { csrPem, keyPem } = await makeCsr('CN=meter-7');
    const r = await iot.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: csrPem, setAsActive: true }));
    await iot.send(
      new CreatePolicyCommand({
        policyName: 'cn-pol',
        policyDocument: policy({ Effect: 'Allow', Action: 'iot:Connect', Resource: `${P}client/${CN}` }, { Effect: 'Allow', Action: 'iot:Publish', Resource: `${P}topic/meters/${CN}` }),
      }),
    );
    await iot.send(new AttachPolicyCommand({ policyName: 'cn-pol', target: r.certificateArn }));
    const creds = { certificatePem: r.certificatePem ?? '', privateKey: keyPem };
    assert.equal(await connectRefusal(connectDevice(tp, creds, { clientId: 'meter-8' })), RC.NOT_AUTHORIZED);
    const c = await device(creds, 'meter-7');
    assert.equal(await publishCode(c, 'meters/meter-7', '1.5 kWh'), RC.SUCCESS);
    assert.equal(await publishCode(c, 'meters/meter-8', '1.5 kWh'), RC.NOT_AUTHORIZED);
  });

  test('[AWS policy conditions] aws:SourceIp with IpAddress: 127.0.0.0/8 allows a loopback device, 10.0.0.0/8 does not', async () => {
    const creds = await provisionDevice(iot, {
      thingName: 'ip-1',
      policyName: 'ip-pol',
      policyDocument: policy(
        { Effect: 'Allow', Action: 'iot:Connect', Resource: `${P}client/ip-1`, Condition: { Bool: { 'iot:Connection.Thing.IsAttached': 'true' } } },
        { Effect: 'Allow', Action: 'iot:Publish', Resource: `${P}topic/ip/local`, Condition: { IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } } },
        { Effect: 'Allow', Action: 'iot:Publish', Resource: `${P}topic/ip/lan`, Condition: { IpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '192.168.0.0/16'] } } },
      ),
    });
    const c = await device(creds, 'ip-1');
    assert.equal(await publishCode(c, 'ip/local', 'x'), RC.SUCCESS);
    assert.equal(await publishCode(c, 'ip/lan', 'x'), RC.NOT_AUTHORIZED);
  });

  test('[AWS TestAuthorization] for every case, TestAuthorization\'s decision is what the broker enforces (and what the policy says)', async () => {
    const creds = await provisionDevice(iot, {
      thingName: 'ta-1',
      policyName: 'ta-pol',
      policyDocument: policy(
        { Effect: 'Allow', Action: 'iot:Connect', Resource: `${P}client/${THING}` },
        { Effect: 'Allow', Action: 'iot:Publish', Resource: [`${P}topic/ta/${THING}/*`, `${P}topic/shared/*`] },
        { Effect: 'Deny', Action: 'iot:Publish', Resource: `${P}topic/shared/secret` },
        // `#` and `+` are ordinary characters in policies: this grants exactly the filters `shared/#` and `#`.
        { Effect: 'Allow', Action: 'iot:Subscribe', Resource: [`${P}topicfilter/ta/${THING}/*`, `${P}topicfilter/shared/#`, `${P}topicfilter/#`] },
        { Effect: 'Allow', Action: 'iot:Receive', Resource: [`${P}topic/ta/${THING}/*`, `${P}topic/shared/news`] },
      ),
    });
    type Case = { type: 'PUBLISH' | 'SUBSCRIBE' | 'RECEIVE' | 'CONNECT'; name: string; expect: 'ALLOWED' | 'EXPLICIT_DENY' | 'IMPLICIT_DENY' };
    const cases: Case[] = [
      { type: 'PUBLISH', name: 'ta/ta-1/temp', expect: 'ALLOWED' },
      { type: 'PUBLISH', name: 'ta/ta-2/temp', expect: 'IMPLICIT_DENY' },
      { type: 'PUBLISH', name: 'shared/ok', expect: 'ALLOWED' },
      { type: 'PUBLISH', name: 'shared/secret', expect: 'EXPLICIT_DENY' },
      { type: 'PUBLISH', name: 'elsewhere', expect: 'IMPLICIT_DENY' },
      { type: 'SUBSCRIBE', name: 'ta/ta-1/+', expect: 'ALLOWED' },
      { type: 'SUBSCRIBE', name: 'shared/#', expect: 'ALLOWED' },
      { type: 'SUBSCRIBE', name: 'shared/+', expect: 'IMPLICIT_DENY' },
      { type: 'SUBSCRIBE', name: 'ta/ta-2/+', expect: 'IMPLICIT_DENY' },
      { type: 'RECEIVE', name: 'ta/ta-1/in', expect: 'ALLOWED' },
      { type: 'RECEIVE', name: 'shared/news', expect: 'ALLOWED' },
      { type: 'RECEIVE', name: 'shared/gossip', expect: 'IMPLICIT_DENY' },
      { type: 'CONNECT', name: 'ta-other', expect: 'IMPLICIT_DENY' },
      { type: 'CONNECT', name: 'ta-1', expect: 'ALLOWED' },
    ];
    const resource = (c: Case): string => `${P}${{ PUBLISH: 'topic', RECEIVE: 'topic', SUBSCRIBE: 'topicfilter', CONNECT: 'client' }[c.type]}/${c.name}`;

    const d = await device(creds, 'ta-1');
    // Receive cases: everything reaches the device's `#` subscription unless iot:Receive drops it.
    assert.deepEqual(await subackCodes(d, ['#']), [RC.GRANTED_QOS1]);
    const rows: string[] = [];
    let n = 0;
    for (const c of cases) {
      const clientId = c.type === 'CONNECT' ? c.name : 'ta-1';
      const tested = await iot.send(new TestAuthorizationCommand({ principal: creds.certificateArn, clientId, authInfos: [{ actionType: c.type, resources: [resource(c)] }] }));
      const decision = tested.authResults?.[0]?.authDecision;
      let brokerAllowed: boolean;
      if (c.type === 'PUBLISH') brokerAllowed = allowed(await publishCode(d, c.name, `pub-${n}`));
      else if (c.type === 'SUBSCRIBE') {
        brokerAllowed = allowed((await subackCodes(d, [c.name]))[0] ?? 0x80);
        if (brokerAllowed) await d.unsubscribe(c.name);
      } else if (c.type === 'RECEIVE') {
        const payload = `rx-${n}`;
        await observer.publish(c.name, payload, { qos: 1 });
        // A later message the device may receive: once it is here, the earlier one would be too.
        await observer.publish('ta/ta-1/marker', `marker-${n}`, { qos: 1 });
        await d.waitMessage((m) => m.payload.toString() === `marker-${n}`);
        brokerAllowed = d.matching((m) => m.payload.toString() === payload).length > 0;
      } else {
        const code = await connectDevice(tp, creds, { clientId }).then(
          async (conn) => {
            open.push(conn);
            return 0;
          },
          (e: { code?: number }) => e.code ?? -1,
        );
        brokerAllowed = code === 0;
      }
      n++;
      rows.push(`${c.type} ${c.name}: TestAuthorization ${decision}, broker ${brokerAllowed ? 'allowed' : 'denied'}, policy ${c.expect}`);
      if ((decision === 'ALLOWED') !== brokerAllowed || decision !== c.expect) rows.push('  ^ MISMATCH');
    }
    assert.ok(!rows.some((r) => r.includes('MISMATCH')), rows.join('\n'));
  });

  test('[AWS TestAuthorization] an explicit deny names the denying policy; policyNamesToSkip and policyNamesToAdd change the outcome', async () => {
    const arn = (await iot.send(new ListTargetsForPolicyCommand({ policyName: 'ta-pol' }))).targets?.[0] ?? '';
    const r = await iot.send(new TestAuthorizationCommand({ principal: arn, clientId: 'ta-1', authInfos: [{ actionType: 'PUBLISH', resources: [`${P}topic/shared/secret`] }] }));
    assert.equal(r.authResults?.[0]?.authDecision, 'EXPLICIT_DENY');
    assert.deepEqual(r.authResults?.[0]?.denied?.explicitDeny?.policies?.map((p) => p.policyName), ['ta-pol']);
    const skipped = await iot.send(
      new TestAuthorizationCommand({ principal: arn, clientId: 'ta-1', policyNamesToSkip: ['ta-pol'], authInfos: [{ actionType: 'PUBLISH', resources: [`${P}topic/ta/ta-1/x`] }] }),
    );
    assert.equal(skipped.authResults?.[0]?.authDecision, 'IMPLICIT_DENY');
    await iot.send(new CreatePolicyCommand({ policyName: 'publish-anything', policyDocument: policy({ Effect: 'Allow', Action: 'iot:Publish', Resource: `${P}topic/*` }) }));
    const added = await iot.send(
      new TestAuthorizationCommand({ principal: arn, clientId: 'ta-1', policyNamesToAdd: ['publish-anything'], authInfos: [{ actionType: 'PUBLISH', resources: [`${P}topic/elsewhere`] }] }),
    );
    assert.equal(added.authResults?.[0]?.authDecision, 'ALLOWED');
  });

  test('[AWS MalformedPolicyException] documents that are not valid policies are refused with a message naming the problem', async () => {
    const statement = { Effect: 'Allow', Action: 'iot:Publish', Resource: `${P}topic/x` };
    const bad: Array<[string, string, RegExp]> = [
      ['not JSON', '{"Version": "2012-10-17", "Statement": [', /JSON/],
      ['no Statement', JSON.stringify({ Version: '2012-10-17' }), /Statement/],
      ['no Resource', policy({ Effect: 'Allow', Action: 'iot:Publish' }), /Resource/],
      ['bad Effect', policy({ ...statement, Effect: 'Maybe' }), /Effect/],
      ['resource not an ARN', policy({ ...statement, Resource: 'topic/x' }), /ARN/],
      ['action without a service', policy({ ...statement, Action: 'Publish' }), /action/],
      ['unknown condition operator', policy({ ...statement, Condition: { StringEqualsSometimes: { 'iot:ClientId': 'a' } } }), /condition operator/],
      ['a Principal', policy({ ...statement, Principal: '*' }), /Principal/],
      ['unknown Version', JSON.stringify({ Version: '2020-01-01', Statement: [statement] }), /Version/],
      ['unterminated variable', policy({ ...statement, Resource: `${P}topic/\${iot:ClientId` }), /unterminated/],
      ['over 2048 characters', policy(...Array.from({ length: 40 }, (_, i) => ({ ...statement, Resource: `${P}topic/long/${'x'.repeat(20)}/${i}` }))), /2048/],
    ];
    for (const [what, doc, message] of bad) {
      const err = await expectAwsError(iot.send(new CreatePolicyCommand({ policyName: 'malformed', policyDocument: doc })), 'MalformedPolicyException', { status: 400, cls: MalformedPolicyException });
      assert.match(err.message, message, what);
    }
    // A malformed new version leaves the policy as it was.
    await iot.send(new CreatePolicyCommand({ policyName: 'well-formed', policyDocument: policy(statement) }));
    await expectAwsError(iot.send(new CreatePolicyVersionCommand({ policyName: 'well-formed', policyDocument: '{', setAsDefault: true })), 'MalformedPolicyException', { cls: MalformedPolicyException });
    const versions = await iot.send(new ListPolicyVersionsCommand({ policyName: 'well-formed' }));
    assert.equal(versions.policyVersions?.length, 1);
  });

  test('[AWS policy versions] at most 5 versions (VersionsLimitExceededException); the default version cannot be deleted; DeletePolicy refused while attached (DeleteConflictException)', async () => {
    const doc = policy({ Effect: 'Allow', Action: 'iot:Publish', Resource: `${P}topic/v` });
    for (let i = 2; i <= 5; i++) await iot.send(new CreatePolicyVersionCommand({ policyName: 'well-formed', policyDocument: doc }));
    await expectAwsError(iot.send(new CreatePolicyVersionCommand({ policyName: 'well-formed', policyDocument: doc })), 'VersionsLimitExceededException', { cls: VersionsLimitExceededException });
    await expectAwsError(iot.send(new DeletePolicyVersionCommand({ policyName: 'well-formed', policyVersionId: '1' })), 'DeleteConflictException', { cls: DeleteConflictException });
    await iot.send(new DeletePolicyVersionCommand({ policyName: 'well-formed', policyVersionId: '5' }));
    assert.equal((await iot.send(new ListPolicyVersionsCommand({ policyName: 'well-formed' }))).policyVersions?.length, 4);
    await expectAwsError(iot.send(new DeletePolicyCommand({ policyName: 'thing-scoped' })), 'DeleteConflictException', { cls: DeleteConflictException });
    await expectAwsError(iot.send(new GetPolicyCommand({ policyName: 'no-such-policy' })), 'ResourceNotFoundException', { status: 404 });
  });

  describe('with only the AWS CLI', () => {
    const missing = awsCliMissing();
    if (missing !== null) console.log(`# skipping the AWS CLI flow: ${missing}`);

    test('[Issue 4 done-when] an operator with only the AWS CLI creates a thing, a certificate and a policy; the device connects over mqtts and publishes exactly what the policy allows', { skip: missing ?? false }, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'thingport-cli-'));
      try {
        const cli = (...args: string[]): Promise<Record<string, unknown>> => awsJson(tp, ['--profile', 'thingport', 'iot', ...args]);
        await cli('create-thing', '--thing-name', 'cli-device');
        const certFile = join(dir, 'device.pem.crt');
        const keyFile = join(dir, 'private.pem.key');
        const cert = (await cli('create-keys-and-certificate', '--set-as-active', '--certificate-pem-outfile', certFile, '--private-key-outfile', keyFile)) as { certificateArn: string };
        const policyFile = join(dir, 'policy.json');
        writeFileSync(policyFile, thingScoped());
        await cli('create-policy', '--policy-name', 'cli-policy', '--policy-document', `file://${policyFile}`);
        await cli('attach-policy', '--policy-name', 'cli-policy', '--target', cert.certificateArn);
        await cli('attach-thing-principal', '--thing-name', 'cli-device', '--principal', cert.certificateArn);

        const c = await device({ certificatePem: readFileSync(certFile, 'utf8'), privateKey: readFileSync(keyFile, 'utf8') }, 'cli-device');
        assert.equal(await publishCode(c, 'devices/cli-device/hello', 'from the CLI device'), RC.SUCCESS);
        assert.equal(await publishCode(c, 'devices/sensor-a/hello', 'not mine'), RC.NOT_AUTHORIZED);
        assert.equal((await observer.waitMessage('devices/cli-device/hello')).payload.toString(), 'from the CLI device');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
