/**
 * 03 — Device certificates and mutual TLS: certificates issued by Thingport's CA (new key pair or
 * CSR), your own CA registered with the verification certificate and the device certificates it
 * signs, registration without a CA, just-in-time registration, certificate statuses enforced at
 * CONNECT and on live connections, and thing principals (the connection's thing).
 *
 * Every device here has a policy that allows everything: what policies decide is 04's subject.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CertificateStateException,
  CertificateValidationException,
  CreateCertificateFromCsrCommand,
  CreatePolicyCommand,
  CreateThingCommand,
  DeleteCertificateCommand,
  DeleteConflictException,
  DeleteThingCommand,
  DescribeCACertificateCommand,
  DescribeCertificateCommand,
  DetachThingPrincipalCommand,
  GetRegistrationCodeCommand,
  InvalidRequestException,
  ListCertificatesByCACommand,
  ListCertificatesCommand,
  ListPrincipalThingsCommand,
  ListThingPrincipalsCommand,
  RegisterCACertificateCommand,
  RegisterCertificateCommand,
  RegisterCertificateWithoutCACommand,
  RegistrationCodeValidationException,
  UpdateCACertificateCommand,
  UpdateCertificateCommand,
  type IoTClient,
} from '@aws-sdk/client-iot';
import { connectClient, uniqueTopic, type TestClient } from '../helpers/mqtt.js';
import {
  ALLOW_ALL,
  arnPrefix,
  connectDevice,
  connectRefusal,
  createCertificate,
  expectAwsError,
  iotClient,
  RC,
  type DeviceCredentials,
} from '../helpers/iot.js';
import { randomClientId } from '../helpers/raw-client.js';
import { startThingport, type Thingport } from '../helpers/thingport.js';
import { isSignedBy, makeCa, makeCsr, parseCertificate, selfSigned, signLeaf, verificationCertificate, type TestCa } from '../helpers/x509.js';

const POLICY = 'allow-all';

describe('03 certificates and mutual TLS', () => {
  let tp: Thingport;
  let iot: IoTClient;
  let caPem: string;
  /** Anonymous loopback client: sees what devices publish, and `$aws/events/...`. */
  let observer: TestClient;
  before(async () => {
    tp = await startThingport();
    iot = iotClient(tp);
    caPem = readFileSync(tp.endpoints.caFile, 'utf8');
    await iot.send(new CreatePolicyCommand({ policyName: POLICY, policyDocument: ALLOW_ALL }));
    observer = await connectClient(tp.mqttPort, { protocolVersion: 5, clientId: randomClientId('obs03') });
    await observer.subscribe(['$aws/events/presence/connected/+', '$aws/events/certificates/registered/+'], { qos: 1 });
  });
  after(async () => {
    await observer?.end();
    iot?.destroy();
    await tp?.stop();
  });

  /** Attaches the allow-all policy to a certificate (by ARN). */
  const allow = (certificateArn: string): Promise<unknown> => iot.send(new AttachPolicyCommand({ policyName: POLICY, target: certificateArn }));

  /** A device with an ACTIVE certificate from CreateKeysAndCertificate and the allow-all policy. */
  async function activeDevice(): Promise<DeviceCredentials> {
    const c = await createCertificate(iot);
    await allow(c.certificateArn);
    return c;
  }

  /** The device publishes; the observer receives it (proof the connection really works). */
  async function roundTrip(device: TestClient, name: string): Promise<void> {
    const topic = uniqueTopic(name);
    await observer.subscribe(topic, { qos: 1 });
    await device.publish(topic, `hello from ${name}`, { qos: 1 });
    assert.equal((await observer.waitMessage(topic)).payload.toString(), `hello from ${name}`);
  }

  test('[AWS CreateKeysAndCertificate] certificate id = SHA-256 of the DER; ARN cert/{id}; signed by the CA in caFile; subject CN=AWS IoT Certificate', async () => {
    const c = await createCertificate(iot);
    const cert = parseCertificate(c.certificatePem);
    assert.equal(c.certificateId, createHash('sha256').update(Buffer.from(cert.rawData)).digest('hex'));
    assert.equal(c.certificateArn, `${arnPrefix(tp)}cert/${c.certificateId}`);
    assert.ok(await isSignedBy(c.certificatePem, caPem), 'issued by Thingport CA');
    assert.equal(cert.subject, 'CN=AWS IoT Certificate');
    assert.match(c.privateKey, /-----BEGIN (RSA )?PRIVATE KEY-----/);
    const d = await iot.send(new DescribeCertificateCommand({ certificateId: c.certificateId }));
    assert.equal(d.certificateDescription?.status, 'ACTIVE');
    assert.equal(d.certificateDescription?.certificatePem?.trim(), c.certificatePem.trim());
    assert.equal(d.certificateDescription?.ownedBy, tp.endpoints.accountId);
  });

  for (const v of [5, 4] as const) {
    test(`[Issue 4 §mTLS] an ACTIVE certificate connects over MQTT/TLS with MQTT ${v === 5 ? '5' : '3.1.1'} and publishes`, async () => {
      const device = await connectDevice(tp, await activeDevice(), { protocolVersion: v, clientId: randomClientId(`mtls${v}`) });
      await roundTrip(device, `mtls${v}`);
      await device.end();
    });
  }

  test('[Issue 4 §mTLS] MQTT over secure WebSocket (wss) presents the client certificate too: an INACTIVE one is refused, an ACTIVE one connects', async () => {
    const creds = await activeDevice();
    const opts = { ca: caPem, cert: creds.certificatePem, key: creds.privateKey, rejectUnauthorized: true, protocolVersion: 5 as const };
    await iot.send(new UpdateCertificateCommand({ certificateId: creds.certificateId, newStatus: 'INACTIVE' }));
    assert.equal(await connectRefusal(connectClient(tp.endpoints.wss ?? '', { ...opts, clientId: randomClientId('wss-off') })), RC.NOT_AUTHORIZED);
    await iot.send(new UpdateCertificateCommand({ certificateId: creds.certificateId, newStatus: 'ACTIVE' }));
    const device = await connectClient(tp.endpoints.wss ?? '', { ...opts, clientId: randomClientId('wss-on') });
    await roundTrip(device, 'wss');
    await device.end();
  });

  test('[AWS device SDK metrics] a user name ?SDK=...&Version=...&Platform=... (spaces included) is ignored for authentication', async () => {
    const device = await connectDevice(tp, await activeDevice(), { clientId: randomClientId('sdk-metrics'), username: '?SDK=JavaScript&Version=2.2.0&Platform=linux x64' });
    await roundTrip(device, 'sdk-metrics');
    await device.end();
  });

  test('[AWS certificate status] an INACTIVE certificate is refused at CONNECT (MQTT 5 0x87, 3.1.1 return code 5); once ACTIVE it connects', async () => {
    const c = await createCertificate(iot, false);
    await allow(c.certificateArn);
    assert.equal((await iot.send(new DescribeCertificateCommand({ certificateId: c.certificateId }))).certificateDescription?.status, 'INACTIVE');
    assert.equal(await connectRefusal(connectDevice(tp, c, { clientId: randomClientId('inactive5') })), RC.NOT_AUTHORIZED);
    assert.equal(await connectRefusal(connectDevice(tp, c, { protocolVersion: 4, clientId: randomClientId('inactive4') })), RC.V4_NOT_AUTHORIZED);
    await iot.send(new UpdateCertificateCommand({ certificateId: c.certificateId, newStatus: 'ACTIVE' }));
    const device = await connectDevice(tp, c, { clientId: randomClientId('activated') });
    await device.end();
  });

  test('[AWS certificate status] a REVOKED certificate is refused; a revoked certificate cannot be reactivated (CertificateStateException)', async () => {
    const c = await activeDevice();
    await iot.send(new UpdateCertificateCommand({ certificateId: c.certificateId, newStatus: 'REVOKED' }));
    assert.equal(await connectRefusal(connectDevice(tp, c, { clientId: randomClientId('revoked') })), RC.NOT_AUTHORIZED);
    await expectAwsError(iot.send(new UpdateCertificateCommand({ certificateId: c.certificateId, newStatus: 'ACTIVE' })), 'CertificateStateException', {
      cls: CertificateStateException,
    });
    // AWS: PENDING_TRANSFER and PENDING_ACTIVATION cannot be set by UpdateCertificate.
    const other = await createCertificate(iot, false);
    await expectAwsError(iot.send(new UpdateCertificateCommand({ certificateId: other.certificateId, newStatus: 'PENDING_ACTIVATION' })), 'InvalidRequestException', {
      status: 400,
    });
  });

  test('[AWS UpdateCertificate] revoking a certificate disconnects its live MQTT 5 connection (DISCONNECT 0x98) at once', async () => {
    const c = await activeDevice();
    const device = await connectDevice(tp, c, { clientId: randomClientId('live-revoke') });
    await roundTrip(device, 'before-revoke');
    await iot.send(new UpdateCertificateCommand({ certificateId: c.certificateId, newStatus: 'REVOKED' }));
    await device.waitClose(5_000);
    assert.equal(device.serverDisconnect?.reasonCode, RC.ADMINISTRATIVE_ACTION);
  });

  test('[AWS UpdateCertificate] deactivating a certificate closes its live 3.1.1 connection', async () => {
    const c = await activeDevice();
    const device = await connectDevice(tp, c, { protocolVersion: 4, clientId: randomClientId('live-inactive') });
    await iot.send(new UpdateCertificateCommand({ certificateId: c.certificateId, newStatus: 'INACTIVE' }));
    await device.waitClose(5_000);
  });

  test('[AWS CreateCertificateFromCsr] a CSR made with @peculiar/x509 is signed by Thingport\'s CA, keeping its subject; the device connects with its own key', async () => {
    const { csrPem, keyPem } = await makeCsr('CN=csr-device-1, O=Acme');
    const r = await iot.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: csrPem, setAsActive: true }));
    assert.ok(r.certificatePem && r.certificateArn && r.certificateId);
    assert.equal(parseCertificate(r.certificatePem).subject, 'CN=csr-device-1, O=Acme');
    assert.ok(await isSignedBy(r.certificatePem, caPem));
    await allow(r.certificateArn);
    const device = await connectDevice(tp, { certificatePem: r.certificatePem, privateKey: keyPem }, { clientId: randomClientId('csr') });
    await roundTrip(device, 'csr');
    await device.end();
  });

  test('[AWS CreateCertificateFromCsr] a CSR made with openssl req (RSA 2048) works the same', { skip: opensslMissing() ?? false }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'thingport-csr-'));
    try {
      const keyFile = join(dir, 'device.key');
      const r0 = spawnSync('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-subj', '/CN=openssl-device', '-out', join(dir, 'device.csr')], { encoding: 'utf8' });
      assert.equal(r0.status, 0, r0.stderr);
      const r = await iot.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: readFileSync(join(dir, 'device.csr'), 'utf8'), setAsActive: true }));
      assert.equal(parseCertificate(r.certificatePem ?? '').subject, 'CN=openssl-device');
      await allow(r.certificateArn ?? '');
      const device = await connectDevice(tp, { certificatePem: r.certificatePem ?? '', privateKey: readFileSync(keyFile, 'utf8') }, { clientId: randomClientId('openssl') });
      await device.end();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('[AWS CreateCertificateFromCsr] text that is not a CSR: InvalidRequestException (400)', async () => {
    await expectAwsError(iot.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: '-----BEGIN CERTIFICATE REQUEST-----\nnot base64\n-----END CERTIFICATE REQUEST-----' })), 'InvalidRequestException', {
      status: 400,
      cls: InvalidRequestException,
      message: /certificateSigningRequest/,
    });
  });

  describe('your own CA', () => {
    let ownCa: TestCa;
    let caCertificateId: string;
    before(async () => {
      ownCa = await makeCa('Acme Device CA');
    });

    test('[AWS RegisterCACertificate] without a verification certificate: InvalidRequestException; a wrong common name: RegistrationCodeValidationException; signed by another key: CertificateValidationException', async () => {
      await expectAwsError(iot.send(new RegisterCACertificateCommand({ caCertificate: ownCa.pem, setAsActive: true })), 'InvalidRequestException', { status: 400 });
      const wrongName = await verificationCertificate(ownCa, 'not-the-registration-code');
      await expectAwsError(
        iot.send(new RegisterCACertificateCommand({ caCertificate: ownCa.pem, verificationCertificate: wrongName.pem, setAsActive: true })),
        'RegistrationCodeValidationException',
        { cls: RegistrationCodeValidationException },
      );
      const { registrationCode } = await iot.send(new GetRegistrationCodeCommand({}));
      const otherCa = await makeCa('Someone Else');
      const foreign = await verificationCertificate(otherCa, registrationCode ?? '');
      await expectAwsError(
        iot.send(new RegisterCACertificateCommand({ caCertificate: ownCa.pem, verificationCertificate: foreign.pem, setAsActive: true })),
        'CertificateValidationException',
        { cls: CertificateValidationException },
      );
    });

    test('[AWS RegisterCACertificate] with a verification certificate whose CN is the registration code: registered ACTIVE, id = SHA-256 of the DER', async () => {
      const { registrationCode } = await iot.send(new GetRegistrationCodeCommand({}));
      assert.match(registrationCode ?? '', /^[0-9a-f]{64}$/);
      assert.equal((await iot.send(new GetRegistrationCodeCommand({}))).registrationCode, registrationCode, 'the code is stable');
      const verification = await verificationCertificate(ownCa, registrationCode ?? '');
      const r = await iot.send(new RegisterCACertificateCommand({ caCertificate: ownCa.pem, verificationCertificate: verification.pem, setAsActive: true }));
      caCertificateId = r.certificateId ?? '';
      assert.equal(caCertificateId, createHash('sha256').update(Buffer.from(ownCa.certificate.rawData)).digest('hex'));
      assert.equal(r.certificateArn, `${arnPrefix(tp)}cacert/${caCertificateId}`);
      const d = await iot.send(new DescribeCACertificateCommand({ certificateId: caCertificateId }));
      assert.equal(d.certificateDescription?.status, 'ACTIVE');
      assert.equal(d.certificateDescription?.autoRegistrationStatus, 'DISABLE');
      await expectAwsError(
        iot.send(new RegisterCACertificateCommand({ caCertificate: ownCa.pem, verificationCertificate: verification.pem, setAsActive: true })),
        'ResourceAlreadyExistsException',
        { status: 409 },
      );
    });

    test('[AWS RegisterCertificate] a device certificate signed by the registered CA, registered ACTIVE, connects over mqtts', async () => {
      const leaf = await signLeaf(ownCa, 'CN=acme-device-1');
      const r = await iot.send(new RegisterCertificateCommand({ certificatePem: leaf.pem, status: 'ACTIVE' }));
      assert.ok(r.certificateArn && r.certificateId);
      const d = await iot.send(new DescribeCertificateCommand({ certificateId: r.certificateId }));
      assert.equal(d.certificateDescription?.caCertificateId, caCertificateId);
      await allow(r.certificateArn);
      const device = await connectDevice(tp, { certificatePem: leaf.pem, privateKey: leaf.keyPem }, { clientId: randomClientId('own-ca') });
      await roundTrip(device, 'own-ca');
      await device.end();
      const byCa = await iot.send(new ListCertificatesByCACommand({ caCertificateId }));
      assert.ok(byCa.certificates?.some((c) => c.certificateId === r.certificateId));
    });

    test('[AWS RegisterCertificate] a certificate not signed by any registered CA: CertificateValidationException', async () => {
      const stranger = await makeCa('Unregistered CA');
      const leaf = await signLeaf(stranger, 'CN=stranger-device');
      await expectAwsError(iot.send(new RegisterCertificateCommand({ certificatePem: leaf.pem, status: 'ACTIVE' })), 'CertificateValidationException', {
        cls: CertificateValidationException,
      });
    });

    test('[Issue 4 §mTLS] a certificate from an unregistered CA is refused at CONNECT (0x86 bad user name or password)', async () => {
      const stranger = await makeCa('Unregistered CA 2');
      const leaf = await signLeaf(stranger, 'CN=stranger-device-2');
      const code = await connectRefusal(connectDevice(tp, { certificatePem: leaf.pem, privateKey: leaf.keyPem }, { clientId: randomClientId('stranger') }));
      assert.equal(code, RC.BAD_USERNAME_OR_PASSWORD);
      // Same CA name and subject as a registered CA, but another key: still unregistered.
      const impostor = await makeCa('Acme Device CA');
      const fake = await signLeaf(impostor, 'CN=acme-device-1');
      assert.equal(await connectRefusal(connectDevice(tp, { certificatePem: fake.pem, privateKey: fake.keyPem }, { clientId: randomClientId('impostor') })), RC.BAD_USERNAME_OR_PASSWORD);
    });

    test('[Issue 4 §mTLS] an unregistered certificate signed by a registered CA (auto-registration off) is refused at CONNECT', async () => {
      const leaf = await signLeaf(ownCa, 'CN=acme-unregistered');
      assert.equal(await connectRefusal(connectDevice(tp, { certificatePem: leaf.pem, privateKey: leaf.keyPem }, { clientId: randomClientId('unreg') })), RC.BAD_USERNAME_OR_PASSWORD);
    });

    test('[AWS JITR] with auto-registration enabled, a new certificate of the CA is registered PENDING_ACTIVATION on first connect (refused), announced on $aws/events/certificates/registered/{caCertificateId}; activated, it connects', async () => {
      await iot.send(new UpdateCACertificateCommand({ certificateId: caCertificateId, newAutoRegistrationStatus: 'ENABLE' }));
      const leaf = await signLeaf(ownCa, 'CN=acme-jitr-1');
      const certificateId = createHash('sha256').update(Buffer.from(leaf.certificate.rawData)).digest('hex');
      const creds = { certificatePem: leaf.pem, privateKey: leaf.keyPem };
      assert.equal(await connectRefusal(connectDevice(tp, creds, { clientId: randomClientId('jitr') })), RC.NOT_AUTHORIZED);
      const event = JSON.parse((await observer.waitMessage(`$aws/events/certificates/registered/${caCertificateId}`, 5_000)).payload.toString()) as Record<string, unknown>;
      assert.equal(event.certificateId, certificateId);
      assert.equal(event.caCertificateId, caCertificateId);
      assert.equal(event.certificateStatus, 'PENDING_ACTIVATION');
      assert.equal(event.awsAccountId, tp.endpoints.accountId);
      assert.equal((await iot.send(new DescribeCertificateCommand({ certificateId }))).certificateDescription?.status, 'PENDING_ACTIVATION');

      // What a JITR handler does: activate and attach a policy.
      await iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'ACTIVE' }));
      await allow(`${arnPrefix(tp)}cert/${certificateId}`);
      const device = await connectDevice(tp, creds, { clientId: randomClientId('jitr-ok') });
      await device.end();
      await iot.send(new UpdateCACertificateCommand({ certificateId: caCertificateId, newAutoRegistrationStatus: 'DISABLE' }));
    });
  });

  test('[AWS RegisterCertificateWithoutCA] a self-signed certificate registered without a CA connects', async () => {
    const leaf = await selfSigned('no-ca-device');
    const r = await iot.send(new RegisterCertificateWithoutCACommand({ certificatePem: leaf.pem, status: 'ACTIVE' }));
    await allow(r.certificateArn ?? '');
    const device = await connectDevice(tp, { certificatePem: leaf.pem, privateKey: leaf.keyPem }, { clientId: randomClientId('no-ca') });
    await device.end();
  });

  test('[AWS AttachThingPrincipal] List{Thing,Principal}... both ways; the connection is the thing: presence event thingName, principalIdentifier = certificate id', async () => {
    await iot.send(new CreateThingCommand({ thingName: 'door-1' }));
    const c = await activeDevice();
    await iot.send(new AttachThingPrincipalCommand({ thingName: 'door-1', principal: c.certificateArn }));
    assert.deepEqual((await iot.send(new ListThingPrincipalsCommand({ thingName: 'door-1' }))).principals, [c.certificateArn]);
    assert.deepEqual((await iot.send(new ListPrincipalThingsCommand({ principal: c.certificateArn }))).things, ['door-1']);

    const device = await connectDevice(tp, c, { clientId: 'door-1' });
    const event = JSON.parse((await observer.waitMessage('$aws/events/presence/connected/door-1', 5_000)).payload.toString()) as Record<string, unknown>;
    assert.equal(event.thingName, 'door-1');
    assert.equal(event.principalIdentifier, c.certificateId);
    await device.end();

    // AWS refuses to delete a thing that still has principals attached.
    await expectAwsError(iot.send(new DeleteThingCommand({ thingName: 'door-1' })), 'InvalidRequestException', { status: 400, message: /principal/ });
    await expectAwsError(iot.send(new AttachThingPrincipalCommand({ thingName: 'no-such-thing', principal: c.certificateArn })), 'ResourceNotFoundException', { status: 404 });
    await expectAwsError(iot.send(new AttachThingPrincipalCommand({ thingName: 'door-1', principal: `${arnPrefix(tp)}cert/${'0'.repeat(64)}` })), 'ResourceNotFoundException', { status: 404 });
  });

  test('[AWS DeleteCertificate] refused while ACTIVE (CertificateStateException) or attached to a thing (DeleteConflictException); forceDelete detaches policies', async () => {
    await iot.send(new CreateThingCommand({ thingName: 'door-2' }));
    const c = await activeDevice();
    await iot.send(new AttachThingPrincipalCommand({ thingName: 'door-2', principal: c.certificateArn }));
    await expectAwsError(iot.send(new DeleteCertificateCommand({ certificateId: c.certificateId })), 'CertificateStateException', { cls: CertificateStateException });
    await iot.send(new UpdateCertificateCommand({ certificateId: c.certificateId, newStatus: 'INACTIVE' }));
    await expectAwsError(iot.send(new DeleteCertificateCommand({ certificateId: c.certificateId })), 'DeleteConflictException', { cls: DeleteConflictException });
    await iot.send(new DetachThingPrincipalCommand({ thingName: 'door-2', principal: c.certificateArn }));
    await expectAwsError(iot.send(new DeleteCertificateCommand({ certificateId: c.certificateId })), 'DeleteConflictException', { message: /polic/i });
    await iot.send(new DeleteCertificateCommand({ certificateId: c.certificateId, forceDelete: true }));
    await expectAwsError(iot.send(new DescribeCertificateCommand({ certificateId: c.certificateId })), 'ResourceNotFoundException', { status: 404 });
  });

  test('[AWS ListCertificates] pageSize/marker pages cover every certificate once, each with its status', async () => {
    const all = new Map<string, string>();
    let marker: string | undefined;
    let pages = 0;
    do {
      const page = await iot.send(new ListCertificatesCommand({ pageSize: 3, ...(marker ? { marker } : {}) }));
      pages++;
      assert.ok((page.certificates?.length ?? 0) <= 3);
      for (const c of page.certificates ?? []) {
        assert.ok(!all.has(c.certificateId ?? ''), 'no certificate twice');
        all.set(c.certificateId ?? '', c.status ?? '');
      }
      marker = page.nextMarker;
    } while (marker !== undefined);
    assert.ok(pages > 1);
    assert.ok([...all.values()].every((s) => ['ACTIVE', 'INACTIVE', 'REVOKED', 'PENDING_ACTIVATION', 'PENDING_TRANSFER'].includes(s)));
    assert.ok([...all.values()].includes('REVOKED'));
  });
});

function opensslMissing(): string | null {
  const r = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  const why = r.error !== undefined ? `openssl is not on PATH (${r.error.message})` : r.status !== 0 ? 'openssl version failed' : null;
  if (why !== null) console.log(`# skipping the openssl CSR test: ${why}`);
  return why;
}
