// The router's client-certificate path (`authenticateCertificate`) on a real HTTPS listener: used
// only for unsigned requests whose TLS connection presented a certificate, only by services that
// accept certificates; handlers get `ctx.authorize`; SigV4 keeps precedence.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PeerCertificate } from 'node:tls';
import { after, before, test } from 'node:test';
import { GetThingShadowCommand, IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import type { FastifyInstance } from 'fastify';
import { ensureServerCertificates, type ServerCertificates } from '../identity/index.js';
import { createLogger } from '../lib/index.js';
import { AwsServiceError } from './aws-errors.js';
import { createAwsRestRouter, type AwsRequestContext } from './aws-rest.js';
import { iotDataModel, type IotDataOperations } from './models/iot-data.gen.js';
import { iotModel, type IotOperations } from './models/iot.gen.js';
import { createHttpApp } from './server.js';

const REGION = 'eu-central-1';
const KEY = { accessKeyId: 'AKIATHINGPORTTEST002', secretAccessKey: 'thingport-test-secret-abcdefABCD0123456789' };

let dir: string;
let tls: ServerCertificates;
let app: FastifyInstance;
let port: number;
/** What the certificate authenticator was asked, and the contexts handlers saw. */
const asked: Array<{ fingerprint: string; remoteAddress: string }> = [];
const contexts: AwsRequestContext[] = [];
/** Toggled by tests: the authenticator refuses every certificate. */
let refuseAll = false;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'thingport-rest-cert-'));
  tls = await ensureServerCertificates(dir, []);
  app = createHttpApp({ logger: createLogger('silent'), https: { key: tls.keyPem, cert: tls.certPem, ca: tls.caPem }, health: () => ({}), metrics: { render: async () => '', contentType: 'text/plain' } });
  const authenticate = (id: string) => (id === KEY.accessKeyId ? { secretAccessKey: KEY.secretAccessKey, principal: 'user/admin' } : null);
  createAwsRestRouter<IotOperations>(app, {
    service: iotModel,
    region: REGION,
    authenticate,
    logger: createLogger('silent'),
    handlers: { ListThings: () => ({ things: [] }) },
  });
  createAwsRestRouter<IotDataOperations>(app, {
    service: iotDataModel,
    signingName: 'iotdata',
    region: REGION,
    authenticate,
    authenticateCertificate: async (peer: PeerCertificate, client) => {
      asked.push({ fingerprint: peer.fingerprint256, remoteAddress: client.remoteAddress });
      if (refuseAll) return null;
      return { principal: 'cert-1', authorize: (action, resource) => action === 'iot:GetThingShadow' && resource.endsWith(':thing/mine') };
    },
    logger: createLogger('silent'),
    handlers: {
      GetThingShadow: ({ thingName }, ctx) => {
        contexts.push(ctx);
        if (ctx.authorize !== undefined && !ctx.authorize('iot:GetThingShadow', `arn:aws:iot:${REGION}:123456789012:thing/${thingName}`)) {
          throw new AwsServiceError('ForbiddenException', 'Forbidden', 403);
        }
        return { payload: Buffer.from(JSON.stringify({ thingName, principal: ctx.principal })) };
      },
    },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as { port: number }).port;
});

after(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Reply {
  status: number;
  errorType: string | undefined;
  body: string;
}

/** An HTTPS request, presenting the server's own certificate as the client certificate unless `withCert` is false. */
function call(path: string, opts: { withCert?: boolean; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: 'GET', ca: tls.caPem, agent: false, headers: opts.headers, ...(opts.withCert === false ? {} : { cert: tls.certPem, key: tls.keyPem }) },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, errorType: res.headers['x-amzn-errortype'] as string | undefined, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('an unsigned request with a certificate is the certificate\'s: principal, no access key, ctx.authorize from the authenticator', async () => {
  refuseAll = false;
  asked.length = 0;
  contexts.length = 0;
  const r = await call('/things/mine/shadow');
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(JSON.parse(r.body), { thingName: 'mine', principal: 'cert-1' });
  assert.equal(asked.length, 1);
  assert.equal(asked[0]!.fingerprint, new X509Certificate(tls.certPem).fingerprint256, 'the authenticator gets the presented certificate');
  assert.equal(asked[0]!.remoteAddress, '127.0.0.1');
  assert.equal(contexts[0]!.accessKeyId, '');
  assert.equal(typeof contexts[0]!.authorize, 'function');

  const denied = await call('/things/theirs/shadow');
  assert.equal(denied.status, 403);
  assert.equal(denied.errorType, 'ForbiddenException');
});

test('a certificate the authenticator refuses -> 403 ForbiddenException, the handler is not called', async () => {
  refuseAll = true;
  contexts.length = 0;
  const r = await call('/things/mine/shadow');
  assert.equal(r.status, 403);
  assert.equal(r.errorType, 'ForbiddenException');
  assert.deepEqual(JSON.parse(r.body), { __type: 'ForbiddenException', message: 'Forbidden' });
  assert.equal(contexts.length, 0);
  refuseAll = false;
});

test('no certificate and no signature -> 403 MissingAuthenticationTokenException; the authenticator is not asked', async () => {
  asked.length = 0;
  const r = await call('/things/mine/shadow', { withCert: false });
  assert.equal(r.status, 403);
  assert.equal(r.errorType, 'MissingAuthenticationTokenException');
  assert.equal(asked.length, 0);
});

test('a service without authenticateCertificate (the control plane) ignores certificates: MissingAuthenticationTokenException', async () => {
  asked.length = 0;
  const r = await call('/things');
  assert.equal(r.status, 403);
  assert.equal(r.errorType, 'MissingAuthenticationTokenException');
  assert.equal(asked.length, 0);
});

test('a malformed signature is judged as a signature, not replaced by the certificate', async () => {
  asked.length = 0;
  const r = await call('/things/mine/shadow', { headers: { authorization: 'AWS4-HMAC-SHA256 Credential=x' } });
  assert.equal(r.status, 400);
  assert.equal(r.errorType, 'IncompleteSignatureException');
  assert.equal(asked.length, 0);
});

test('SigV4 wins over a presented certificate: the access key\'s principal, no ctx.authorize', async () => {
  asked.length = 0;
  contexts.length = 0;
  const sdk = new IoTDataPlaneClient({
    endpoint: `https://localhost:${port}`,
    region: REGION,
    credentials: KEY,
    maxAttempts: 1,
    requestHandler: { httpsAgent: new Agent({ ca: tls.caPem, cert: tls.certPem, key: tls.keyPem }) },
  });
  try {
    const out = await sdk.send(new GetThingShadowCommand({ thingName: 'theirs' }));
    assert.deepEqual(JSON.parse(Buffer.from(out.payload!).toString('utf8')), { thingName: 'theirs', principal: 'user/admin' });
  } finally {
    sdk.destroy();
  }
  assert.equal(asked.length, 0);
  assert.equal(contexts[0]!.authorize, undefined);
  assert.equal(contexts[0]!.accessKeyId, KEY.accessKeyId);
});
