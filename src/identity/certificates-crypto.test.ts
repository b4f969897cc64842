import assert from 'node:assert/strict';
import { X509Certificate as NodeX509, createPrivateKey, createPublicKey } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import * as x509 from '@peculiar/x509';
import { loadCa, type CertificateAuthority } from './ca.js';
import {
  ISSUED_SUBJECT,
  certificateIdOf,
  isCaCertificate,
  isSignedBy,
  issueForCsr,
  issueForNewKeyPair,
  parseCertificateDer,
  parseCertificatePem,
  readCsr,
} from './certificates-crypto.js';
import { certificateFacts } from './certificates-facts.js';
import { makeCa, makeCsr, signLeaf, tempDataDir } from './certificates-testkit.js';
import { IdentityError } from './errors.js';

let dir: Awaited<ReturnType<typeof tempDataDir>>;
let ca: CertificateAuthority;
before(async () => {
  dir = await tempDataDir();
  ca = await loadCa(dir.dataDir);
});
after(() => dir.cleanup());

describe('certificate ids', () => {
  test('the certificate id is the lowercase hex SHA-256 of the DER (AWS: 64 hex characters)', async () => {
    const leaf = await signLeaf(await makeCa('Id CA'), 'CN=id-test');
    const parsed = parseCertificatePem(leaf.pem, 'certificatePem');
    const fingerprint = new NodeX509(leaf.pem).fingerprint256.replace(/:/g, '').toLowerCase();
    assert.equal(parsed.certificateId, fingerprint);
    assert.match(parsed.certificateId, /^[0-9a-f]{64}$/);
    assert.equal(certificateIdOf(new NodeX509(leaf.pem).raw), fingerprint);
    assert.equal(parseCertificateDer(new NodeX509(leaf.pem).raw)?.certificateId, fingerprint);
  });

  test('garbage is certificate.invalid naming the field; DER garbage is null', () => {
    assert.throws(() => parseCertificatePem('not a certificate', 'caCertificate'), (e: IdentityError) => e.code === 'certificate.invalid' && /caCertificate/.test(e.message));
    assert.equal(parseCertificateDer(new Uint8Array([1, 2, 3])), null);
  });
});

describe('chain verification', () => {
  test('a certificate verifies against the CA that signed it and not against another CA with the same name', async () => {
    const caA = await makeCa('Chain CA');
    const caB = await makeCa('Chain CA'); // same subject, other key
    const leaf = await signLeaf(caA, 'CN=device-1');
    assert.equal(await isSignedBy(leaf.certificate, caA.certificate), true);
    assert.equal(await isSignedBy(leaf.certificate, caB.certificate), false);
  });

  test('a different issuer name is not a chain even with the right key', async () => {
    const caA = await makeCa('Issuer One');
    const leaf = await signLeaf(caA, 'CN=device-2');
    const renamed = await x509.X509CertificateGenerator.createSelfSigned(
      { name: 'CN=Issuer Two', keys: caA.keys, signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } },
    );
    assert.equal(await isSignedBy(leaf.certificate, renamed), false);
  });

  test('EC CAs and certificates verify too', async () => {
    const ec = await makeCa('EC CA', { kind: 'ec' });
    const leaf = await signLeaf(ec, 'CN=ec-device');
    assert.equal(await isSignedBy(leaf.certificate, ec.certificate), true);
  });

  test('basicConstraints decides what is a CA', async () => {
    assert.equal(isCaCertificate((await makeCa('Real CA')).certificate), true);
    assert.equal(isCaCertificate((await makeCa('Not a CA', { ca: false })).certificate), false);
  });
});

describe('issuing', () => {
  test('CreateKeysAndCertificate material: an RSA 2048 PKCS#1 key whose public half is in a clientAuth certificate signed by the CA', async () => {
    const { issued, keys } = await issueForNewKeyPair(ca, Date.now());
    assert.match(keys.privateKeyPem, /^-----BEGIN RSA PRIVATE KEY-----/);
    assert.match(keys.publicKeyPem, /^-----BEGIN PUBLIC KEY-----/);
    const priv = createPrivateKey(keys.privateKeyPem);
    assert.equal(priv.asymmetricKeyDetails?.modulusLength, 2048);
    const cert = new NodeX509(issued.pem);
    assert.ok(cert.checkPrivateKey(priv));
    assert.ok(cert.publicKey.equals(createPublicKey(keys.publicKeyPem)));
    assert.ok(cert.verify(new NodeX509(ca.certPem).publicKey));
    assert.equal(issued.certificate.subject, ISSUED_SUBJECT);
    assert.deepEqual([...(issued.certificate.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? [])], [x509.ExtendedKeyUsage.clientAuth]);
    assert.equal(issued.certificate.getExtension(x509.BasicConstraintsExtension)?.ca, false);
    assert.ok(issued.certificate.notAfter.getTime() <= ca.certificate.notAfter.getTime(), 'never outlives the CA');
  });

  test('CreateCertificateFromCsr: the CSR signature is verified and its subject and key are kept (RSA and EC keys)', async () => {
    for (const kind of ['rsa', 'ec'] as const) {
      const { csrPem, keyPem } = await makeCsr('CN=sensor-7, O=Acme', kind);
      const csr = await readCsr(csrPem);
      const issued = await issueForCsr(ca, csr, Date.now());
      assert.equal(issued.certificate.subject, 'CN=sensor-7, O=Acme');
      assert.ok(new NodeX509(issued.pem).checkPrivateKey(createPrivateKey(keyPem)), kind);
      assert.equal(await isSignedBy(issued.certificate, ca.certificate), true);
    }
  });

  test('a CSR whose signature does not match its key is refused as request.invalid', async () => {
    const { csrPem } = await makeCsr('CN=tampered');
    const der = Buffer.from(x509.PemConverter.decodeFirst(csrPem));
    der[der.length - 5] ^= 0xff; // flip bits inside the signature
    const bad = x509.PemConverter.encode(der.buffer.slice(der.byteOffset, der.byteOffset + der.length) as ArrayBuffer, 'CERTIFICATE REQUEST');
    await assert.rejects(readCsr(bad), (e: IdentityError) => e.code === 'request.invalid' && /invalid signature/.test(e.message));
    await assert.rejects(readCsr('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----'), (e: IdentityError) => e.code === 'request.invalid');
  });
});

describe('certificate facts', () => {
  test('subject and issuer attributes by AWS name, alternative names, serial and validity', async () => {
    const issuer = await makeCa('Facts CA');
    const leaf = await signLeaf(issuer, 'C=US, O=IoT Devices, OU=LightBulb, ST=NY, CN=LightBulb Device Cert', {
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'example.com' }, { type: 'ip', value: '1.2.3.4' }])],
    });
    const f = certificateFacts(leaf.certificate, 'abc');
    assert.deepEqual(f.subject, { Country: ['US'], Organization: ['IoT Devices'], OrganizationalUnit: ['LightBulb'], State: ['NY'], CommonName: ['LightBulb Device Cert'] });
    assert.deepEqual(f.issuer, { Organization: ['Thingport Tests'], CommonName: ['Facts CA'] });
    assert.deepEqual(f.subjectAlternativeName, { dnsName: ['example.com'], ipAddress: ['1.2.3.4'] });
    assert.equal(f.serialNumber, leaf.certificate.serialNumber.toLowerCase());
    assert.equal(f.notAfter.getTime(), leaf.certificate.notAfter.getTime());
  });
});
