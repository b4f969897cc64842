/**
 * X.509 work for device certificates, on @peculiar/x509 with Node's WebCrypto: parsing PEM,
 * certificate ids, issuing certificates from Thingport's CA (for new key pairs and for CSRs),
 * checking who signed a certificate, and the facts policies read (`${iot:Certificate.*}`).
 *
 * Chains are checked one link deep: a device certificate must be signed directly by Thingport's
 * CA or by a registered CA (intermediate CAs are registered like roots, as AWS IoT does).
 */
import { createHash, generateKeyPair, webcrypto } from 'node:crypto';
import { promisify } from 'node:util';
import * as x509 from '@peculiar/x509';
import { IdentityError } from './errors.js';

const crypto = webcrypto;
const generateKeyPairAsync = promisify(generateKeyPair);

/** What Thingport's RSA CA signs with: RSASSA-PKCS1-v1_5 over SHA-256. */
const RSA_SIGNING = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;

/**
 * AWS IoT issues CreateKeysAndCertificate certificates with this subject and makes them valid until
 * 2049-12-31T23:59:59Z; Thingport does the same (capped at its CA's own expiry), so policies that
 * read `${iot:Certificate.Subject.CommonName}` behave alike.
 */
export const ISSUED_SUBJECT = 'CN=AWS IoT Certificate';
const ISSUED_NOT_AFTER = Date.UTC(2049, 11, 31, 23, 59, 59);
/** Back-dated a little, so a device whose clock runs slow accepts a fresh certificate. */
const CLOCK_SKEW_MS = 5 * 60_000;

/** The signing half of a CA (Thingport's root CA). */
export interface SigningCa {
  certificate: x509.X509Certificate;
  keys: webcrypto.CryptoKeyPair;
}

export interface ParsedCertificate {
  certificate: x509.X509Certificate;
  /** Lowercase hex SHA-256 of the DER encoding: the AWS IoT certificate id. */
  certificateId: string;
  /** Normalised PEM (one certificate, `\n` line ends). */
  pem: string;
}

/** The certificate id AWS IoT uses: lowercase hex SHA-256 of the DER bytes. */
export function certificateIdOf(der: Uint8Array | ArrayBuffer): string {
  return createHash('sha256')
    .update(der instanceof ArrayBuffer ? new Uint8Array(der) : der)
    .digest('hex');
}

/**
 * Parses the first certificate of a PEM text. Throws `certificate.invalid` naming `field` when the
 * text holds no parseable certificate.
 */
export function parseCertificatePem(pem: string, field: string): ParsedCertificate {
  let certificate: x509.X509Certificate;
  try {
    const der = x509.PemConverter.decodeFirst(pem);
    certificate = new x509.X509Certificate(der);
  } catch (err) {
    throw new IdentityError('certificate.invalid', `${field} is not a PEM-encoded X.509 certificate`, { cause: err });
  }
  return { certificate, certificateId: certificateIdOf(certificate.rawData), pem: certificate.toString('pem') };
}

/** Parses DER bytes (a TLS peer certificate), or null when they are not a certificate. */
export function parseCertificateDer(der: Uint8Array): ParsedCertificate | null {
  try {
    const certificate = new x509.X509Certificate(der);
    return { certificate, certificateId: certificateIdOf(der), pem: certificate.toString('pem') };
  } catch {
    return null;
  }
}

/** True when `issuer`'s key made `cert`'s signature (and the names chain). */
export async function isSignedBy(cert: x509.X509Certificate, issuer: x509.X509Certificate): Promise<boolean> {
  if (cert.issuer !== issuer.subject) return false;
  try {
    return await cert.verify({ publicKey: issuer.publicKey, signatureOnly: true }, crypto);
  } catch {
    return false; // unsupported or mismatched key algorithm
  }
}

/** True when the certificate may sign others: basicConstraints CA:TRUE (or a v1 self-signed root). */
export function isCaCertificate(cert: x509.X509Certificate): boolean {
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  if (bc !== null) return bc.ca;
  return cert.extensions.length === 0 && cert.subject === cert.issuer; // X.509 v1 roots carry no extensions
}

/** True when `now` lies within the certificate's validity period. */
export function isWithinValidity(cert: x509.X509Certificate, now: number): boolean {
  return cert.notBefore.getTime() <= now && now <= cert.notAfter.getTime();
}

export interface DeviceKeyPair {
  /** SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`), as AWS returns it. */
  publicKeyPem: string;
  /** PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`), as AWS returns it. */
  privateKeyPem: string;
}

/** A fresh RSA 2048 key pair (generated off the event loop). */
export async function generateDeviceKeyPair(): Promise<DeviceKeyPair> {
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', {
    modulusLength: 2048,
    publicExponent: 0x10001,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}

/**
 * Issues a client certificate for `publicKey` (SPKI DER, PEM, or a CSR's key) signed by `ca`:
 * CA:FALSE, digitalSignature + keyEncipherment, extended key usage clientAuth.
 */
export async function issueDeviceCertificate(
  ca: SigningCa,
  publicKey: x509.PublicKey | ArrayBuffer,
  subject: string | x509.Name,
  now: number,
): Promise<ParsedCertificate> {
  const spki = publicKey instanceof x509.PublicKey ? publicKey : new x509.PublicKey(publicKey);
  const certificate = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerial(),
      subject,
      issuer: ca.certificate.subjectName,
      notBefore: new Date(now - CLOCK_SKEW_MS),
      notAfter: new Date(Math.min(ISSUED_NOT_AFTER, ca.certificate.notAfter.getTime())),
      publicKey: spki,
      signingKey: ca.keys.privateKey,
      signingAlgorithm: RSA_SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
        await x509.SubjectKeyIdentifierExtension.create(spki, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { certificate, certificateId: certificateIdOf(certificate.rawData), pem: certificate.toString('pem') };
}

/** Issues a certificate for a fresh key pair (CreateKeysAndCertificate). */
export async function issueForNewKeyPair(ca: SigningCa, now: number): Promise<{ issued: ParsedCertificate; keys: DeviceKeyPair }> {
  const keys = await generateDeviceKeyPair();
  const issued = await issueDeviceCertificate(ca, x509.PemConverter.decodeFirst(keys.publicKeyPem), ISSUED_SUBJECT, now);
  return { issued, keys };
}

/**
 * Parses a PKCS#10 CSR and checks its self-signature (proof that the requester holds the key).
 * Throws `request.invalid` when it is not a CSR or the signature does not verify.
 */
export async function readCsr(pem: string): Promise<x509.Pkcs10CertificateRequest> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(x509.PemConverter.decodeFirst(pem));
  } catch (err) {
    throw new IdentityError('request.invalid', 'certificateSigningRequest is not a PEM-encoded PKCS#10 certificate signing request', { cause: err });
  }
  let ok = false;
  try {
    ok = await csr.verify(crypto);
  } catch {
    ok = false; // unsupported key or signature algorithm
  }
  if (!ok) throw new IdentityError('request.invalid', 'certificateSigningRequest has an invalid signature: it was not signed with the key it contains');
  return csr;
}

/** Issues a certificate for a verified CSR, keeping its subject (AWS's generic subject when it has none). */
export async function issueForCsr(ca: SigningCa, csr: x509.Pkcs10CertificateRequest, now: number): Promise<ParsedCertificate> {
  const subject = csr.subjectName.toJSON().length > 0 ? csr.subjectName : ISSUED_SUBJECT;
  return issueDeviceCertificate(ca, csr.publicKey, subject, now);
}

/** PEM of a certificate's DER bytes. */
export function derToPem(der: Uint8Array): string {
  return x509.PemConverter.encode(der.buffer.slice(der.byteOffset, der.byteOffset + der.byteLength) as ArrayBuffer, 'CERTIFICATE');
}

/** 16 random bytes, positive and full length as a DER integer. */
function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0]! & 0x7f) | 0x10;
  return Buffer.from(bytes).toString('hex');
}
