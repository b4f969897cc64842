import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { after, describe, test } from 'node:test';
import * as x509 from '@peculiar/x509';
import { ensureServerCertificates, loadCa } from './ca.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'thingport-ca-'));
  dirs.push(dir);
  return dir;
}

/** Starts a TLS server with the material and connects a client that trusts only `ca`. */
async function handshake(key: string, cert: string, ca: string, servername?: string): Promise<{ authorized: boolean; error?: string }> {
  const server = createServer({ key, cert }, (socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  try {
    return await new Promise((resolve) => {
      const socket: TLSSocket = connect({ host: '127.0.0.1', port, ca, ...(servername ? { servername } : {}) }, () => {
        resolve({ authorized: socket.authorized });
        socket.destroy();
      });
      socket.on('error', (err: NodeJS.ErrnoException) => resolve({ authorized: false, error: err.code ?? err.message }));
    });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('ensureServerCertificates', () => {
  test('creates a root CA and a server certificate that a real TLS handshake verifies for 127.0.0.1 and localhost', async () => {
    const dir = dataDir();
    const tls = await ensureServerCertificates(dir, ['iot.example.test']);
    assert.equal(tls.caFile, join(dir, 'ca', 'root-ca.pem'));
    assert.equal(tls.caKeyFile, join(dir, 'ca', 'root-ca.key'));
    assert.equal(tls.certFile, join(dir, 'ca', 'server.pem'));
    assert.equal(tls.keyFile, join(dir, 'ca', 'server.key'));
    assert.equal(statSync(tls.caKeyFile).mode & 0o777, 0o600);
    assert.equal(statSync(tls.keyFile).mode & 0o777, 0o600);

    assert.deepEqual(await handshake(tls.keyPem, tls.certPem, tls.caPem), { authorized: true });
    assert.deepEqual(await handshake(tls.keyPem, tls.certPem, tls.caPem, 'localhost'), { authorized: true });
    assert.deepEqual(await handshake(tls.keyPem, tls.certPem, tls.caPem, 'iot.example.test'), { authorized: true });
    const wrong = await handshake(tls.keyPem, tls.certPem, tls.caPem, 'elsewhere.example.test');
    assert.equal(wrong.error, 'ERR_TLS_CERT_ALTNAME_INVALID');
  });

  test('the CA is a 10-year critical CA:true certificate for keyCertSign and cRLSign; the server certificate is for serverAuth', async () => {
    const tls = await ensureServerCertificates(dataDir(), []);
    const ca = new x509.X509Certificate(tls.caPem);
    assert.match(ca.subject, /CN=Thingport Root CA [0-9a-f]{8}/);
    const bc = ca.getExtension(x509.BasicConstraintsExtension);
    assert.equal(bc?.ca, true);
    assert.equal(bc?.critical, true);
    assert.equal(ca.getExtension(x509.KeyUsagesExtension)?.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    const years = (ca.notAfter.getTime() - ca.notBefore.getTime()) / (365.25 * 86_400_000);
    assert.ok(years > 9.9 && years < 10.1, `CA lifetime ${years} years`);

    const server = new x509.X509Certificate(tls.certPem);
    assert.equal(server.issuer, ca.subject);
    assert.deepEqual([...(server.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? [])], [x509.ExtendedKeyUsage.serverAuth]);
    const sans = server.getExtension(x509.SubjectAlternativeNameExtension)?.names.items.map((g) => g.value) ?? [];
    for (const name of ['localhost', '127.0.0.1']) assert.ok(sans.includes(name), `SAN ${name} in ${sans.join(', ')}`);
  });

  test('later calls reuse the files; a new host name re-issues the server certificate under the same CA', async () => {
    const dir = dataDir();
    const first = await ensureServerCertificates(dir, ['a.example.test']);
    const again = await ensureServerCertificates(dir, ['a.example.test']);
    assert.equal(again.caPem, first.caPem);
    assert.equal(again.certPem, first.certPem);
    assert.equal(again.keyPem, first.keyPem);

    const widened = await ensureServerCertificates(dir, ['a.example.test', 'b.example.test', '10.1.2.3']);
    assert.equal(widened.caPem, first.caPem);
    assert.notEqual(widened.certPem, first.certPem);
    assert.deepEqual(await handshake(widened.keyPem, widened.certPem, widened.caPem, 'b.example.test'), { authorized: true });
    // A subset of the covered names needs nothing new.
    assert.equal((await ensureServerCertificates(dir, ['b.example.test'])).certPem, widened.certPem);
  });

  test('a server certificate expiring within 30 days is re-issued', async () => {
    const dir = dataDir();
    const tls = await ensureServerCertificates(dir, []);
    const ca = await loadCa(dir);
    const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) };
    const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
    const old = new x509.X509Certificate(tls.certPem);
    const soon = await x509.X509CertificateGenerator.create(
      {
        subject: 'CN=localhost',
        issuer: ca.certificate.subject,
        notBefore: new Date(Date.now() - 86_400_000),
        notAfter: new Date(Date.now() + 10 * 86_400_000),
        publicKey: keys.publicKey,
        signingKey: ca.keys.privateKey,
        signingAlgorithm: alg,
        extensions: [old.getExtension(x509.SubjectAlternativeNameExtension) as x509.Extension],
      },
      webcrypto,
    );
    const keyPem = x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY');
    writeFileSync(tls.certFile, soon.toString('pem'));
    writeFileSync(tls.keyFile, keyPem);

    const renewed = await ensureServerCertificates(dir, []);
    const cert = new x509.X509Certificate(renewed.certPem);
    assert.ok(cert.notAfter.getTime() > Date.now() + 700 * 86_400_000);
    assert.equal(renewed.caPem, tls.caPem);
  });

  test('a half-present CA is an error, not silently replaced', async () => {
    const dir = dataDir();
    const tls = await ensureServerCertificates(dir, []);
    unlinkSync(tls.caKeyFile);
    await assert.rejects(ensureServerCertificates(dir, []), /root CA .* is incomplete/);
  });
});

describe('loadCa', () => {
  test('returns the CA certificate and a key pair whose private key signs certificates the CA verifies', async () => {
    const dir = dataDir();
    const tls = await ensureServerCertificates(dir, []);
    const ca = await loadCa(dir);
    assert.equal(ca.certPem, tls.caPem);
    assert.equal(ca.keys.privateKey.type, 'private');
    const data = new TextEncoder().encode('device certificate');
    const signature = await webcrypto.subtle.sign('RSASSA-PKCS1-v1_5', ca.keys.privateKey, data);
    assert.ok(await webcrypto.subtle.verify('RSASSA-PKCS1-v1_5', ca.keys.publicKey, signature, data));
  });

  test('throws a clear error before the CA exists', async () => {
    await assert.rejects(loadCa(dataDir()), /no root CA in .* yet/);
  });
});
