// MQTT over WebSocket with SigV4 end to end: URLs presigned by AWS's own signer
// (@smithy/signature-v4, service iotdevicegateway) against a real Broker with identity's hooks.
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { SignatureV4 } from '@smithy/signature-v4';
import type { MqttClient } from 'mqtt';
import { type Broker, attachWebSocket } from '../broker/index.js';
import { ACCOUNT, REGION, codeOf, open, publish, subscribe } from './authorizers-testkit.js';
import { tempDataDir } from './certificates-testkit.js';
import { createIdentityBroker } from './broker-testkit.js';
import { SIGV4_SERVICE, type AccessKeyAuthContext, type Identity } from './index.js';

type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (d: SourceData): string | Uint8Array =>
  typeof d === 'string' ? d : d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

/** The hash @smithy/hash-node provides, on node:crypto. */
class Sha256 {
  private readonly h;
  constructor(secret?: SourceData) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.h.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.h.digest()));
  }
}

let dir: Awaited<ReturnType<typeof tempDataDir>>;
let broker: Broker;
let http: Server;
let identity: Identity;
let port: number;
let key: { accessKeyId: string; secretAccessKey: string };
const clients: MqttClient[] = [];

before(async () => {
  dir = await tempDataDir();
  ({ broker, identity } = await createIdentityBroker(dir.dataDir, { region: REGION, accountId: ACCOUNT }));
  http = createServer();
  attachWebSocket(broker, http, '/mqtt', false);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  port = (http.address() as { port: number }).port;
  key = identity.accessKeyService.create('dashboard');
});

after(async () => {
  for (const c of clients) c.end(true);
  await broker?.close();
  await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
  identity?.close();
  dir?.cleanup();
});

interface PresignOptions {
  service?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  signingDate?: Date;
  expiresIn?: number;
}

/** `ws://host/mqtt?X-Amz-...` as AWS's signer presigns it (GET, host signed, empty payload). */
async function presignedUrl(opts: PresignOptions = {}): Promise<string> {
  const signer = new SignatureV4({ service: opts.service ?? SIGV4_SERVICE, region: REGION, credentials: opts.credentials ?? key, sha256: Sha256 });
  const host = `127.0.0.1:${port}`;
  const signed = await signer.presign(
    { method: 'GET', protocol: 'ws:', hostname: '127.0.0.1', port, path: '/mqtt', query: {}, headers: { host } },
    { expiresIn: opts.expiresIn ?? 300, ...(opts.signingDate ? { signingDate: opts.signingDate } : {}) },
  );
  const query = Object.entries(signed.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  return `ws://${host}/mqtt?${query}`;
}

describe('SigV4-presigned MQTT over WebSocket (service iotdevicegateway)', () => {
  test("a valid URL connects; principal = the access key's name; access keys are not subject to IoT policies", async () => {
    const r = await open(await presignedUrl(), { clientId: 'dashboard-1' }, clients);
    assert.ok(r.ok, r.ok ? '' : r.message);
    const info = broker.describeClient('dashboard-1')?.info;
    assert.equal(info?.principal, 'dashboard');
    assert.deepEqual(info?.authContext as AccessKeyAuthContext, { kind: 'accessKey', accessKeyId: key.accessKeyId, name: 'dashboard' });
    assert.equal(await subscribe(r.client, '#'), 1);
    assert.equal(await publish(r.client, 'anything/at/all', 'x'), 0);
  });

  test('a session token appended after signing (as the AWS SDKs do) is accepted', async () => {
    const url = `${await presignedUrl()}&X-Amz-Security-Token=${encodeURIComponent('FwoGZXIvYXdzE+token/=')}`;
    assert.equal(codeOf(await open(url, { clientId: 'dashboard-2' }, clients)), 0);
  });

  test('an Authorization header on the upgrade request (header form) is accepted too', async () => {
    const signer = new SignatureV4({ service: SIGV4_SERVICE, region: REGION, credentials: key, sha256: Sha256 });
    const signed = await signer.sign({ method: 'GET', protocol: 'ws:', hostname: '127.0.0.1', port, path: '/mqtt', query: {}, headers: { host: `127.0.0.1:${port}` } });
    const headers = Object.fromEntries(Object.entries(signed.headers).filter(([k]) => k !== 'host'));
    assert.equal(codeOf(await open(`ws://127.0.0.1:${port}/mqtt`, { clientId: 'dashboard-3', wsOptions: { headers } }, clients)), 0);
  });

  test('a tampered signature is refused in CONNACK: 0x86 (MQTT 3.1.1: return code 4)', async () => {
    const url = await presignedUrl();
    const tampered = url.replace(/X-Amz-Signature=([0-9a-f])/, (_m, c: string) => `X-Amz-Signature=${c === '0' ? '1' : '0'}`);
    assert.notEqual(tampered, url);
    assert.equal(codeOf(await open(tampered, { clientId: 'bad-1' }, clients)), 0x86);
    assert.equal(codeOf(await open(tampered, { clientId: 'bad-2', protocolVersion: 4 }, clients)), 4);
  });

  test('signed for another service, with an unknown or revoked key, or expired: 0x86', async () => {
    assert.equal(codeOf(await open(await presignedUrl({ service: 'iotdata' }), { clientId: 'bad-3' }, clients)), 0x86);
    const stranger = { accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: 'x'.repeat(40) };
    assert.equal(codeOf(await open(await presignedUrl({ credentials: stranger }), { clientId: 'bad-4' }, clients)), 0x86);
    const revoked = identity.accessKeyService.create('old-app');
    identity.accessKeyService.revoke(revoked.accessKeyId);
    assert.equal(codeOf(await open(await presignedUrl({ credentials: revoked }), { clientId: 'bad-5' }, clients)), 0x86);
    const expired = await presignedUrl({ signingDate: new Date(Date.now() - 10 * 60_000), expiresIn: 60 });
    assert.equal(codeOf(await open(expired, { clientId: 'bad-6' }, clients)), 0x86);
  });

  test('a plain WebSocket client (no signature, no certificate) is still refused when anonymous clients are not admitted', async () => {
    assert.equal(codeOf(await open(`ws://127.0.0.1:${port}/mqtt`, { clientId: 'anon' }, clients)), 0x87);
  });
});
