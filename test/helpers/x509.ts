/**
 * X.509 material for black-box identity tests, made with @peculiar/x509 on Node's WebCrypto: your
 * own CA (as an operator who brings one would have), device certificates it signs, the
 * verification certificate RegisterCACertificate asks for, and CSRs. Keys are PKCS#8 PEM, which
 * mqtt.js (Node TLS) takes as `key`.
 */
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

const crypto = webcrypto;
const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) } as const;
const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

export type KeyKind = 'rsa' | 'ec';

export interface KeyMaterial {
  keys: webcrypto.CryptoKeyPair;
  /** PKCS#8 PEM. */
  keyPem: string;
}

export interface TestCa extends KeyMaterial {
  certificate: x509.X509Certificate;
  pem: string;
}

export interface Leaf {
  pem: string;
  keyPem: string;
  certificate: x509.X509Certificate;
}

export async function newKeys(kind: KeyKind = 'ec'): Promise<KeyMaterial> {
  const keys = (await crypto.subtle.generateKey(kind === 'rsa' ? RSA : EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const keyPem = x509.PemConverter.encode(await crypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY');
  return { keys, keyPem };
}

const algorithmOf = (key: webcrypto.CryptoKey): typeof RSA | typeof EC => (key.algorithm.name === 'ECDSA' ? EC : RSA);

/** A self-signed CA certificate (basicConstraints CA:TRUE) with a fresh key. */
export async function makeCa(commonName: string, kind: KeyKind = 'ec'): Promise<TestCa> {
  const km = await newKeys(kind);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name: `CN=${commonName}, O=Thingport Tests`,
      serialNumber: randomSerial(),
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + 365 * DAY),
      keys: km.keys,
      signingAlgorithm: algorithmOf(km.keys.privateKey),
      extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
    },
    crypto,
  );
  return { ...km, certificate, pem: certificate.toString('pem') };
}

/** A certificate for `subject` (e.g. `CN=device-1`) signed by `issuer`, with a fresh key unless given. */
export async function signLeaf(issuer: TestCa, subject: string, opts: { keys?: KeyMaterial; kind?: KeyKind } = {}): Promise<Leaf> {
  const km = opts.keys ?? (await newKeys(opts.kind));
  const certificate = await x509.X509CertificateGenerator.create(
    {
      subject,
      issuer: issuer.certificate.subjectName,
      serialNumber: randomSerial(),
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + 30 * DAY),
      publicKey: km.keys.publicKey,
      signingKey: issuer.keys.privateKey,
      signingAlgorithm: algorithmOf(issuer.keys.privateKey),
      extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
    },
    crypto,
  );
  return { pem: certificate.toString('pem'), keyPem: km.keyPem, certificate };
}

/** A self-signed end-entity certificate (for RegisterCertificateWithoutCA). */
export async function selfSigned(commonName: string): Promise<Leaf> {
  const km = await newKeys('ec');
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name: `CN=${commonName}`,
      serialNumber: randomSerial(),
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + 30 * DAY),
      keys: km.keys,
      signingAlgorithm: EC,
      extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
    },
    crypto,
  );
  return { pem: certificate.toString('pem'), keyPem: km.keyPem, certificate };
}

/**
 * The proof of key possession RegisterCACertificate wants: a certificate signed by the CA's key
 * whose common name is the registration code (GetRegistrationCode).
 */
export function verificationCertificate(ca: TestCa, registrationCode: string): Promise<Leaf> {
  return signLeaf(ca, `CN=${registrationCode}`);
}

/** A PKCS#10 certificate signing request for `subject` with a fresh key. */
export async function makeCsr(subject: string, kind: KeyKind = 'ec'): Promise<{ csrPem: string; keyPem: string }> {
  const km = await newKeys(kind);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: subject, keys: km.keys, signingAlgorithm: algorithmOf(km.keys.privateKey) }, crypto);
  return { csrPem: csr.toString('pem'), keyPem: km.keyPem };
}

/** Parses a PEM certificate (to read its subject, issuer, DER...). */
export function parseCertificate(pem: string): x509.X509Certificate {
  return new x509.X509Certificate(pem);
}

/** True when `issuerPem`'s key signed `pem`. */
export async function isSignedBy(pem: string, issuerPem: string): Promise<boolean> {
  const issuer = new x509.X509Certificate(issuerPem);
  return new x509.X509Certificate(pem).verify({ publicKey: issuer.publicKey, signatureOnly: true }, crypto);
}

function randomSerial(): string {
  // Positive (leading byte below 0x80), 16 bytes.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[0] = b[0]! & 0x7f;
  return Buffer.from(b).toString('hex');
}
