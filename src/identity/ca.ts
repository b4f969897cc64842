/**
 * The private root CA and the server certificate, kept under `<dataDir>/ca/`.
 *
 * The CA is created once and never replaced automatically: devices and clients come to trust
 * it, so a half-present CA (certificate without key, or the reverse) is an error for a person
 * to resolve, not something to paper over with a new CA. The server certificate is cheap and
 * is re-issued whenever it no longer fits (names, expiry, CA, key).
 */
import { randomBytes, webcrypto } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { fileExists, writeFileAtomic } from './files.js';
import { coversNames, serverNames, toGeneralNames } from './names.js';

/** Node's WebCrypto, passed to every x509 call so nothing depends on the library's global provider. */
const crypto = webcrypto;
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

/** RSA with PKCS#1 v1.5 signatures over SHA-256: what every TLS stack and embedded SDK accepts. */
const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;
const RSA_GENERATE = { ...RSA, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) };

const DAY_MS = 86_400_000;
const CA_LIFETIME_DAYS = 3_652; // 10 years
const SERVER_LIFETIME_DAYS = 730; // 2 years
/** Re-issue the server certificate this long before it expires, so a running server never serves an expired one for long. */
const RENEW_BEFORE_DAYS = 30;
/** Back-date notBefore a little: a client whose clock runs behind would otherwise reject a fresh certificate. */
const CLOCK_SKEW_MS = 5 * 60_000;

export interface ServerCertificates {
  /** PEM file of the root CA certificate: what clients pass as their CA. */
  caFile: string;
  /** PEM file of the server certificate. */
  certFile: string;
  /** PEM file (PKCS#8) of the server's private key. */
  keyFile: string;
  caPem: string;
  certPem: string;
  keyPem: string;
  /** PEM file (PKCS#8, mode 0600) of the CA's private key. */
  caKeyFile: string;
}

export interface CertificateAuthority {
  certificate: x509.X509Certificate;
  certPem: string;
  /** RSASSA-PKCS1-v1_5 / SHA-256 keys; `privateKey` signs certificates. */
  keys: CryptoKeyPair;
  certFile: string;
  keyFile: string;
}

interface CaPaths {
  dir: string;
  caFile: string;
  caKeyFile: string;
  certFile: string;
  keyFile: string;
}

function caPaths(dataDir: string): CaPaths {
  const dir = join(dataDir, 'ca');
  return {
    dir,
    caFile: join(dir, 'root-ca.pem'),
    caKeyFile: join(dir, 'root-ca.key'),
    certFile: join(dir, 'server.pem'),
    keyFile: join(dir, 'server.key'),
  };
}

/**
 * Returns the server's TLS material, creating the root CA on first use and (re-)issuing the
 * server certificate when it is missing, expires within 30 days, was not issued by the CA,
 * does not match its key, or does not cover localhost, 127.0.0.1, ::1, this host's name and
 * every name in `hostnames`.
 */
export async function ensureServerCertificates(dataDir: string, hostnames: readonly string[]): Promise<ServerCertificates> {
  const paths = caPaths(dataDir);
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  const ca = (await fileExists(paths.caFile)) || (await fileExists(paths.caKeyFile)) ? await loadCa(dataDir) : await createCa(paths);
  const names = serverNames([hostname(), ...hostnames]);

  let server = await readServer(paths);
  if (!server || !(await serverStillFits(server, ca, names, new Date()))) {
    server = await issueServer(paths, ca, names, hostnames);
  }
  return {
    caFile: paths.caFile,
    certFile: paths.certFile,
    keyFile: paths.keyFile,
    caPem: ca.certPem,
    certPem: server.certPem,
    keyPem: server.keyPem,
    caKeyFile: paths.caKeyFile,
  };
}

/**
 * Loads the root CA (certificate and key pair) created by ensureServerCertificates, for
 * signing device certificates. Throws when either file is missing or they do not belong together.
 */
export async function loadCa(dataDir: string): Promise<CertificateAuthority> {
  const paths = caPaths(dataDir);
  const [haveCert, haveKey] = await Promise.all([fileExists(paths.caFile), fileExists(paths.caKeyFile)]);
  if (!haveCert && !haveKey) throw new Error(`no root CA in ${paths.dir} yet; \`thingport serve\` creates it on first start`);
  if (!haveCert || !haveKey) {
    throw new Error(
      `the root CA in ${paths.dir} is incomplete: ${haveCert ? 'root-ca.key' : 'root-ca.pem'} is missing ` +
        `(restore it from a backup, or move the folder away to create a new CA that devices must then trust)`,
    );
  }
  const [certPem, keyPem] = await Promise.all([readFile(paths.caFile, 'utf8'), readFile(paths.caKeyFile, 'utf8')]);
  const certificate = new x509.X509Certificate(certPem);
  const privateKey = await importPrivateKey(keyPem);
  const publicKey = await certificate.publicKey.export(RSA, ['verify'], crypto);
  if (!(await keysMatch(privateKey, publicKey))) {
    throw new Error(`the root CA in ${paths.dir} is inconsistent: root-ca.key is not the key of root-ca.pem`);
  }
  return { certificate, certPem, keys: { privateKey, publicKey }, certFile: paths.caFile, keyFile: paths.caKeyFile };
}

async function createCa(paths: CaPaths): Promise<CertificateAuthority> {
  const keys = await generateKeys();
  const now = Date.now();
  // A random suffix tells apart the CAs of different installations in a trust store.
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerial(),
      name: `CN=Thingport Root CA ${randomBytes(4).toString('hex')}, O=Thingport`,
      notBefore: new Date(now - CLOCK_SKEW_MS),
      notAfter: new Date(now + CA_LIFETIME_DAYS * DAY_MS),
      keys,
      signingAlgorithm: RSA,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  const certPem = certificate.toString('pem');
  // Key first: a crash between the writes leaves a key without a certificate, which loadCa reports.
  await writeFileAtomic(paths.caKeyFile, await exportPrivateKey(keys.privateKey), 0o600);
  await writeFileAtomic(paths.caFile, certPem, 0o644);
  return { certificate, certPem, keys, certFile: paths.caFile, keyFile: paths.caKeyFile };
}

interface ServerMaterial {
  certificate: x509.X509Certificate;
  certPem: string;
  keyPem: string;
}

async function readServer(paths: CaPaths): Promise<ServerMaterial | null> {
  try {
    const [certPem, keyPem] = await Promise.all([readFile(paths.certFile, 'utf8'), readFile(paths.keyFile, 'utf8')]);
    return { certificate: new x509.X509Certificate(certPem), certPem, keyPem };
  } catch {
    return null; // missing or unreadable: issue a new one
  }
}

async function serverStillFits(server: ServerMaterial, ca: CertificateAuthority, names: readonly string[], now: Date): Promise<boolean> {
  const cert = server.certificate;
  if (cert.notAfter.getTime() - now.getTime() < RENEW_BEFORE_DAYS * DAY_MS) return false;
  if (cert.notBefore.getTime() > now.getTime() + CLOCK_SKEW_MS) return false;
  if (cert.issuer !== ca.certificate.subject) return false;
  if (!(await cert.verify({ publicKey: ca.certificate.publicKey, signatureOnly: true }, crypto))) return false;
  if (!coversNames(cert.getExtension(x509.SubjectAlternativeNameExtension), names)) return false;
  try {
    const publicKey = await cert.publicKey.export(RSA, ['verify'], crypto);
    return await keysMatch(await importPrivateKey(server.keyPem), publicKey);
  } catch {
    return false; // unparsable key
  }
}

async function issueServer(
  paths: CaPaths,
  ca: CertificateAuthority,
  names: readonly string[],
  requested: readonly string[],
): Promise<ServerMaterial> {
  const keys = await generateKeys();
  const now = Date.now();
  // Clients check the SANs; the CN is for people reading the certificate.
  const commonName = requested.find((n) => /^[a-z0-9.*-]+$/i.test(n)) ?? 'localhost';
  const certificate = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerial(),
      subject: `CN=${commonName}, O=Thingport`,
      issuer: ca.certificate.subject,
      notBefore: new Date(now - CLOCK_SKEW_MS),
      notAfter: new Date(now + SERVER_LIFETIME_DAYS * DAY_MS),
      publicKey: keys.publicKey,
      signingKey: ca.keys.privateKey,
      signingAlgorithm: RSA,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension(toGeneralNames(names), false),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  const certPem = certificate.toString('pem');
  const keyPem = await exportPrivateKey(keys.privateKey);
  await writeFileAtomic(paths.keyFile, keyPem, 0o600);
  await writeFileAtomic(paths.certFile, certPem, 0o644);
  return { certificate, certPem, keyPem };
}

async function generateKeys(): Promise<CryptoKeyPair> {
  // Extractable so the private key can be written to disk once.
  return (await crypto.subtle.generateKey(RSA_GENERATE, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function exportPrivateKey(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await crypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

async function importPrivateKey(pem: string): Promise<CryptoKey> {
  return crypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(pem), RSA, true, ['sign']);
}

/** True when the private key belongs to the public key (same RSA modulus). */
async function keysMatch(privateKey: CryptoKey, publicKey: CryptoKey): Promise<boolean> {
  const [priv, pub] = await Promise.all([crypto.subtle.exportKey('jwk', privateKey), crypto.subtle.exportKey('jwk', publicKey)]);
  return priv.n !== undefined && priv.n === pub.n;
}

/** 16 random bytes: top bit clear so the DER integer is positive, first byte non-zero so it keeps its length. */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] & 0x7f) | 0x10;
  return bytes.toString('hex');
}
