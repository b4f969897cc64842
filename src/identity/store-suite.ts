/**
 * The conformance suite every IdentityStore adapter runs (STYLE.md #5): `identityStoreSuite('sqlite',
 * () => createSqliteIdentityStore(openDatabase(':memory:')))` from the adapter's test file.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AccessKeyRecord, CaCertificateRecord, CertificateRecord, IdentityStore } from './store.js';

const id = (n: number): string => n.toString(16).padStart(64, '0');

function cert(n: number, over: Partial<CertificateRecord> = {}): CertificateRecord {
  return {
    certificateId: id(n),
    certificatePem: `pem-${n}`,
    status: 'ACTIVE',
    origin: 'thingport',
    caCertificateId: null,
    certificateMode: 'DEFAULT',
    createdAt: 1_000 + n,
    lastModifiedAt: 1_000 + n,
    customerVersion: 1,
    generationId: `g${n}`,
    notBefore: 0,
    notAfter: 9e12,
    ...over,
  };
}

function ca(n: number, over: Partial<CaCertificateRecord> = {}): CaCertificateRecord {
  return {
    certificateId: id(1000 + n),
    certificatePem: `ca-pem-${n}`,
    status: 'ACTIVE',
    autoRegistrationStatus: 'DISABLE',
    certificateMode: 'DEFAULT',
    registrationConfig: null,
    subject: `CN=CA ${n}`,
    createdAt: 2_000 + n,
    lastModifiedAt: 2_000 + n,
    customerVersion: 1,
    generationId: `cg${n}`,
    notBefore: 0,
    notAfter: 9e12,
    ...over,
  };
}

export function identityStoreSuite(name: string, open: () => IdentityStore): void {
  describe(`IdentityStore conformance: ${name}`, () => {
    test('certificates: insert once, get, update, delete', () => {
      const s = open();
      assert.equal(s.insertCertificate(cert(1)), true);
      assert.equal(s.insertCertificate(cert(1, { status: 'INACTIVE' })), false, 'an existing id is not replaced');
      assert.deepEqual(s.getCertificate(id(1)), cert(1));
      assert.equal(s.updateCertificate({ ...cert(1), status: 'REVOKED', customerVersion: 2, generationId: 'g1b', lastModifiedAt: 5_000 }), true);
      assert.deepEqual(s.getCertificate(id(1)), { ...cert(1), status: 'REVOKED', customerVersion: 2, generationId: 'g1b', lastModifiedAt: 5_000 });
      assert.equal(s.updateCertificate(cert(2)), false);
      assert.equal(s.deleteCertificate(id(1)), true);
      assert.equal(s.deleteCertificate(id(1)), false);
      assert.equal(s.getCertificate(id(1)), null);
    });

    test('certificates: listed by creation date in both orders, windowed, by CA, counted', () => {
      const s = open();
      for (const n of [3, 1, 2]) s.insertCertificate(cert(n, n === 2 ? { caCertificateId: id(1001), origin: 'ca' } : {}));
      const asc = s.listCertificates({ offset: 0, limit: 10, ascending: true }).map((c) => c.certificateId);
      assert.deepEqual(asc, [id(1), id(2), id(3)]);
      assert.deepEqual(s.listCertificates({ offset: 1, limit: 1, ascending: false }).map((c) => c.certificateId), [id(2)]);
      assert.deepEqual(s.listCertificates({ offset: 0, limit: 10, ascending: true }, id(1001)).map((c) => c.certificateId), [id(2)]);
      assert.equal(s.countCertificates(), 3);
      assert.equal(s.countCertificates(id(1001)), 1);
    });

    test('CA certificates: insert once, update, list, find by subject, delete', () => {
      const s = open();
      assert.equal(s.insertCaCertificate(ca(1, { registrationConfig: { templateBody: '{}', roleArn: 'arn:r' } })), true);
      assert.equal(s.insertCaCertificate(ca(1)), false);
      s.insertCaCertificate(ca(2, { subject: 'CN=CA 1' }));
      assert.deepEqual(s.getCaCertificate(id(1001))?.registrationConfig, { templateBody: '{}', roleArn: 'arn:r' });
      assert.deepEqual(s.findCaCertificatesBySubject('CN=CA 1').map((c) => c.certificateId), [id(1001), id(1002)]);
      const updated = { ...ca(1), status: 'INACTIVE' as const, autoRegistrationStatus: 'ENABLE' as const, customerVersion: 2 };
      assert.equal(s.updateCaCertificate(updated), true);
      assert.deepEqual(s.getCaCertificate(id(1001)), updated);
      assert.deepEqual(s.listCaCertificates({ offset: 0, limit: 5, ascending: false }).map((c) => c.certificateId), [id(1002), id(1001)]);
      assert.equal(s.deleteCaCertificate(id(1001)), true);
      assert.equal(s.getCaCertificate(id(1001)), null);
    });

    test('thing principals: attach (new or retyped), list both ways, detach, drop a thing', () => {
      const s = open();
      assert.equal(s.attachThingPrincipal({ thingName: 'a', certificateId: id(1), type: 'NON_EXCLUSIVE_THING', createdAt: 1 }), true);
      assert.equal(s.attachThingPrincipal({ thingName: 'a', certificateId: id(1), type: 'EXCLUSIVE_THING', createdAt: 9 }), false);
      s.attachThingPrincipal({ thingName: 'b', certificateId: id(1), type: 'NON_EXCLUSIVE_THING', createdAt: 2 });
      s.attachThingPrincipal({ thingName: 'a', certificateId: id(2), type: 'NON_EXCLUSIVE_THING', createdAt: 3 });
      assert.deepEqual(s.listPrincipalThings(id(1)), [
        { thingName: 'a', certificateId: id(1), type: 'EXCLUSIVE_THING', createdAt: 1 },
        { thingName: 'b', certificateId: id(1), type: 'NON_EXCLUSIVE_THING', createdAt: 2 },
      ]);
      assert.deepEqual(s.listThingPrincipals('a').map((b) => b.certificateId), [id(1), id(2)]);
      assert.equal(s.detachThingPrincipal('b', id(1)), true);
      assert.equal(s.detachThingPrincipal('b', id(1)), false);
      assert.deepEqual(s.deleteThingPrincipals('a').sort(), [id(1), id(2)]);
      assert.deepEqual(s.listPrincipalThings(id(1)), []);
    });

    test('access keys: insert once, revoke once, list by creation', () => {
      const s = open();
      const key = (n: number): AccessKeyRecord => ({ accessKeyId: `AKIA${n}`, secretAccessKey: `s${n}`, name: `k${n}`, createdAt: n, status: 'ACTIVE', revokedAt: null });
      assert.equal(s.insertAccessKey(key(2)), true);
      assert.equal(s.insertAccessKey({ ...key(2), secretAccessKey: 'other' }), false);
      s.insertAccessKey(key(1));
      assert.deepEqual(s.getAccessKey('AKIA2'), key(2));
      assert.equal(s.revokeAccessKey('AKIA2', 50), true);
      assert.equal(s.revokeAccessKey('AKIA2', 60), false);
      assert.equal(s.revokeAccessKey('AKIA9', 60), false);
      assert.deepEqual(s.getAccessKey('AKIA2'), { ...key(2), status: 'REVOKED', revokedAt: 50 });
      assert.deepEqual(s.listAccessKeys().map((k) => k.accessKeyId), ['AKIA1', 'AKIA2']);
    });

    test('settings: set once, then kept', () => {
      const s = open();
      assert.equal(s.getSetting('registrationCode'), null);
      assert.equal(s.setSettingIfAbsent('registrationCode', 'one'), 'one');
      assert.equal(s.setSettingIfAbsent('registrationCode', 'two'), 'one');
      assert.equal(s.getSetting('registrationCode'), 'one');
    });
  });
}
