import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CaCertificateService } from './certificates-ca.js';
import { certificateArn } from './certificates-context.js';
import { ThingPrincipalService } from './certificates-principals.js';
import { clientInfo, makeCa, memoryContext, recordBus, signLeaf, tempDataDir, type TestCa } from './certificates-testkit.js';
import { CertificateService } from './certificates.js';
import type { IdentityError } from './errors.js';

let dir: Awaited<ReturnType<typeof tempDataDir>>;
before(async () => {
  dir = await tempDataDir();
});
after(() => dir.cleanup());

function setup() {
  const ctx = memoryContext(dir.dataDir);
  return { ctx, certs: new CertificateService(ctx), cas: new CaCertificateService(ctx), principals: new ThingPrincipalService(ctx) };
}

const code = (c: string) => (e: IdentityError) => e.code === c;

/** A verification certificate for `ca` whose common name is `cn`. */
async function verification(ca: TestCa, cn: string): Promise<string> {
  return (await signLeaf(ca, `CN=${cn}`)).pem;
}

describe('certificate status transitions', () => {
  test('ACTIVE -> INACTIVE -> ACTIVE -> REVOKED; every change bumps customerVersion and emits certificate.status.changed', async () => {
    const { ctx, certs } = setup();
    const events = recordBus(ctx.bus, 'certificate.status.changed');
    const { record } = await certs.createKeysAndCertificate(true);
    assert.equal(record.status, 'ACTIVE');
    const id = record.certificateId;
    assert.equal(certs.updateCertificate(id, 'INACTIVE').customerVersion, 2);
    assert.equal(certs.updateCertificate(id, 'ACTIVE').status, 'ACTIVE');
    const revoked = certs.updateCertificate(id, 'REVOKED');
    assert.equal(revoked.customerVersion, 4);
    assert.deepEqual(
      events.map((e) => (e.payload as { status: string }).status),
      ['ACTIVE', 'INACTIVE', 'ACTIVE', 'REVOKED'],
    );
  });

  test('UpdateCertificate is idempotent: the same status changes nothing', async () => {
    const { ctx, certs } = setup();
    const { record } = await certs.createKeysAndCertificate(false);
    const events = recordBus(ctx.bus, 'certificate.status.changed');
    assert.equal(certs.updateCertificate(record.certificateId, 'INACTIVE').customerVersion, 1);
    assert.equal(events.length, 0);
  });

  test('a revoked certificate status cannot be changed (AWS: revoke-ca-cert, "Once a certificate is revoked, its status can\'t be changed")', async () => {
    const { certs } = setup();
    const { record } = await certs.createKeysAndCertificate(true);
    certs.updateCertificate(record.certificateId, 'REVOKED');
    for (const s of ['ACTIVE', 'INACTIVE'] as const) assert.throws(() => certs.updateCertificate(record.certificateId, s), code('certificate.state'));
  });

  test('PENDING_TRANSFER and PENDING_ACTIVATION cannot be set (UpdateCertificate API reference)', async () => {
    const { certs } = setup();
    const { record } = await certs.createKeysAndCertificate(true);
    for (const s of ['PENDING_TRANSFER', 'PENDING_ACTIVATION'] as const) assert.throws(() => certs.updateCertificate(record.certificateId, s), code('request.invalid'));
  });

  test('leaving ACTIVE disconnects the live connections of that certificate, and only those', async () => {
    const { ctx, certs } = setup();
    const a = (await certs.createKeysAndCertificate(true)).record.certificateId;
    const b = (await certs.createKeysAndCertificate(true)).record.certificateId;
    ctx.messaging.clients.push(clientInfo('dev-a1', a), clientInfo('dev-a2', a), clientInfo('dev-b', b), clientInfo('anon', null));
    certs.updateCertificate(a, 'INACTIVE');
    assert.deepEqual(ctx.messaging.disconnected, ['dev-a1', 'dev-a2']);
    certs.updateCertificate(a, 'REVOKED'); // from INACTIVE: nothing more to cut
    assert.deepEqual(ctx.messaging.disconnected, ['dev-a1', 'dev-a2']);
  });

  test('unknown ids are certificate.not_found; malformed ids request.invalid; 0x-prefixed upper-case ids are accepted', async () => {
    const { certs } = setup();
    assert.throws(() => certs.describeCertificate('a'.repeat(64)), code('certificate.not_found'));
    assert.throws(() => certs.describeCertificate('xyz'), code('request.invalid'));
    const { record } = await certs.createKeysAndCertificate(false);
    assert.equal(certs.describeCertificate(`0x${record.certificateId.toUpperCase()}`).certificateId, record.certificateId);
  });
});

describe('DeleteCertificate (AWS: refused while ACTIVE or attached)', () => {
  test('ACTIVE -> CertificateStateException; attached to a thing -> DeleteConflictException; otherwise deleted', async () => {
    const { ctx, certs, principals } = setup();
    const { record } = await certs.createKeysAndCertificate(true);
    const id = record.certificateId;
    assert.throws(() => certs.deleteCertificate(id, false), code('certificate.state'));
    certs.updateCertificate(id, 'INACTIVE');
    ctx.registry.things.add('lamp');
    principals.attach('lamp', certificateArn(ctx, id));
    assert.throws(() => certs.deleteCertificate(id, true), code('certificate.delete_conflict'));
    principals.detach('lamp', certificateArn(ctx, id));
    certs.deleteCertificate(id, false);
    assert.throws(() => certs.describeCertificate(id), code('certificate.not_found'));
  });

  test('attached policies refuse the deletion unless forceDelete, which detaches them', async () => {
    const { ctx, certs } = setup();
    const attached = new Set<string>();
    ctx.policyTargets = { hasAttachedPolicies: (t) => attached.has(t), detachAllPolicies: (t) => attached.delete(t) };
    const { record } = await certs.createKeysAndCertificate(false);
    attached.add(record.certificateId);
    assert.throws(() => certs.deleteCertificate(record.certificateId, false), code('certificate.delete_conflict'));
    certs.deleteCertificate(record.certificateId, true);
    assert.equal(attached.size, 0);
  });

  test('creating the same certificate twice is ResourceAlreadyExists with its id and ARN', async () => {
    const { ctx, certs } = setup();
    const leaf = await signLeaf(await makeCa('Dup CA'), 'CN=dup');
    const first = certs.registerCertificateWithoutCa({ certificatePem: leaf.pem });
    assert.throws(
      () => certs.registerCertificateWithoutCa({ certificatePem: leaf.pem }),
      (e: IdentityError) => e.code === 'certificate.already_exists' && e.fields?.resourceArn === certificateArn(ctx, first.certificateId),
    );
  });
});

describe('RegisterCACertificate: registration-code verification', () => {
  test('a verification certificate signed by the CA key with the registration code as CN registers the CA', async () => {
    const { cas } = setup();
    const ca = await makeCa('Fleet CA');
    const code1 = cas.getRegistrationCode();
    assert.match(code1, /^[0-9a-f]{64}$/);
    assert.equal(cas.getRegistrationCode(), code1, 'one code per installation');
    const rec = await cas.registerCaCertificate({ caCertificate: ca.pem, verificationCertificate: await verification(ca, code1), setAsActive: true, allowAutoRegistration: true });
    assert.equal(rec.status, 'ACTIVE');
    assert.equal(rec.autoRegistrationStatus, 'ENABLE');
    assert.equal(rec.certificateMode, 'DEFAULT');
    await assert.rejects(cas.registerCaCertificate({ caCertificate: ca.pem, verificationCertificate: await verification(ca, code1) }), code('certificate.already_exists'));
  });

  test('a wrong common name is RegistrationCodeValidationException', async () => {
    const { cas } = setup();
    const ca = await makeCa('Fleet CA 2');
    await assert.rejects(cas.registerCaCertificate({ caCertificate: ca.pem, verificationCertificate: await verification(ca, 'not-the-code') }), code('registration_code.invalid'));
  });

  test('a verification certificate signed by another key is CertificateValidationException', async () => {
    const { cas } = setup();
    const ca = await makeCa('Fleet CA 3');
    const impostor = await makeCa('Fleet CA 3');
    await assert.rejects(
      cas.registerCaCertificate({ caCertificate: ca.pem, verificationCertificate: await verification(impostor, cas.getRegistrationCode()) }),
      code('certificate.invalid'),
    );
  });

  test('DEFAULT mode needs a verification certificate; SNI_ONLY does not; a non-CA certificate is refused', async () => {
    const { cas } = setup();
    const ca = await makeCa('Fleet CA 4');
    await assert.rejects(cas.registerCaCertificate({ caCertificate: ca.pem }), code('request.invalid'));
    const rec = await cas.registerCaCertificate({ caCertificate: ca.pem, certificateMode: 'SNI_ONLY' });
    assert.equal(rec.certificateMode, 'SNI_ONLY');
    assert.equal(rec.status, 'INACTIVE');
    const notCa = await makeCa('Leafish', { ca: false });
    await assert.rejects(cas.registerCaCertificate({ caCertificate: notCa.pem, certificateMode: 'SNI_ONLY' }), code('certificate.invalid'));
  });

  test('UpdateCACertificate changes status and auto-registration; DeleteCACertificate is refused while ACTIVE', async () => {
    const { cas } = setup();
    const ca = await makeCa('Fleet CA 5');
    const rec = await cas.registerCaCertificate({ caCertificate: ca.pem, certificateMode: 'SNI_ONLY', setAsActive: true });
    assert.throws(() => cas.deleteCaCertificate(rec.certificateId), code('certificate.state'));
    const updated = cas.updateCaCertificate(rec.certificateId, { newStatus: 'INACTIVE', newAutoRegistrationStatus: 'ENABLE' });
    assert.equal(updated.status, 'INACTIVE');
    assert.equal(updated.autoRegistrationStatus, 'ENABLE');
    assert.equal(updated.customerVersion, 2);
    cas.deleteCaCertificate(rec.certificateId);
    assert.throws(() => cas.describeCaCertificate(rec.certificateId), code('certificate.not_found'));
  });
});

describe('RegisterCertificate', () => {
  async function registeredCa(cas: CaCertificateService, name: string, active = true) {
    const ca = await makeCa(name);
    const rec = await cas.registerCaCertificate({ caCertificate: ca.pem, verificationCertificate: await verification(ca, cas.getRegistrationCode()), setAsActive: active });
    return { ca, rec };
  }

  test('a certificate signed by a registered CA registers with that CA id and mode, INACTIVE unless asked', async () => {
    const { certs, cas } = setup();
    const { ca, rec } = await registeredCa(cas, 'Reg CA');
    const leaf = await signLeaf(ca, 'CN=dev-1');
    const cert = await certs.registerCertificate({ certificatePem: leaf.pem });
    assert.equal(cert.caCertificateId, rec.certificateId);
    assert.equal(cert.status, 'INACTIVE');
    assert.equal(cert.origin, 'ca');
    const active = await certs.registerCertificate({ certificatePem: (await signLeaf(ca, 'CN=dev-2')).pem, caCertificatePem: ca.pem, status: 'ACTIVE' });
    assert.equal(active.status, 'ACTIVE');
    assert.equal(certs.listCertificates({ offset: 0, limit: 10, ascending: true }, rec.certificateId).items.length, 2);
  });

  test('a certificate from an unregistered CA is CertificateValidationException', async () => {
    const { certs } = setup();
    const leaf = await signLeaf(await makeCa('Stranger CA'), 'CN=dev');
    await assert.rejects(certs.registerCertificate({ certificatePem: leaf.pem }), code('certificate.invalid'));
  });

  test('an INACTIVE CA cannot register new certificates (CertificateStateException)', async () => {
    const { certs, cas } = setup();
    const { ca } = await registeredCa(cas, 'Sleeping CA', false);
    await assert.rejects(certs.registerCertificate({ certificatePem: (await signLeaf(ca, 'CN=dev')).pem }), code('certificate.state'));
  });

  test('an expired certificate and a status outside ACTIVE/INACTIVE/REVOKED are refused', async () => {
    const { certs, cas } = setup();
    const { ca } = await registeredCa(cas, 'Clock CA');
    const old = await signLeaf(ca, 'CN=old', { notBefore: new Date(Date.now() - 10 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });
    await assert.rejects(certs.registerCertificate({ certificatePem: old.pem }), code('certificate.invalid'));
    await assert.rejects(certs.registerCertificate({ certificatePem: (await signLeaf(ca, 'CN=x')).pem, status: 'PENDING_TRANSFER' }), code('request.invalid'));
  });

  test('RegisterCertificateWithoutCA takes any certificate, in SNI_ONLY mode', async () => {
    const { certs } = setup();
    const rec = certs.registerCertificateWithoutCa({ certificatePem: (await signLeaf(await makeCa('Nobody'), 'CN=free')).pem, status: 'ACTIVE' });
    assert.equal(rec.certificateMode, 'SNI_ONLY');
    assert.equal(rec.origin, 'none');
    assert.equal(rec.caCertificateId, null);
  });
});

describe('thing principals', () => {
  test('attach needs an existing thing and certificate; bindings resolve the connection thing', async () => {
    const { ctx, certs, principals } = setup();
    const events = recordBus(ctx.bus, 'principal.thing.changed');
    const id = (await certs.createKeysAndCertificate(true)).record.certificateId;
    const arn = certificateArn(ctx, id);
    assert.throws(() => principals.attach('ghost', arn), code('thing.not_found'));
    ctx.registry.things.add('lamp-1').add('lamp-2');
    assert.throws(() => principals.attach('lamp-1', arn.replace(id, 'f'.repeat(64))), code('principal.not_found'));
    assert.throws(() => principals.attach('lamp-1', 'not-an-arn'), code('request.invalid'));
    assert.equal(principals.thingOf(id, 'whatever'), null);
    principals.attach('lamp-1', arn);
    principals.attach('lamp-1', arn); // idempotent
    assert.equal(principals.thingOf(id, 'whatever'), 'lamp-1', 'the only bound thing');
    principals.attach('lamp-2', arn);
    assert.equal(principals.thingOf(id, 'lamp-2'), 'lamp-2', 'several: the one named by the client id');
    assert.equal(principals.thingOf(id, 'other'), null, 'several and no match: none');
    assert.deepEqual(principals.listPrincipalThings(arn), ['lamp-1', 'lamp-2']);
    assert.deepEqual(principals.listThingPrincipals('lamp-1'), [arn]);
    assert.deepEqual(events.map((e) => e.payload), [
      { principal: id, thingName: 'lamp-1' },
      { principal: id, thingName: 'lamp-2' },
    ]);
  });

  test('an exclusive binding is the only binding and names the thing whatever the client id', async () => {
    const { ctx, certs, principals } = setup();
    const id = (await certs.createKeysAndCertificate(true)).record.certificateId;
    const arn = certificateArn(ctx, id);
    ctx.registry.things.add('a').add('b');
    principals.attach('a', arn, 'EXCLUSIVE_THING');
    assert.throws(() => principals.attach('b', arn), code('request.invalid'));
    assert.equal(principals.thingOf(id, 'b'), 'a');
  });

  test('a deleted thing loses its bindings (thing.deleted)', async () => {
    const { ctx, certs, principals } = setup();
    const id = (await certs.createKeysAndCertificate(true)).record.certificateId;
    ctx.registry.things.add('gone');
    principals.attach('gone', certificateArn(ctx, id));
    assert.equal(principals.thingOf(id, 'x'), 'gone');
    ctx.registry.things.delete('gone');
    ctx.bus.emit('thing.deleted', { thingName: 'gone' });
    assert.equal(principals.thingOf(id, 'x'), null);
    assert.deepEqual(principals.listPrincipalThings(certificateArn(ctx, id)), []);
  });
});
