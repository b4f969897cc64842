/**
 * 06 — The IoT data plane on the HTTPS port with client certificates, as AWS serves it on port
 * 8443: an unsigned request whose TLS connection presented a registered, ACTIVE certificate (from
 * Thingport's CA or a registered CA) is that certificate's principal, and its IoT policies decide
 * each action (developer guide, iot-action-resources.html: `iot:GetThingShadow`,
 * `iot:UpdateThingShadow`, `iot:DeleteThingShadow` on `thing/{thing}[/{shadow}]`,
 * `iot:ListNamedShadowsForThing` and `iot:ListRetainedMessages` on `*`, `iot:Publish` /
 * `iot:RetainPublish` / `iot:GetRetainedMessage` on `topic/{topic}`). A denied action is 403
 * ForbiddenException; a certificate that is not accepted is 403 too; neither a certificate nor a
 * signature is 403 MissingAuthenticationTokenException. SigV4 still wins when present.
 *
 * Requests go out as a device would send them (node:https with cert/key/ca, no signature), and
 * through the AWS SDK (@aws-sdk/client-iot-data-plane) with a TLS agent holding the certificate
 * and a signer that signs nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:https';
import { readFileSync } from 'node:fs';
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreatePolicyCommand,
  CreateThingCommand,
  GetRegistrationCodeCommand,
  RegisterCACertificateCommand,
  RegisterCertificateCommand,
  UpdateCertificateCommand,
  type IoTClient,
} from '@aws-sdk/client-iot';
import {
  ForbiddenException,
  GetThingShadowCommand,
  IoTDataPlaneClient,
  UpdateThingShadowCommand,
} from '@aws-sdk/client-iot-data-plane';
import { connectClient, type TestClient } from '../helpers/mqtt.js';
import { arnPrefix, createCertificate, expectAwsError, iotClient, policy, readAdminKey, type DeviceCredentials } from '../helpers/iot.js';
import { randomClientId } from '../helpers/raw-client.js';
import { startThingport, type Thingport } from '../helpers/thingport.js';
import { makeCa, selfSigned, signLeaf, verificationCertificate } from '../helpers/x509.js';

interface Reply {
  status: number;
  errorType: string | undefined;
  body: string;
}

/** Client TLS material: a certificate and its key, or none. */
type Tls = { certificatePem: string; privateKey: string } | null;

describe('06 data plane over HTTPS with client certificates (port 8443 semantics)', () => {
  let tp: Thingport;
  let iot: IoTClient;
  let ca: Buffer;
  let prefix: string;
  /** Anonymous loopback MQTT client: sees what the HTTP calls publish. */
  let observer: TestClient;
  /** Attached to `lamp-06` (shadow get/update/delete of its own thing, publish under its own topics). */
  let lamp: DeviceCredentials;
  /** Attached to `fan-06`, may only read shadows. */
  let reader: DeviceCredentials;
  const sdkClients: IoTDataPlaneClient[] = [];

  before(async () => {
    tp = await startThingport();
    iot = iotClient(tp);
    ca = readFileSync(tp.endpoints.caFile);
    prefix = arnPrefix(tp);
    observer = await connectClient(tp.mqttPort, { protocolVersion: 5, clientId: randomClientId('obs06') });

    const thingVar = '${iot:Connection.Thing.ThingName}';
    await iot.send(
      new CreatePolicyCommand({
        policyName: 'lamp-06',
        policyDocument: policy(
          { Effect: 'Allow', Action: ['iot:GetThingShadow', 'iot:UpdateThingShadow', 'iot:DeleteThingShadow'], Resource: [`${prefix}thing/${thingVar}`, `${prefix}thing/${thingVar}/config`] },
          { Effect: 'Allow', Action: 'iot:ListNamedShadowsForThing', Resource: '*' },
          { Effect: 'Allow', Action: 'iot:Publish', Resource: `${prefix}topic/devices/${thingVar}/*` },
          { Effect: 'Allow', Action: 'iot:RetainPublish', Resource: `${prefix}topic/devices/${thingVar}/state` },
          { Effect: 'Allow', Action: 'iot:GetRetainedMessage', Resource: `${prefix}topic/devices/${thingVar}/*` },
        ),
      }),
    );
    await iot.send(
      new CreatePolicyCommand({
        policyName: 'reader-06',
        policyDocument: policy(
          { Effect: 'Allow', Action: 'iot:GetThingShadow', Resource: `${prefix}thing/*` },
          // Resource-level form for an action that has none: never matches (AWS: the resource must be *).
          { Effect: 'Allow', Action: ['iot:ListNamedShadowsForThing', 'iot:ListRetainedMessages'], Resource: `${prefix}thing/*` },
        ),
      }),
    );
    lamp = await device('lamp-06', 'lamp-06');
    reader = await device('fan-06', 'reader-06');
  });
  after(async () => {
    for (const c of sdkClients) c.destroy();
    await observer?.end();
    iot?.destroy();
    await tp?.stop();
  });

  /** A thing with a fresh ACTIVE certificate, the policy attached to it, the certificate attached to the thing. */
  async function device(thingName: string, policyName: string): Promise<DeviceCredentials> {
    await iot.send(new CreateThingCommand({ thingName }));
    const cert = await createCertificate(iot);
    await iot.send(new AttachPolicyCommand({ policyName, target: cert.certificateArn }));
    await iot.send(new AttachThingPrincipalCommand({ thingName, principal: cert.certificateArn }));
    return cert;
  }

  /** One unsigned HTTPS request to the data plane, presenting `tls` (or no certificate). */
  function call(tls: Tls, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          servername: 'localhost',
          port: tp.port('https'),
          method,
          path,
          ca,
          ...(tls === null ? {} : { cert: tls.certificatePem, key: tls.privateKey }),
          agent: false,
          headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const t = res.headers['x-amzn-errortype'];
            resolve({ status: res.statusCode ?? 0, errorType: Array.isArray(t) ? t[0] : t, body: Buffer.concat(chunks).toString('utf8') });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** The AWS SDK over TLS with `tls` as the client certificate and no signature. */
  function sdkWith(tls: NonNullable<Tls>): IoTDataPlaneClient {
    const c = new IoTDataPlaneClient({
      endpoint: tp.endpoints.https!.replace('127.0.0.1', 'localhost'),
      region: tp.endpoints.region,
      maxAttempts: 1,
      // The SDK resolves credentials before signing; the signer below ignores them.
      credentials: { accessKeyId: 'unused', secretAccessKey: 'unused' },
      signer: { sign: async (req) => req },
      requestHandler: { httpsAgent: new Agent({ ca, cert: tls.certificatePem, key: tls.privateKey }) },
    });
    sdkClients.push(c);
    return c;
  }

  const json = (r: Reply): Record<string, unknown> => JSON.parse(r.body) as Record<string, unknown>;

  test('[AWS Device Shadow REST API] UpdateThingShadow and GetThingShadow with the thing\'s certificate, allowed by thing/${iot:Connection.Thing.ThingName}', async () => {
    const pre = '$aws/things/lamp-06/shadow';
    await observer.subscribe([`${pre}/update/accepted`, `${pre}/update/delta`]);
    const up = await call(lamp, 'POST', '/things/lamp-06/shadow', '{"state":{"desired":{"on":true}},"clientToken":"c06"}');
    assert.equal(up.status, 200, up.body);
    assert.deepEqual(json(up).state, { desired: { on: true } });
    assert.equal(json(up).version, 1);
    // Same MQTT messages as an update over MQTT.
    const accepted = await observer.waitMessage(`${pre}/update/accepted`);
    assert.equal(accepted.payload.toString(), up.body);
    await observer.waitMessage(`${pre}/update/delta`);

    const got = await call(lamp, 'GET', '/things/lamp-06/shadow');
    assert.equal(got.status, 200, got.body);
    assert.deepEqual(json(got).state, { desired: { on: true }, delta: { on: true } });
  });

  test('[AWS iot-action-resources] a named shadow is thing/{thing}/{shadow}: allowed for config, denied for another name', async () => {
    const ok = await call(lamp, 'POST', '/things/lamp-06/shadow?name=config', '{"state":{"reported":{"mode":"eco"}}}');
    assert.equal(ok.status, 200, ok.body);
    const denied = await call(lamp, 'POST', '/things/lamp-06/shadow?name=secrets', '{"state":{"reported":{"x":1}}}');
    assert.equal(denied.status, 403);
    assert.equal(denied.errorType, 'ForbiddenException');
    const list = await call(lamp, 'GET', '/api/things/shadow/ListNamedShadowsForThing/lamp-06');
    assert.equal(list.status, 200, list.body);
    assert.deepEqual(json(list).results, ['config']);
  });

  test('[AWS iot-action-resources] denied by policy: another thing\'s shadow, an action the policy lacks -> 403 ForbiddenException (no MQTT rejected)', async () => {
    await observer.subscribe('$aws/things/+/shadow/update/rejected');
    const otherThing = await call(lamp, 'GET', '/things/fan-06/shadow');
    assert.equal(otherThing.status, 403);
    assert.equal(otherThing.errorType, 'ForbiddenException');
    assert.equal(json(otherThing).message, 'Forbidden');

    // reader-06 may read any shadow but not update one.
    const read = await call(reader, 'GET', '/things/lamp-06/shadow');
    assert.equal(read.status, 200, read.body);
    const write = await call(reader, 'POST', '/things/fan-06/shadow', '{"state":{"reported":{"rpm":1}}}');
    assert.equal(write.status, 403);
    assert.equal(write.errorType, 'ForbiddenException');
    const del = await call(reader, 'DELETE', '/things/lamp-06/shadow');
    assert.equal(del.status, 403);
    // ListNamedShadowsForThing and ListRetainedMessages take no resource-level permission: a
    // statement naming thing/* does not grant them.
    assert.equal((await call(reader, 'GET', '/api/things/shadow/ListNamedShadowsForThing/lamp-06')).status, 403);
    assert.equal((await call(reader, 'GET', '/retainedMessage')).status, 403);
    assert.equal(observer.matching((m) => m.topic.endsWith('/update/rejected')).length, 0, 'an HTTP error publishes no MQTT rejected');
    // The shadow was not changed by the denied update.
    assert.equal((await call(lamp, 'GET', '/things/fan-06/shadow')).status, 403);
  });

  test('[AWS SDK] @aws-sdk/client-iot-data-plane with the certificate in its TLS agent: GetThingShadow, UpdateThingShadow, ForbiddenException', async () => {
    const sdk = sdkWith(lamp);
    const out = await sdk.send(new UpdateThingShadowCommand({ thingName: 'lamp-06', payload: Buffer.from('{"state":{"reported":{"on":true}}}') }));
    const doc = JSON.parse(Buffer.from(out.payload!).toString('utf8')) as { version: number };
    assert.equal(doc.version, 2);
    const got = await sdk.send(new GetThingShadowCommand({ thingName: 'lamp-06' }));
    assert.deepEqual((JSON.parse(Buffer.from(got.payload!).toString('utf8')) as { state: unknown }).state, { desired: { on: true }, reported: { on: true } });
    await expectAwsError(sdk.send(new GetThingShadowCommand({ thingName: 'fan-06' })), 'ForbiddenException', { status: 403, cls: ForbiddenException });
  });

  test('[AWS HTTPS publish, 8443] Publish with iot:Publish; retain needs iot:RetainPublish too; GetRetainedMessage by iot:GetRetainedMessage', async () => {
    // Topics are percent-encoded in the path, as the SDK sends them (the model's {topic} label).
    await observer.subscribe('devices/lamp-06/#');
    const sent = await call(lamp, 'POST', '/topics/devices%2Flamp-06%2Ftelemetry?qos=1', '{"t":21}');
    assert.equal(sent.status, 200, sent.body);
    assert.equal((await observer.waitMessage('devices/lamp-06/telemetry')).payload.toString(), '{"t":21}');

    const retained = await call(lamp, 'POST', '/topics/devices%2Flamp-06%2Fstate?qos=1&retain=true', '{"on":true}');
    assert.equal(retained.status, 200, retained.body);
    const notRetainable = await call(lamp, 'POST', '/topics/devices%2Flamp-06%2Ftelemetry?qos=1&retain=true', '{"t":22}');
    assert.equal(notRetainable.status, 403, 'iot:RetainPublish is missing for this topic');
    assert.equal(notRetainable.errorType, 'ForbiddenException');
    const elsewhere = await call(lamp, 'POST', '/topics/devices%2Ffan-06%2Ftelemetry?qos=1', '{"t":0}');
    assert.equal(elsewhere.status, 403);

    const get = await call(lamp, 'GET', '/retainedMessage/devices%2Flamp-06%2Fstate');
    assert.equal(get.status, 200, get.body);
    assert.equal(Buffer.from(json(get).payload as string, 'base64').toString(), '{"on":true}');
    // The retained topic exists, but lamp-06's policy does not grant listing (resource must be *).
    assert.equal((await call(lamp, 'GET', '/retainedMessage')).status, 403);
  });

  test('[AWS protocols] a certificate from a registered CA (RegisterCACertificate + RegisterCertificate) is accepted', async () => {
    const ownCa = await makeCa('Thingport Tests 06 CA');
    const { registrationCode } = await iot.send(new GetRegistrationCodeCommand({}));
    const verification = await verificationCertificate(ownCa, registrationCode ?? '');
    await iot.send(new RegisterCACertificateCommand({ caCertificate: ownCa.pem, verificationCertificate: verification.pem, setAsActive: true }));
    const leaf = await signLeaf(ownCa, 'CN=own-ca-06');
    const r = await iot.send(new RegisterCertificateCommand({ certificatePem: leaf.pem, status: 'ACTIVE' }));
    await iot.send(new AttachPolicyCommand({ policyName: 'reader-06', target: r.certificateArn! }));
    const got = await call({ certificatePem: leaf.pem, privateKey: leaf.keyPem }, 'GET', '/things/lamp-06/shadow');
    assert.equal(got.status, 200, got.body);
  });

  test('certificates that identity does not accept: unregistered (own CA, self-signed), INACTIVE, REVOKED -> 403 ForbiddenException', async () => {
    const strangerCa = await makeCa('Not Registered 06');
    const unregistered = await signLeaf(strangerCa, 'CN=stranger-06');
    const selfish = await selfSigned('self-06');
    for (const leaf of [unregistered, selfish]) {
      const r = await call({ certificatePem: leaf.pem, privateKey: leaf.keyPem }, 'GET', '/things/lamp-06/shadow');
      assert.equal(r.status, 403);
      assert.equal(r.errorType, 'ForbiddenException');
    }
    const inactive = await createCertificate(iot, false);
    await iot.send(new AttachPolicyCommand({ policyName: 'reader-06', target: inactive.certificateArn }));
    assert.equal((await call(inactive, 'GET', '/things/lamp-06/shadow')).status, 403);

    const revoked = await createCertificate(iot);
    await iot.send(new AttachPolicyCommand({ policyName: 'reader-06', target: revoked.certificateArn }));
    assert.equal((await call(revoked, 'GET', '/things/lamp-06/shadow')).status, 200);
    await iot.send(new UpdateCertificateCommand({ certificateId: revoked.certificateId, newStatus: 'REVOKED' }));
    assert.equal((await call(revoked, 'GET', '/things/lamp-06/shadow')).status, 403, 'a status change applies to the next request');
  });

  test('[AWS REST] neither a certificate nor a signature -> 403 MissingAuthenticationTokenException; a certificate on the control plane does not authenticate', async () => {
    const r = await call(null, 'GET', '/things/lamp-06/shadow');
    assert.equal(r.status, 403);
    assert.equal(r.errorType, 'MissingAuthenticationTokenException');
    assert.equal(json(r).message, 'Missing Authentication Token');
    // The IoT control plane (ListThings) takes SigV4 only.
    const control = await call(lamp, 'GET', '/things');
    assert.equal(control.status, 403);
    assert.equal(control.errorType, 'MissingAuthenticationTokenException');
  });

  test('SigV4 wins over a presented certificate: a signed request from a client holding a denied certificate is the access key\'s (administrator)', async () => {
    const key = readAdminKey(tp.dataDir);
    const sdk = new IoTDataPlaneClient({
      endpoint: tp.endpoints.https!.replace('127.0.0.1', 'localhost'),
      region: tp.endpoints.region,
      maxAttempts: 1,
      credentials: key,
      requestHandler: { httpsAgent: new Agent({ ca, cert: reader.certificatePem, key: reader.privateKey }) },
    });
    sdkClients.push(sdk);
    const out = await sdk.send(new UpdateThingShadowCommand({ thingName: 'fan-06', payload: Buffer.from('{"state":{"reported":{"rpm":900}}}') }));
    assert.equal((JSON.parse(Buffer.from(out.payload!).toString('utf8')) as { version: number }).version, 1);
  });
});
