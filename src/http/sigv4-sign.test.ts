import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { test } from 'node:test';
import { SignatureV4 } from '@smithy/signature-v4';
import { AwsServiceError } from './aws-errors.js';
import { parseSigV4, verifySigV4, type SigV4Request } from './sigv4.js';
import { signSigV4 } from './sigv4-sign.js';

const KEY = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', region: 'eu-west-1', service: 'iot' };
const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);

function asRequest(method: string, url: string, headers: Record<string, string>, body: string): SigV4Request {
  const u = new URL(url);
  return { method, url: `${u.pathname}${u.search}`, headers: Object.entries(headers), body: Buffer.from(body) };
}

/** The hash constructor the smithy signer wants: SHA-256, or HMAC-SHA-256 when given a key. */
class NodeSha256 {
  private readonly h: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    const key = secret === undefined || typeof secret === 'string' ? secret : ArrayBuffer.isView(secret) ? new Uint8Array(secret.buffer, secret.byteOffset, secret.byteLength) : new Uint8Array(secret);
    this.h = key === undefined ? createHash('sha256') : createHmac('sha256', key);
  }
  update(data: Uint8Array | string): void {
    this.h.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return this.h.digest();
  }
}

test('signSigV4 output verifies with verifySigV4 (path with an encoded label, query, body)', () => {
  const url = 'http://127.0.0.1:8080/rules/hot%20one/test?b=2&a=1';
  const body = '{"messages":[]}';
  const headers = signSigV4({ method: 'POST', url, headers: { 'Content-Type': 'application/json' }, body }, KEY, NOW);
  assert.match(headers.authorization!, /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20261126\/eu-west-1\/iot\/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/);
  const req = asRequest('POST', url, headers, body);
  verifySigV4(req, parseSigV4(req), { secretAccessKey: KEY.secretAccessKey, region: KEY.region, services: ['iot'], now: NOW });
  // A changed body, or another secret, does not verify.
  const tampered = asRequest('POST', url, headers, '{"messages":[1]}');
  assert.throws(() => verifySigV4(tampered, parseSigV4(tampered), { secretAccessKey: KEY.secretAccessKey, region: KEY.region, services: ['iot'], now: NOW }), AwsServiceError);
  assert.throws(() => verifySigV4(req, parseSigV4(req), { secretAccessKey: 'other', region: KEY.region, services: ['iot'], now: NOW }), AwsServiceError);
});

test('signSigV4 signs as the AWS SDK signer does for the same headers', async () => {
  const url = new URL('http://localhost:8080/rules/r1/traces?limit=5');
  const headers = signSigV4({ method: 'GET', url: url.href }, KEY, NOW);
  const sdk = new SignatureV4({ service: KEY.service, region: KEY.region, credentials: KEY, sha256: NodeSha256 });
  const signed = await sdk.sign(
    {
      method: 'GET',
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      query: { limit: '5' },
      headers: { host: url.host, 'x-amz-content-sha256': headers['x-amz-content-sha256']! },
    },
    { signingDate: new Date(NOW) },
  );
  assert.equal(headers.authorization, signed.headers.authorization);
});
