import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from './logger.js';

function capture(): { stream: PassThrough; lines: () => Record<string, unknown>[] } {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  return {
    stream,
    lines: () => chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

test('createLogger writes JSON lines at or above its level to the given stream', async () => {
  const out = capture();
  const logger = createLogger('info', { destination: out.stream });
  logger.debug('hidden');
  logger.child({ component: 'broker' }).info({ port: 1883 }, 'listening');
  await new Promise((r) => setImmediate(r));
  const lines = out.lines();
  assert.equal(lines.length, 1);
  assert.equal(lines[0].msg, 'listening');
  assert.equal(lines[0].component, 'broker');
  assert.equal(lines[0].port, 1883);
  assert.equal(lines[0].level, 30);
  assert.match(String(lines[0].time), /^\d{4}-\d\d-\d\dT/);
});

test('createLogger silent writes nothing', async () => {
  const out = capture();
  const logger = createLogger('silent', { destination: out.stream });
  logger.fatal('nothing');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(out.lines(), []);
  assert.equal(logger.isLevelEnabled('error'), false);
});
