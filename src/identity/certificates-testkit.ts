/**
 * Test fixtures for the identity tests (imported by *.test.ts only): CAs, certificates and CSRs
 * made with @peculiar/x509, fakes of the messaging API and the registry, a temporary data directory
 * with Thingport's root CA, and an in-memory identity context.
 */
import { webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { EventBus, openDatabase, type BusEventName, type BusEvents, type ClientInfo, type Messaging, type PublishInput } from '../core/index.js';
import { createLogger } from '../lib/index.js';
import { ensureServerCertificates, loadCa } from './ca.js';
import type { CertificateContext, ThingDirectory } from './certificates-context.js';
import { createSqliteIdentityStore } from './store-sqlite.js';

const crypto = webcrypto;
const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) } as const;
const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

export interface KeyMaterial {
  keys: webcrypto.CryptoKeyPair;
  keyPem: string;
}

export async function newKeys(kind: 'rsa' | 'ec' = 'rsa'): Promise<KeyMaterial> {
  const keys = (await crypto.subtle.generateKey(kind === 'rsa' ? RSA : EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const keyPem = x509.PemConverter.encode(await crypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY');
  return { keys, keyPem };
}

export interface TestCa extends KeyMaterial {
  certificate: x509.X509Certificate;
  pem: string;
}

/** A self-signed CA certificate (CA:TRUE) with a fresh key. */
export async function makeCa(name: string, opts: { kind?: 'rsa' | 'ec'; ca?: boolean } = {}): Promise<TestCa> {
  const km = await newKeys(opts.kind);
  const alg = opts.kind === 'ec' ? EC : RSA;
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name: `CN=${name}, O=Thingport Tests`,
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + 365 * DAY),
      keys: km.keys,
      signingAlgorithm: alg,
      extensions: [new x509.BasicConstraintsExtension(opts.ca !== false, undefined, true)],
    },
    crypto,
  );
  return { ...km, certificate, pem: certificate.toString('pem') };
}

/** A certificate for `subject` signed by `issuer` (a fresh key unless given). */
export async function signLeaf(
  issuer: TestCa,
  subject: string,
  opts: { keys?: KeyMaterial; notBefore?: Date; notAfter?: Date; extensions?: x509.Extension[] } = {},
): Promise<{ pem: string; keyPem: string; certificate: x509.X509Certificate }> {
  const km = opts.keys ?? (await newKeys());
  const certificate = await x509.X509CertificateGenerator.create(
    {
      subject,
      issuer: issuer.certificate.subjectName,
      notBefore: opts.notBefore ?? new Date(Date.now() - DAY),
      notAfter: opts.notAfter ?? new Date(Date.now() + 30 * DAY),
      publicKey: km.keys.publicKey,
      signingKey: issuer.keys.privateKey,
      signingAlgorithm: issuer.keys.privateKey.algorithm.name === 'ECDSA' ? EC : RSA,
      extensions: opts.extensions ?? [new x509.BasicConstraintsExtension(false, undefined, true)],
    },
    crypto,
  );
  return { pem: certificate.toString('pem'), keyPem: km.keyPem, certificate };
}

/** A PKCS#10 CSR for `subject` with a fresh key of `kind`. */
export async function makeCsr(subject: string, kind: 'rsa' | 'ec' = 'rsa'): Promise<{ csrPem: string; keyPem: string }> {
  const km = await newKeys(kind);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: subject, keys: km.keys, signingAlgorithm: kind === 'rsa' ? RSA : EC }, crypto);
  return { csrPem: csr.toString('pem'), keyPem: km.keyPem };
}

/** A temporary data directory with Thingport's root CA; `cleanup` removes it. */
export async function tempDataDir(): Promise<{ dataDir: string; caPem: string; serverKeyPem: string; serverCertPem: string; cleanup: () => void }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'thingport-identity-'));
  const tls = await ensureServerCertificates(dataDir, []);
  return { dataDir, caPem: tls.caPem, serverKeyPem: tls.keyPem, serverCertPem: tls.certPem, cleanup: () => rmSync(dataDir, { recursive: true, force: true }) };
}

/** A Messaging that records what the services ask of it. */
export class FakeMessaging implements Messaging {
  readonly published: PublishInput[] = [];
  readonly clients: ClientInfo[] = [];
  disconnected: string[] = [];
  publish(input: PublishInput): Promise<void> {
    this.published.push(input);
    return Promise.resolve();
  }
  subscribe(): () => void {
    return () => {};
  }
  deliverDirect(): boolean {
    return false;
  }
  disconnectClient(): boolean {
    return false;
  }
  disconnectWhere(match: (client: ClientInfo) => boolean): number {
    const hit = this.clients.filter(match);
    this.disconnected.push(...hit.map((c) => c.clientId));
    return hit.length;
  }
  describeClient(): null {
    return null;
  }
}

/** A registry of thing names only. */
export class FakeRegistry implements ThingDirectory {
  readonly things = new Set<string>();
  getThing(thingName: string): { thingName: string } | null {
    return this.things.has(thingName) ? { thingName } : null;
  }
}

/** Records bus events by name. */
export function recordBus(bus: EventBus, ...names: BusEventName[]): Array<{ event: BusEventName; payload: BusEvents[BusEventName] }> {
  const seen: Array<{ event: BusEventName; payload: BusEvents[BusEventName] }> = [];
  for (const event of names) bus.on(event, (payload) => seen.push({ event, payload }));
  return seen;
}

/** An identity context on an in-memory database, with Thingport's CA from `dataDir`. */
export function memoryContext(dataDir: string, now: () => number = Date.now): CertificateContext & { messaging: FakeMessaging; registry: FakeRegistry } {
  const db = openDatabase(':memory:');
  return {
    store: createSqliteIdentityStore(db),
    bus: new EventBus((err) => {
      throw err;
    }),
    messaging: new FakeMessaging(),
    registry: new FakeRegistry(),
    region: 'eu-west-1',
    accountId: '123456789012',
    logger: createLogger('silent'),
    now,
    signingCa: () => loadCa(dataDir),
    policyTargets: null,
  };
}

/** A ClientInfo for fake connections. */
export function clientInfo(clientId: string, principal: string | null): ClientInfo {
  return { clientId, username: null, remoteAddress: '127.0.0.1', transport: 'tls', protocolVersion: 5, principal, thingName: null, authContext: null, sessionIdentifier: 'x' };
}
