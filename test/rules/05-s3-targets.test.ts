// Where s3 actions put objects, driven directly (no Thingport process): the routing of buckets
// (data directory, per-bucket or global S3-compatible endpoint), the configuration's checks, and
// PutObject against a test-owned S3 server that verifies SigV4 (service s3). 06-s3-endpoint runs
// s3 rules through the server.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { rulesConfigSchema } from '../../src/rules/config.js';
import { resolveS3Target, S3Targets, type S3Config } from '../../src/rules/s3-targets.js';

const KEY = { accessKeyId: 'AKIAS3TARGETTEST0001', secretAccessKey: 's3-target-test-secret' };
const s3Config = (raw: unknown): S3Config => rulesConfigSchema.parse({ s3: raw }).s3;

describe('s3 bucket routing', () => {
  test('without rules.s3 every bucket is a directory under <dataDir>/s3; without a data directory, nowhere', () => {
    const c = s3Config({});
    assert.deepEqual(resolveS3Target(c, 'any-bucket', '/data/s3', 'eu-west-1'), { kind: 'local', dir: '/data/s3' });
    assert.deepEqual(resolveS3Target(c, 'any-bucket', null, 'eu-west-1'), { kind: 'none' });
  });

  test('top-level keys send every bucket to the endpoint (path style by default), except local: true ones', () => {
    const c = s3Config({ endpoint: 'http://minio:9000', ...KEY, buckets: { scratch: { local: true } } });
    assert.deepEqual(resolveS3Target(c, 'telemetry', '/d', 'eu-west-1'), {
      kind: 'remote',
      remote: { endpoint: 'http://minio:9000', region: 'eu-west-1', forcePathStyle: true, ...KEY, sessionToken: undefined },
    });
    assert.deepEqual(resolveS3Target(c, 'scratch', '/d', 'eu-west-1'), { kind: 'local', dir: '/d' });
  });

  test('a bucket entry sends only that bucket, its settings over the top-level ones; no endpoint is AWS S3 (virtual-hosted)', () => {
    const c = s3Config({ region: 'us-west-2', buckets: { archive: { ...KEY, forcePathStyle: false }, aws: { ...KEY } } });
    assert.deepEqual(resolveS3Target(c, 'other', '/d', 'eu-west-1'), { kind: 'local', dir: '/d' });
    const archive = resolveS3Target(c, 'archive', null, 'eu-west-1');
    assert.equal(archive.kind, 'remote');
    assert.equal(archive.kind === 'remote' && archive.remote.region, 'us-west-2');
    const aws = resolveS3Target(c, 'aws', null, 'eu-west-1');
    assert.equal(aws.kind === 'remote' && aws.remote.endpoint, undefined);
    assert.equal(aws.kind === 'remote' && aws.remote.forcePathStyle, false);
  });

  test('the configuration refuses a remote bucket without both keys, half a key pair, and local: true with settings', () => {
    const problems = (raw: unknown) => {
      const r = rulesConfigSchema.safeParse({ s3: raw });
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    assert.deepEqual(problems({ accessKeyId: 'a' }), ['s3.secretAccessKey: set both accessKeyId and secretAccessKey, or neither']);
    assert.match(problems({ buckets: { archive: { endpoint: 'http://x' } } })[0] ?? '', /^s3\.buckets\.archive: needs accessKeyId and secretAccessKey/);
    assert.match(problems({ endpoint: 'http://x' })[0] ?? '', /^s3\.endpoint: no bucket goes to this endpoint/);
    assert.match(problems({ ...KEY, buckets: { scratch: { local: true, region: 'x' } } })[0] ?? '', /local: true takes no other setting/);
    assert.match(problems({ ...KEY, endpoint: 'minio:9000' })[0] ?? '', /http/);
    assert.deepEqual(problems({ endpoint: 'https://s3.example.net', ...KEY, buckets: { archive: { region: 'x' } } }), []);
  });
});

describe('S3Targets.put against an S3-compatible server', () => {
  let s3: S3TestServer;
  let dir: string;
  let downUrl: string;
  let targets: S3Targets;
  let reader: S3Client;

  before(async () => {
    s3 = await startS3Server({ region: 'eu-west-1', keys: { [KEY.accessKeyId]: KEY.secretAccessKey }, buckets: ['telemetry', 'wrong-key'] });
    dir = mkdtempSync(join(tmpdir(), 's3-targets-'));
    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    downUrl = `http://127.0.0.1:${(probe.address() as { port: number }).port}`;
    await new Promise<void>((r) => probe.close(() => r()));
    const config = s3Config({
      endpoint: s3.url,
      ...KEY,
      maxAttempts: 2,
      buckets: { 'wrong-key': { secretAccessKey: 'not-the-secret' }, 'down-bucket': { endpoint: downUrl }, scratch: { local: true } },
    });
    targets = new S3Targets(config, dir, 'eu-west-1');
    reader = new S3Client({ endpoint: s3.url, region: 'eu-west-1', forcePathStyle: true, credentials: KEY, maxAttempts: 1 });
  });

  after(async () => {
    targets.close();
    reader.destroy();
    await s3.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('PutObject stores the exact bytes under the key (spaces and non-ASCII too); GetObject reads them back', async () => {
    const body = Buffer.from([0, 1, 2, 0xfe, 0xff]);
    await targets.put({ bucket: 'telemetry', key: 'dev 1/ünï/2024.bin', body, cannedAcl: 'bucket-owner-full-control' });
    const stored = s3.objects.get('telemetry/dev 1/ünï/2024.bin');
    assert.ok(stored, `stored keys: ${[...s3.objects.keys()].join(', ')}`);
    assert.deepEqual(stored.body, body);
    assert.equal(stored.headers['x-amz-acl'], 'bucket-owner-full-control');
    const got = await reader.send(new GetObjectCommand({ Bucket: 'telemetry', Key: 'dev 1/ünï/2024.bin' }));
    assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), body);
  });

  test('a wrong secret is a rejected put naming S3 error SignatureDoesNotMatch and HTTP 403', async () => {
    await assert.rejects(targets.put({ bucket: 'wrong-key', key: 'k', body: Buffer.from('x') }), /PutObject s3:\/\/wrong-key\/k at http:\/\/127\.0\.0\.1:\d+ failed: SignatureDoesNotMatch: HTTP 403/);
    assert.equal(s3.objects.has('wrong-key/k'), false);
  });

  test('an endpoint that is down is a rejected put (after the configured attempts)', async () => {
    await assert.rejects(targets.put({ bucket: 'down-bucket', key: 'k', body: Buffer.from('x') }), /PutObject s3:\/\/down-bucket\/k .*failed: .*ECONNREFUSED/);
  });

  test('an endpoint that accepts the connection but never answers is a rejected put once rules.s3.timeoutMs has passed', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => {
      sockets.push(socket);
      socket.on('data', () => {});
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
    const bounded = new S3Targets(s3Config({ endpoint: url, ...KEY, timeoutMs: 300, maxAttempts: 1 }), null, 'eu-west-1');
    try {
      await assert.rejects(bounded.put({ bucket: 'telemetry', key: 'k', body: Buffer.from('x') }), /PutObject s3:\/\/telemetry\/k .*failed: .*(abort|timed? ?out)/i);
    } finally {
      bounded.close();
      for (const c of sockets) c.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  test('a bucket the server does not have is a rejected put (NoSuchBucket, 404)', async () => {
    await assert.rejects(targets.put({ bucket: 'no-such-bucket', key: 'k', body: Buffer.from('x') }), /NoSuchBucket: HTTP 404/);
  });

  test('a local: true bucket is written under the data directory; a key climbing out of it is refused', async () => {
    await targets.put({ bucket: 'scratch', key: 'a/b.json', body: Buffer.from('{"a":1}') });
    assert.equal(readFileSync(join(dir, 'scratch', 'a', 'b.json'), 'utf8'), '{"a":1}');
    await assert.rejects(targets.put({ bucket: 'scratch', key: '../escape', body: Buffer.from('x') }), /not valid/);
  });
});
