import assert from 'node:assert/strict';
import { X509Certificate as NodeX509 } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import type { AuthenticateRequest, AuthenticateResult } from '../core/index.js';
import { createAuthenticator, usernameQuery, type ConnectSubject } from './authenticate.js';
import type { CustomAuthenticator } from './authorizers-connect.js';
import { loadCa } from './ca.js';
import { CaCertificateService } from './certificates-ca.js';
import { certificateArn } from './certificates-context.js';
import type { CertificateFactsOf } from './certificates-facts.js';
import { ThingPrincipalService } from './certificates-principals.js';
import { makeCa, memoryContext, signLeaf, tempDataDir } from './certificates-testkit.js';
import { CertificateService } from './certificates.js';

let dir: Awaited<ReturnType<typeof tempDataDir>>;
before(async () => {
  dir = await tempDataDir();
});
after(() => dir.cleanup());

function setup(opts: { allowAnonymous?: boolean; anonymousLoopback?: boolean; connect?: (s: ConnectSubject) => boolean; customAuth?: CustomAuthenticator } = {}) {
  const ctx = memoryContext(dir.dataDir);
  const certs = new CertificateService(ctx);
  const cas = new CaCertificateService(ctx);
  const principals = new ThingPrincipalService(ctx);
  const facts: CertificateFactsOf[] = [];
  const subjects: ConnectSubject[] = [];
  const authenticate = createAuthenticator({
    store: ctx.store,
    certificates: certs,
    cas,
    principals,
    thingportCa: async () => (await loadCa(dir.dataDir)).certificate,
    messaging: ctx.messaging,
    accountId: ctx.accountId,
    allowAnonymous: opts.allowAnonymous ?? false,
    anonymousLoopback: opts.anonymousLoopback ?? true,
    authorizeConnect:
      opts.connect === undefined
        ? null
        : (s) => {
            subjects.push(s);
            return opts.connect!(s);
          },
    rememberFacts: (f) => facts.push(f),
    customAuth: opts.customAuth ?? null,
    sigv4: null,
    logger: ctx.logger,
    now: Date.now,
  });
  return { ctx, certs, cas, principals, authenticate, facts, subjects };
}

function request(over: Partial<AuthenticateRequest> & { pem?: string } = {}): AuthenticateRequest {
  const { pem, ...rest } = over;
  const peerCertificate = pem === undefined ? null : ({ raw: new NodeX509(pem).raw } as PeerCertificate);
  return { clientId: 'dev-1', username: null, password: null, remoteAddress: '10.0.0.7', transport: 'tls', protocolVersion: 5, peerCertificate, httpRequest: null, serverName: null, ...rest } as AuthenticateRequest;
}

const refused = (r: AuthenticateResult, code: number, text?: RegExp): void => {
  assert.equal(r.ok, false, JSON.stringify(r));
  if (!r.ok) {
    assert.equal(r.reasonCode, code);
    if (text) assert.match(r.reason ?? '', text);
  }
};

describe('without a client certificate', () => {
  test('loopback is admitted anonymously by default; elsewhere 0x87 unless allowAnonymous', async () => {
    const { authenticate } = setup();
    assert.deepEqual(await authenticate(request({ remoteAddress: '127.0.0.1', transport: 'tcp' })), { ok: true, principal: null, thingName: null });
    assert.equal((await authenticate(request({ remoteAddress: '::1', transport: 'ws' }))).ok, true);
    refused(await authenticate(request({ transport: 'tcp' })), 0x87, /certificate is required/);
    assert.equal((await setup({ allowAnonymous: true }).authenticate(request({ transport: 'tcp' }))).ok, true);
    refused(await setup({ anonymousLoopback: false }).authenticate(request({ remoteAddress: '127.0.0.1', transport: 'tcp' })), 0x87);
  });

  test('AWS device SDK metrics user names are ignored; a custom authorizer name is 0x87 when no authorizers are wired (authorizers.test.ts covers them)', async () => {
    const { authenticate } = setup();
    const sdk = '?SDK=JavaScript&Version=2.2.0&Platform=Linux 5.15 x64';
    assert.equal(usernameQuery(sdk)?.get('Platform'), 'Linux 5.15 x64');
    assert.equal((await authenticate(request({ username: sdk, remoteAddress: '127.0.0.1' }))).ok, true);
    refused(await authenticate(request({ username: 'me?x-amz-customauthorizer-name=MyAuth&token=t', remoteAddress: '127.0.0.1' })), 0x87, /custom authorizer MyAuth not found/);
  });
});

describe('which authentication applies', () => {
  /** A custom authenticator that records which authorizer it was asked for. */
  const recording = (defaultName: string | null) => {
    const asked: string[] = [];
    const customAuth: CustomAuthenticator = {
      authenticate: async (_req, name) => (asked.push(name), { ok: true, principal: `p-${name}`, thingName: null }),
      defaultName: () => defaultName,
      close: () => {},
    };
    return { asked, customAuth };
  };

  test('a named custom authorizer wins over a certificate; the default authorizer comes before anonymous admission', async () => {
    const named = recording('Fallback');
    const { certs, authenticate } = setup({ customAuth: named.customAuth, anonymousLoopback: true });
    const rec = (await certs.createKeysAndCertificate(true)).record;
    await authenticate(request({ pem: rec.certificatePem, username: 'x?x-amz-customauthorizer-name=Named' }));
    await authenticate(request({ remoteAddress: '127.0.0.1', transport: 'tcp' }));
    assert.deepEqual(named.asked, ['Named', 'Fallback']);
    assert.equal((await authenticate(request({ pem: rec.certificatePem }))).ok, true); // a certificate without a name: no authorizer
    assert.deepEqual(named.asked, ['Named', 'Fallback']);
  });

  test('a SigV4-signed WebSocket upgrade is 0x86 when SigV4 is not wired', async () => {
    const { authenticate } = setup();
    refused(await authenticate(request({ transport: 'ws', httpRequest: { url: '/mqtt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00', headers: {} } })), 0x86);
  });
});

describe('with a client certificate', () => {
  test('a registered ACTIVE certificate from Thingport\'s CA is the principal, with its thing and facts; iot:Connect is asked', async () => {
    const { ctx, certs, principals, authenticate, facts, subjects } = setup({ connect: () => true });
    const { record } = await certs.createKeysAndCertificate(true);
    ctx.registry.things.add('lamp');
    principals.attach('lamp', certificateArn(ctx, record.certificateId));
    const r = await authenticate(request({ pem: record.certificatePem }));
    assert.deepEqual(r, { ok: true, principal: record.certificateId, thingName: 'lamp', authContext: { kind: 'certificate', certificateId: record.certificateId, thingName: 'lamp' } });
    assert.equal(facts[0]?.certificateId, record.certificateId);
    assert.deepEqual(subjects, [{ clientId: 'dev-1', principal: record.certificateId, thingName: 'lamp', sourceIp: '10.0.0.7' }]);
  });

  test('INACTIVE and REVOKED certificates are 0x87; iot:Connect denied is 0x87; unregistered is 0x86', async () => {
    const denyAll = setup({ connect: () => false });
    const active = (await denyAll.certs.createKeysAndCertificate(true)).record;
    refused(await denyAll.authenticate(request({ pem: active.certificatePem })), 0x87, /iot:Connect/);

    const { certs, authenticate } = setup();
    const inactive = (await certs.createKeysAndCertificate(false)).record;
    refused(await authenticate(request({ pem: inactive.certificatePem })), 0x87, /INACTIVE/);
    const revoked = (await certs.createKeysAndCertificate(true)).record;
    certs.updateCertificate(revoked.certificateId, 'REVOKED');
    refused(await authenticate(request({ pem: revoked.certificatePem })), 0x87, /REVOKED/);
    refused(await authenticate(request({ pem: (await signLeaf(await makeCa('Nobody CA'), 'CN=x')).pem })), 0x86, /not registered/);
  });

  test('a certificate over plain TCP is ignored (no TLS, no certificate): loopback rules apply', async () => {
    const { certs, authenticate } = setup({ anonymousLoopback: false });
    const rec = (await certs.createKeysAndCertificate(true)).record;
    refused(await authenticate(request({ pem: rec.certificatePem, transport: 'tcp' })), 0x87);
  });

  test('a certificate registered with a CA stops connecting once that CA is deleted; an INACTIVE CA still lets it connect (AWS)', async () => {
    const { certs, cas, authenticate } = setup();
    const ca = await makeCa('Deletable CA');
    const caRec = await cas.registerCaCertificate({ caCertificate: ca.pem, certificateMode: 'SNI_ONLY', setAsActive: true });
    const leaf = await signLeaf(ca, 'CN=dev');
    await certs.registerCertificate({ certificatePem: leaf.pem, status: 'ACTIVE' });
    assert.equal((await authenticate(request({ pem: leaf.pem }))).ok, true);
    cas.updateCaCertificate(caRec.certificateId, { newStatus: 'INACTIVE' });
    assert.equal((await authenticate(request({ pem: leaf.pem }))).ok, true);
    cas.deleteCaCertificate(caRec.certificateId);
    refused(await authenticate(request({ pem: leaf.pem })), 0x86, /chain/);
  });

  test('RegisterCertificateWithoutCA certificates connect without any chain', async () => {
    const { certs, authenticate } = setup();
    const leaf = await signLeaf(await makeCa('Private CA'), 'CN=free');
    const rec = certs.registerCertificateWithoutCa({ certificatePem: leaf.pem, status: 'ACTIVE' });
    assert.equal((await authenticate(request({ pem: leaf.pem }))).ok && rec.certificateId.length === 64, true);
  });

  test('just-in-time registration: PENDING_ACTIVATION, the registered event, refused until activated', async () => {
    const { ctx, certs, cas, authenticate } = setup();
    const ca = await makeCa('JITR CA');
    const caRec = await cas.registerCaCertificate({ caCertificate: ca.pem, certificateMode: 'SNI_ONLY', setAsActive: true, allowAutoRegistration: true });
    const leaf = await signLeaf(ca, 'CN=new-device');
    refused(await authenticate(request({ pem: leaf.pem })), 0x87, /PENDING_ACTIVATION/);
    const id = new NodeX509(leaf.pem).fingerprint256.replace(/:/g, '').toLowerCase();
    assert.equal(certs.describeCertificate(id).status, 'PENDING_ACTIVATION');
    assert.equal(ctx.messaging.published.length, 1);
    const event = ctx.messaging.published[0]!;
    assert.equal(event.topic, `$aws/events/certificates/registered/${caRec.certificateId}`);
    const body = JSON.parse(String(event.payload)) as Record<string, unknown>;
    assert.equal(body.certificateId, id);
    assert.equal(body.caCertificateId, caRec.certificateId);
    assert.equal(body.certificateStatus, 'PENDING_ACTIVATION');
    assert.equal(body.awsAccountId, ctx.accountId);
    certs.updateCertificate(id, 'ACTIVE');
    assert.equal((await authenticate(request({ pem: leaf.pem }))).ok, true);
  });

  test('no JITR when the CA does not allow auto-registration or is INACTIVE', async () => {
    const { ctx, cas, authenticate } = setup();
    const ca = await makeCa('Strict CA');
    const caRec = await cas.registerCaCertificate({ caCertificate: ca.pem, certificateMode: 'SNI_ONLY', setAsActive: true });
    const leaf = await signLeaf(ca, 'CN=d');
    refused(await authenticate(request({ pem: leaf.pem })), 0x86);
    cas.updateCaCertificate(caRec.certificateId, { newStatus: 'INACTIVE', newAutoRegistrationStatus: 'ENABLE' });
    refused(await authenticate(request({ pem: leaf.pem })), 0x86);
    assert.equal(ctx.messaging.published.length, 0);
  });

  test('an expired certificate is 0x86 even when registered (registered before it expired)', async () => {
    const { ctx, authenticate } = setup();
    const old = await signLeaf(await makeCa('Old CA'), 'CN=old', { notBefore: new Date(Date.now() - 5 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });
    const id = new NodeX509(old.pem).fingerprint256.replace(/:/g, '').toLowerCase();
    const t = Date.now();
    ctx.store.insertCertificate({ certificateId: id, certificatePem: old.pem, status: 'ACTIVE', origin: 'none', caCertificateId: null, certificateMode: 'SNI_ONLY', createdAt: t, lastModifiedAt: t, customerVersion: 1, generationId: 'g', notBefore: 0, notAfter: t });
    refused(await authenticate(request({ pem: old.pem })), 0x86, /expired/);
  });
});
