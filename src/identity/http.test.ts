// End to end: the certificate, CA, principal and endpoint operations on a real HTTP listener
// (createAwsRestRouter + the real registry), driven by AWS's own @aws-sdk/client-iot.
import assert from 'node:assert/strict';
import { X509Certificate as NodeX509 } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  AttachThingPrincipalCommand,
  CertificateStateException,
  CertificateValidationException,
  CreateCertificateFromCsrCommand,
  CreateKeysAndCertificateCommand,
  CreateThingCommand,
  DeleteCACertificateCommand,
  DeleteCertificateCommand,
  DeleteConflictException,
  DeleteThingCommand,
  DescribeCACertificateCommand,
  DescribeCertificateCommand,
  DescribeEndpointCommand,
  DetachThingPrincipalCommand,
  GetRegistrationCodeCommand,
  InvalidRequestException,
  IoTClient,
  ListCACertificatesCommand,
  ListCertificatesByCACommand,
  ListCertificatesCommand,
  ListPrincipalThingsCommand,
  ListThingPrincipalsCommand,
  RegisterCACertificateCommand,
  RegisterCertificateCommand,
  RegisterCertificateWithoutCACommand,
  RegistrationCodeValidationException,
  ResourceAlreadyExistsException,
  ResourceNotFoundException,
  UpdateCACertificateCommand,
  UpdateCertificateCommand,
  type Certificate,
} from '@aws-sdk/client-iot';
import type { FastifyInstance } from 'fastify';
import { EventBus, openDatabase } from '../core/index.js';
import { createAwsRestRouter, createHttpApp, iotModel, type IotOperations } from '../http/index.js';
import { createLogger } from '../lib/index.js';
import { createRegistry } from '../registry/index.js';
import { FakeMessaging, makeCa, makeCsr, signLeaf, tempDataDir } from './certificates-testkit.js';
import { createIdentity, type Identity, type IdentityRegistry } from './index.js';

const REGION = 'eu-central-1';
const ACCOUNT = '123456789012';
let dir: Awaited<ReturnType<typeof tempDataDir>>;
let app: FastifyInstance;
let identity: Identity;
let iot: IoTClient;
let endpoint: string;

before(async () => {
  dir = await tempDataDir();
  const db = openDatabase(':memory:');
  const bus = new EventBus();
  const messaging = new FakeMessaging();
  const logger = createLogger('silent');
  const registry = createRegistry({ db, bus, region: REGION, accountId: ACCOUNT, messaging, logger });
  const asIdentityRegistry: IdentityRegistry = registry.service; // RegistryService fits what identity needs
  identity = await createIdentity({
    db,
    bus,
    dataDir: dir.dataDir,
    region: REGION,
    accountId: ACCOUNT,
    registry: asIdentityRegistry,
    messaging,
    logger,
    allowAnonymous: false,
    anonymousLoopback: true,
    endpoints: () => ({ mqtts: 'mqtts://127.0.0.1:8883', https: 'https://127.0.0.1:8443', mqtt: 'mqtt://127.0.0.1:1883' }),
  });
  app = createHttpApp({ logger, health: () => ({}), metrics: { render: async () => '', contentType: 'text/plain' } });
  createAwsRestRouter<IotOperations>(app, { service: iotModel, region: REGION, authenticate: identity.accessKeys, handlers: { ...registry.iotHandlers, ...identity.iotHandlers }, logger });
  await app.listen({ host: '127.0.0.1', port: 0 });
  endpoint = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const key = identity.accessKeyService.create('tester');
  iot = new IoTClient({ endpoint, region: REGION, credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey }, maxAttempts: 1 });
});
after(async () => {
  await app?.close();
  dir?.cleanup();
});

async function rejects<E extends Error>(p: Promise<unknown>, cls: new (...args: never[]) => E): Promise<E> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${(err as Error).name}: ${(err as Error).message}`);
    return err;
  }
  throw new Error(`expected ${cls.name}, got success`);
}

const fingerprint = (pem: string): string => new NodeX509(pem).fingerprint256.replace(/:/g, '').toLowerCase();

describe('certificates issued by Thingport', () => {
  test('CreateKeysAndCertificate returns an ARN cert/<sha256 of DER>, the PEM and an RSA key pair; DescribeCertificate agrees', async () => {
    const out = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    assert.equal(out.certificateId, fingerprint(out.certificatePem!));
    assert.equal(out.certificateArn, `arn:aws:iot:${REGION}:${ACCOUNT}:cert/${out.certificateId}`);
    assert.match(out.keyPair?.PrivateKey ?? '', /BEGIN RSA PRIVATE KEY/);
    assert.match(out.keyPair?.PublicKey ?? '', /BEGIN PUBLIC KEY/);
    const d = (await iot.send(new DescribeCertificateCommand({ certificateId: out.certificateId }))).certificateDescription!;
    assert.equal(d.status, 'ACTIVE');
    assert.equal(d.certificatePem, out.certificatePem);
    assert.equal(d.ownedBy, ACCOUNT);
    assert.equal(d.certificateMode, 'DEFAULT');
    assert.equal(d.customerVersion, 1);
    assert.ok(d.creationDate instanceof Date && Math.abs(d.creationDate.getTime() - Date.now()) < 60_000);
    assert.ok(d.validity?.notAfter instanceof Date && d.validity.notAfter.getTime() > Date.now());
  });

  test('CreateCertificateFromCsr signs a valid CSR and refuses a malformed one', async () => {
    const { csrPem } = await makeCsr('CN=from-csr');
    const out = await iot.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: csrPem }));
    assert.equal(new NodeX509(out.certificatePem!).subject, 'CN=from-csr');
    assert.equal((await iot.send(new DescribeCertificateCommand({ certificateId: out.certificateId }))).certificateDescription?.status, 'INACTIVE');
    await rejects(iot.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: 'nonsense' })), InvalidRequestException);
  });

  test('UpdateCertificate: REVOKED is final (CertificateStateException); DeleteCertificate refuses ACTIVE then deletes', async () => {
    const { certificateId } = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    await rejects(iot.send(new DeleteCertificateCommand({ certificateId })), CertificateStateException);
    await iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'REVOKED' }));
    const e = await rejects(iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'ACTIVE' })), CertificateStateException);
    assert.equal(e.$metadata.httpStatusCode, 406);
    await iot.send(new DeleteCertificateCommand({ certificateId }));
    await rejects(iot.send(new DescribeCertificateCommand({ certificateId })), ResourceNotFoundException);
  });

  test('ListCertificates pages with pageSize/marker, newest first unless ascendingOrder', async () => {
    for (let i = 0; i < 3; i++) await iot.send(new CreateKeysAndCertificateCommand({}));
    const all: Certificate[] = [];
    let marker: string | undefined;
    do {
      const page = await iot.send(new ListCertificatesCommand({ pageSize: 2, marker }));
      assert.ok((page.certificates?.length ?? 0) <= 2);
      all.push(...(page.certificates ?? []));
      marker = page.nextMarker;
    } while (marker !== undefined);
    const newestFirst = all.map((c) => c.creationDate!.getTime());
    assert.deepEqual(newestFirst, [...newestFirst].sort((a, b) => b - a));
    const asc = await iot.send(new ListCertificatesCommand({ ascendingOrder: true }));
    assert.deepEqual(asc.certificates?.map((c) => c.certificateId), [...all].reverse().map((c) => c.certificateId));
    assert.equal(new Set(all.map((c) => c.certificateId)).size, all.length);
    await rejects(iot.send(new ListCertificatesCommand({ marker: 'Zm9v' })), InvalidRequestException);
  });
});

describe('registered CAs and their certificates', () => {
  test('GetRegistrationCode, RegisterCACertificate with a verification certificate, RegisterCertificate, ListCertificatesByCA', async () => {
    const { registrationCode } = await iot.send(new GetRegistrationCodeCommand({}));
    const ca = await makeCa('SDK Fleet CA');
    const wrong = await signLeaf(ca, 'CN=not-the-code');
    await rejects(iot.send(new RegisterCACertificateCommand({ caCertificate: ca.pem, verificationCertificate: wrong.pem })), RegistrationCodeValidationException);
    const verification = await signLeaf(ca, `CN=${registrationCode}`);
    const reg = await iot.send(new RegisterCACertificateCommand({ caCertificate: ca.pem, verificationCertificate: verification.pem, setAsActive: true, allowAutoRegistration: true }));
    assert.equal(reg.certificateArn, `arn:aws:iot:${REGION}:${ACCOUNT}:cacert/${reg.certificateId}`);
    await rejects(iot.send(new RegisterCACertificateCommand({ caCertificate: ca.pem, verificationCertificate: verification.pem })), ResourceAlreadyExistsException);
    const d = (await iot.send(new DescribeCACertificateCommand({ certificateId: reg.certificateId }))).certificateDescription!;
    assert.equal(d.status, 'ACTIVE');
    assert.equal(d.autoRegistrationStatus, 'ENABLE');
    assert.ok((await iot.send(new ListCACertificatesCommand({}))).certificates?.some((c) => c.certificateId === reg.certificateId));

    const device = await signLeaf(ca, 'CN=device-9');
    const cert = await iot.send(new RegisterCertificateCommand({ certificatePem: device.pem, status: 'ACTIVE' }));
    assert.equal(cert.certificateId, fingerprint(device.pem));
    const desc = (await iot.send(new DescribeCertificateCommand({ certificateId: cert.certificateId }))).certificateDescription!;
    assert.equal(desc.caCertificateId, reg.certificateId);
    assert.equal(desc.status, 'ACTIVE');
    const byCa = await iot.send(new ListCertificatesByCACommand({ caCertificateId: reg.certificateId }));
    assert.deepEqual(byCa.certificates?.map((c) => c.certificateId), [cert.certificateId]);

    await rejects(iot.send(new DeleteCACertificateCommand({ certificateId: reg.certificateId })), CertificateStateException);
    await iot.send(new UpdateCACertificateCommand({ certificateId: reg.certificateId, newStatus: 'INACTIVE' }));
    await iot.send(new DeleteCACertificateCommand({ certificateId: reg.certificateId }));
  });

  test('a certificate from an unregistered CA is CertificateValidationException; RegisterCertificateWithoutCA takes it', async () => {
    const stranger = await signLeaf(await makeCa('Unregistered CA'), 'CN=stray');
    await rejects(iot.send(new RegisterCertificateCommand({ certificatePem: stranger.pem })), CertificateValidationException);
    const out = await iot.send(new RegisterCertificateWithoutCACommand({ certificatePem: stranger.pem, status: 'ACTIVE' }));
    const d = (await iot.send(new DescribeCertificateCommand({ certificateId: out.certificateId }))).certificateDescription!;
    assert.equal(d.certificateMode, 'SNI_ONLY');
    assert.equal(d.caCertificateId, undefined);
  });
});

describe('thing principals', () => {
  test('attach, list both ways, refuse deleting an attached certificate or thing, detach', async () => {
    await iot.send(new CreateThingCommand({ thingName: 'porch-light' }));
    const { certificateArn, certificateId } = await iot.send(new CreateKeysAndCertificateCommand({}));
    await rejects(iot.send(new AttachThingPrincipalCommand({ thingName: 'no-such-thing', principal: certificateArn })), ResourceNotFoundException);
    await iot.send(new AttachThingPrincipalCommand({ thingName: 'porch-light', principal: certificateArn }));
    assert.deepEqual((await iot.send(new ListThingPrincipalsCommand({ thingName: 'porch-light' }))).principals, [certificateArn]);
    assert.deepEqual((await iot.send(new ListPrincipalThingsCommand({ principal: certificateArn }))).things, ['porch-light']);
    await rejects(iot.send(new DeleteCertificateCommand({ certificateId })), DeleteConflictException);
    await rejects(iot.send(new DeleteThingCommand({ thingName: 'porch-light' })), InvalidRequestException);
    await iot.send(new DetachThingPrincipalCommand({ thingName: 'porch-light', principal: certificateArn }));
    assert.deepEqual((await iot.send(new ListThingPrincipalsCommand({ thingName: 'porch-light' }))).principals, []);
    await iot.send(new DeleteCertificateCommand({ certificateId }));
    await iot.send(new DeleteThingCommand({ thingName: 'porch-light' }));
  });
});

describe('DescribeEndpoint and access keys', () => {
  test('each endpoint type answers host:port', async () => {
    assert.equal((await iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }))).endpointAddress, '127.0.0.1:8883');
    assert.equal((await iot.send(new DescribeEndpointCommand({}))).endpointAddress, '127.0.0.1:8883');
    assert.equal((await iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Jobs' }))).endpointAddress, '127.0.0.1:8443');
    await rejects(iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Nope' })), InvalidRequestException);
  });

  test('a revoked access key is refused as an unknown one', async () => {
    const key = identity.accessKeyService.create('short-lived');
    const client = new IoTClient({ endpoint, region: REGION, credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey }, maxAttempts: 1 });
    await client.send(new GetRegistrationCodeCommand({}));
    identity.accessKeyService.revoke(key.accessKeyId);
    await assert.rejects(client.send(new GetRegistrationCodeCommand({})), (e: Error) => e.name === 'UnrecognizedClientException');
  });
});
