import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { test } from 'node:test';
import { SignatureV4 } from '@smithy/signature-v4';
import { AwsServiceError } from './aws-errors.js';
import { canonicalQuery, canonicalUri, parseSigV4, verifySigV4, type SigV4Request } from './sigv4.js';

// AWS's Signature Version 4 test suite (docs: "Signature Version 4 test suite"): every case signs
// with this key, region, service and time; the expected signatures below are the suite's.
const SUITE = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', region: 'us-east-1', service: 'service' };
const SUITE_TIME = Date.UTC(2015, 7, 30, 12, 36, 0);
const HOST = 'example.amazonaws.com';

interface Vector {
  name: string;
  method: string;
  url: string;
  headers: Array<[string, string]>;
  body?: string;
  signedHeaders: string;
  signature: string;
}

const VECTORS: Vector[] = [
  { name: 'get-vanilla-query-order-key-case', method: 'GET', url: '/?Param2=value2&Param1=value1', headers: [], signedHeaders: 'host;x-amz-date', signature: 'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500' },
  { name: 'get-utf8', method: 'GET', url: '/ሴ', headers: [], signedHeaders: 'host;x-amz-date', signature: '8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85' },
  { name: 'get-vanilla-utf8-query', method: 'GET', url: '/?ሴ=bar', headers: [], signedHeaders: 'host;x-amz-date', signature: '2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04' },
  { name: 'normalize-path/get-space', method: 'GET', url: '/example space/', headers: [], signedHeaders: 'host;x-amz-date', signature: '652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741' },
  { name: 'normalize-path/get-slashes', method: 'GET', url: '//example//', headers: [], signedHeaders: 'host;x-amz-date', signature: '9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84' },
  {
    name: 'get-header-value-trim',
    method: 'GET',
    url: '/',
    headers: [['My-Header1', ' value1'], ['My-Header2', ' "a   b   c"']],
    signedHeaders: 'host;my-header1;my-header2;x-amz-date',
    signature: 'acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736',
  },
  {
    name: 'get-header-key-duplicate',
    method: 'GET',
    url: '/',
    headers: [['My-Header1', 'value2'], ['My-Header1', 'value2'], ['My-Header1', 'value1']],
    signedHeaders: 'host;my-header1;x-amz-date',
    signature: 'c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea',
  },
  {
    name: 'post-x-www-form-urlencoded',
    method: 'POST',
    url: '/',
    headers: [['Content-Type', 'application/x-www-form-urlencoded']],
    body: 'Param1=value1',
    signedHeaders: 'content-type;host;x-amz-date',
    signature: 'ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a',
  },
];

function vectorRequest(v: Vector, signature = v.signature): SigV4Request {
  return {
    method: v.method,
    url: v.url,
    headers: [
      ['Host', HOST],
      ...v.headers,
      ['X-Amz-Date', '20150830T123600Z'],
      ['Authorization', `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=${v.signedHeaders}, Signature=${signature}`],
    ],
    body: Buffer.from(v.body ?? ''),
  };
}

const suiteOpts = { secretAccessKey: SUITE.secretAccessKey, region: SUITE.region, services: [SUITE.service], now: SUITE_TIME };

for (const v of VECTORS) {
  test(`AWS SigV4 test suite: ${v.name} verifies`, () => {
    const req = vectorRequest(v);
    verifySigV4(req, parseSigV4(req), suiteOpts);
  });
}

test('AWS SigV4 test suite: a changed signature is InvalidSignatureException with the canonical request', () => {
  const v = VECTORS[0]!;
  const req = vectorRequest(v, v.signature.replace(/^b/, 'c'));
  assert.throws(
    () => verifySigV4(req, parseSigV4(req), suiteOpts),
    (err: AwsServiceError) =>
      err.name === 'InvalidSignatureException' &&
      err.status === 403 &&
      err.message.startsWith('The request signature we calculated does not match the signature you provided.') &&
      err.message.includes("'GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"),
  );
});

test('canonical URI: non-S3 services encode the path as sent once more (double encoding)', () => {
  assert.equal(canonicalUri('/things/a%2Fb'), '/things/a%252Fb');
  assert.equal(canonicalUri('/things/my%20thing'), '/things/my%2520thing');
  assert.equal(canonicalUri('/a/./b/../c/'), '/a/c/');
  assert.equal(canonicalUri(''), '/');
});

test('canonical query: decoded, re-encoded, sorted by name then value, signature excluded', () => {
  assert.equal(canonicalQuery('b=2&a=z&a=y&X-Amz-Signature=abc&c'), 'a=y&a=z&b=2&c=');
  assert.equal(canonicalQuery('k=a%20b&k2=%2A'), 'k=a%20b&k2=%2A');
});

/** The hash constructor the smithy signer wants: SHA-256, or HMAC-SHA-256 when given a key. */
class Sha256 {
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

async function smithySigned(opts: { path: string; query?: Record<string, string>; body?: string; presign?: boolean; now: Date; service?: string }) {
  const signer = new SignatureV4({
    service: opts.service ?? 'iot',
    region: 'eu-central-1',
    credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secret/key+value' },
    sha256: Sha256,
  });
  const request = {
    method: opts.body === undefined ? 'GET' : 'POST',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: 8080,
    path: opts.path,
    query: opts.query ?? {},
    headers: { host: '127.0.0.1:8080', 'content-type': 'application/json', ...(opts.body !== undefined ? { 'content-length': String(Buffer.byteLength(opts.body)) } : {}) },
    body: opts.body,
  };
  const signed = opts.presign ? await signer.presign(request, { signingDate: opts.now, expiresIn: 300 }) : await signer.sign(request, { signingDate: opts.now });
  const qs = Object.entries(signed.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  const req: SigV4Request = {
    method: signed.method,
    url: qs ? `${signed.path}?${qs}` : signed.path,
    headers: Object.entries(signed.headers).map(([k, v]) => [k, String(v)] as const),
    body: Buffer.from(opts.body ?? ''),
  };
  return req;
}

const now = new Date('2026-03-01T10:00:00Z');
const verifyOpts = { secretAccessKey: 'secret/key+value', region: 'eu-central-1', services: ['iot'], now: now.getTime() };

test('requests signed by @smithy/signature-v4 verify: encoded labels, queries, bodies, presigned', async () => {
  const cases = [
    await smithySigned({ path: '/things/a%3Ab%20c', query: { maxResults: '5', nextToken: 'x/y+z=' }, now }),
    await smithySigned({ path: '/things/t1', body: '{"attributePayload":{"attributes":{"a":"b"}}}', now }),
    await smithySigned({ path: '/things', presign: true, now }),
  ];
  for (const req of cases) verifySigV4(req, parseSigV4(req), verifyOpts);
});

test('clock skew: 15 minutes accepted, beyond that InvalidSignatureException "Signature expired" / "not yet current"', async () => {
  const req = await smithySigned({ path: '/things', now });
  const claim = parseSigV4(req);
  verifySigV4(req, claim, { ...verifyOpts, now: now.getTime() + 14 * 60_000 });
  assert.throws(() => verifySigV4(req, claim, { ...verifyOpts, now: now.getTime() + 16 * 60_000 }), /^InvalidSignatureException: Signature expired: 20260301T100000Z is now earlier than 20260301T100100Z \(20260301T101600Z - 15 min\.\)$/);
  assert.throws(() => verifySigV4(req, claim, { ...verifyOpts, now: now.getTime() - 16 * 60_000 }), /Signature not yet current: 20260301T100000Z is still later than/);
});

test('presigned URLs expire after X-Amz-Expires', async () => {
  const req = await smithySigned({ path: '/things', presign: true, now });
  const claim = parseSigV4(req);
  assert.equal(claim.form, 'query');
  assert.equal(claim.expires, 300);
  verifySigV4(req, claim, { ...verifyOpts, now: now.getTime() + 299_000 });
  assert.throws(() => verifySigV4(req, claim, { ...verifyOpts, now: now.getTime() + 301_000 }), /InvalidSignatureException: Signature expired/);
});

test('scope: wrong region or service is InvalidSignatureException naming the expected one', async () => {
  const req = await smithySigned({ path: '/things', now });
  const claim = parseSigV4(req);
  assert.throws(() => verifySigV4(req, claim, { ...verifyOpts, region: 'us-east-1' }), /Credential should be scoped to a valid region, not 'eu-central-1'\. This server's region is 'us-east-1'\./);
  assert.throws(() => verifySigV4(req, claim, { ...verifyOpts, services: ['iotdata'] }), /Credential should be scoped to correct service: 'iotdata'\./);
});

test('a tampered body or header fails; x-amz-content-sha256 must match the body', async () => {
  const req = await smithySigned({ path: '/things/t1', body: '{"a":1}', now });
  const tampered = { ...req, body: Buffer.from('{"a":2}') };
  // The smithy signer also sends x-amz-content-sha256, so the body check is what trips first.
  assert.throws(() => verifySigV4(tampered, parseSigV4(tampered), verifyOpts), /^InvalidSignatureException: /);
  const withoutHash = { ...tampered, headers: tampered.headers.filter(([k]) => k !== 'x-amz-content-sha256') };
  assert.throws(() => verifySigV4(withoutHash, parseSigV4(withoutHash), verifyOpts), /InvalidSignatureException: The request signature we calculated does not match/);
  const lying = { ...req, headers: [...req.headers, ['x-amz-content-sha256', 'ab'.repeat(32)] as const] };
  assert.throws(() => verifySigV4(lying, parseSigV4(lying), verifyOpts), /x-amz-content-sha256' header does not match/);
});

test('unsigned and malformed requests: MissingAuthenticationToken, IncompleteSignature', () => {
  const base = { method: 'GET', url: '/things', body: Buffer.alloc(0) };
  assert.throws(() => parseSigV4({ ...base, headers: [['host', 'h']] }), (e: AwsServiceError) => e.name === 'MissingAuthenticationTokenException' && e.status === 403 && e.message === 'Missing Authentication Token');
  assert.throws(
    () => parseSigV4({ ...base, headers: [['authorization', 'Bearer abc']] }),
    (e: AwsServiceError) =>
      e.name === 'IncompleteSignatureException' &&
      e.message ===
        "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=Bearer abc",
  );
  assert.throws(() => parseSigV4({ ...base, url: '/things?X-Amz-Algorithm=AWS4-HMAC-SHA256', headers: [] }), /IncompleteSignatureException: AWS query-string parameters must include 'X-Amz-Credential'/);
  assert.throws(
    () => parseSigV4({ ...base, headers: [['x-amz-date', '20150830T123600Z'], ['authorization', 'AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iot, SignedHeaders=host, Signature=00']] }),
    /Credential must have exactly 5 slash-delimited elements/,
  );
});
