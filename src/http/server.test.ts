import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, test } from 'node:test';
import { ensureServerCertificates } from '../identity/index.js';
import { createLogger, type LogLevel } from '../lib/index.js';
import { createHttpApp } from './server.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const metrics = { render: async () => 'thingport_connections 0\n', contentType: 'text/plain; version=0.0.4; charset=utf-8' };

function app(level: LogLevel = 'silent') {
  const stream = new PassThrough();
  const lines: string[] = [];
  stream.on('data', (c: Buffer) => lines.push(...c.toString('utf8').split('\n').filter(Boolean)));
  const instance = createHttpApp({ logger: createLogger(level, { destination: stream }), health: () => ({ version: '0.1.0' }), metrics });
  return { instance, lines };
}

test('GET /health answers 200 JSON with status ok and the health fields', async () => {
  const { instance } = app();
  const res = await instance.inject({ method: 'GET', url: '/health' });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.deepEqual(res.json(), { status: 'ok', version: '0.1.0' });
  await instance.close();
});

test('GET /metrics answers the Prometheus text with its content type', async () => {
  const { instance } = app();
  const res = await instance.inject({ method: 'GET', url: '/metrics' });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-type'], metrics.contentType);
  assert.equal(res.body, 'thingport_connections 0\n');
  await instance.close();
});

test('unknown routes answer 404 JSON { message: "Not Found" }', async () => {
  const { instance } = app();
  const res = await instance.inject({ method: 'GET', url: '/no/such/route' });
  assert.equal(res.statusCode, 404);
  assert.deepEqual(res.json(), { message: 'Not Found' });
  assert.equal((await instance.inject({ method: 'POST', url: '/health' })).statusCode, 404);
  await instance.close();
});

test('requests are logged at debug only', async () => {
  const quiet = app('info');
  await quiet.instance.inject({ method: 'GET', url: '/health' });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(quiet.lines, []);
  await quiet.instance.close();

  const chatty = app('debug');
  await chatty.instance.inject({ method: 'GET', url: '/health' });
  await new Promise((r) => setImmediate(r));
  const logged = chatty.lines.map((l) => JSON.parse(l) as { msg: string; level: number; req?: { url: string }; res?: { statusCode: number } });
  const incoming = logged.find((l) => l.msg === 'incoming request');
  const completed = logged.find((l) => l.msg === 'request completed');
  assert.equal(incoming?.level, 20);
  assert.equal(incoming?.req?.url, '/health');
  assert.equal(completed?.level, 20);
  assert.equal(completed?.res?.statusCode, 200);
  await chatty.instance.close();
});

test('with https options the app serves TLS that a client trusting the CA verifies', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'thingport-https-'));
  dirs.push(dir);
  const tls = await ensureServerCertificates(dir, []);
  const instance = createHttpApp({
    logger: createLogger('silent'),
    https: { key: tls.keyPem, cert: tls.certPem, ca: tls.caPem },
    health: () => ({}),
    metrics,
  });
  await instance.listen({ host: '127.0.0.1', port: 0 });
  try {
    const { port } = instance.server.address() as { port: number };
    const body = await new Promise<string>((resolve, reject) => {
      get({ host: '127.0.0.1', port, path: '/health', ca: tls.caPem }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', () => resolve(text));
      }).on('error', reject);
    });
    assert.deepEqual(JSON.parse(body), { status: 'ok' });
  } finally {
    await instance.close();
  }
});
