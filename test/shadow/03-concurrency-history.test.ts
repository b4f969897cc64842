// Two clients updating one shadow: every update gets exactly one version, answers come in the
// order of the versions, and accepted/delta/documents of one update stay together in that order.
// Then history over HTTP (SigV4) and the CLI.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { connectClient, type TestClient } from '../helpers/mqtt.js';
import { KEY, signedGet, startShadowServer, type ShadowServer } from '../helpers/shadow-server.js';

const dir = mkdtempSync(join(tmpdir(), 'tp-shadow-hist-'));
let server: ShadowServer;
let a: TestClient;
let b: TestClient;
let watcher: TestClient;
const pre = '$aws/things/shared/shadow';

before(async () => {
  // Pipelined publishers may deliver more than 10 requests in one read (429 is tested in src/shadow/topics.test.ts).
  server = await startShadowServer({ dbFile: join(dir, 'thingport.db'), maxInFlight: 1000 });
  a = await connectClient(server.mqttUrl, { clientId: 'app-a' });
  b = await connectClient(server.mqttUrl, { clientId: 'dev-b' });
  watcher = await connectClient(server.mqttUrl, { clientId: 'watch' });
  await watcher.subscribe(`${pre}/update/#`);
});
after(async () => {
  for (const c of [a, b, watcher]) await c.end();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

test('concurrency: two clients, 40 interleaved updates, one version each, notifications grouped per update in version order', async () => {
  const N = 20;
  const sends: Promise<void>[] = [];
  for (let i = 0; i < N; i++) {
    sends.push(a.publish(`${pre}/update`, `{"state":{"desired":{"n":${i}}},"clientToken":"a${i}"}`, { qos: 1 }));
    sends.push(b.publish(`${pre}/update`, `{"state":{"reported":{"n":${i}}},"clientToken":"b${i}"}`, { qos: 1 }));
  }
  await Promise.all(sends);
  const accepted = await watcher.waitMessages(`${pre}/update/accepted`, 2 * N, 10_000);
  const versions = accepted.map((m) => (JSON.parse(m.payload.toString()) as { version: number }).version);
  assert.deepEqual(versions, Array.from({ length: 2 * N }, (_, i) => i + 1));
  await watcher.waitMessages(`${pre}/update/documents`, 2 * N, 10_000);
  // Per update: accepted, then (maybe) delta, then documents — all with that update's version.
  const seq = watcher.messages.filter((m) => m.topic.startsWith(`${pre}/update/`) && !m.topic.endsWith('/update'));
  let v = 0;
  for (const m of seq) {
    const body = JSON.parse(m.payload.toString()) as { version?: number; current?: { version: number } };
    const mv = body.version ?? body.current!.version;
    if (m.topic.endsWith('/accepted')) {
      assert.equal(mv, v + 1, 'accepted opens the next version');
      v = mv;
    } else assert.equal(mv, v, `${m.topic} belongs to the version just accepted`);
  }
  // Each client's own updates were applied in the order it sent them.
  const tokens = accepted.map((m) => (JSON.parse(m.payload.toString()) as { clientToken: string }).clientToken);
  for (const who of ['a', 'b']) {
    const mine = tokens.filter((t) => t.startsWith(who)).map((t) => Number(t.slice(1)));
    assert.deepEqual(mine, [...mine].sort((x, y) => x - y));
  }
});

test('history over HTTP: who changed desired.n, and the state at a moment (SigV4, service iotdata)', async () => {
  const res = await signedGet(server.httpUrl, '/things/shared/shadow/history', { limit: '5' });
  assert.equal(res.status, 200);
  const page = (await res.json()) as { entries: Array<{ version: number; principal: string | null; clientId: string; request: Record<string, unknown> }>; nextToken?: string };
  assert.deepEqual(page.entries.map((e) => e.version), [1, 2, 3, 4, 5]);
  assert.ok(page.nextToken);
  const all = (await (await signedGet(server.httpUrl, '/things/shared/shadow/history', { limit: '100' })).json()) as typeof page;
  assert.equal(all.entries.length, 40);
  // Who changed desired.n: every entry whose request touched desired came from app-a.
  for (const e of all.entries) assert.equal(e.clientId, 'desired' in e.request ? 'app-a' : 'dev-b');
  const next = (await (await signedGet(server.httpUrl, '/things/shared/shadow/history', { limit: '5', nextToken: page.nextToken! })).json()) as { entries: Array<{ version: number }> };
  assert.equal(next.entries[0]!.version, 6);
  const at = (await (await signedGet(server.httpUrl, '/things/shared/shadow/history', { at: new Date(Date.now() + 1000).toISOString() })).json()) as { entries: Array<{ version: number }> };
  assert.equal(at.entries[0]!.version, 40);
});

test('history over HTTP refuses unsigned and wrongly signed requests', async () => {
  const unsigned = await fetch(`${server.httpUrl}/things/shared/shadow/history`);
  assert.equal(unsigned.status, 403);
  const bad = await signedGet(server.httpUrl, '/things/shared/shadow/history', {}, { accessKeyId: KEY.accessKeyId, secretAccessKey: 'wrong-secret-wrong-secret-wrong-secret-00' });
  assert.equal(bad.status, 403);
  assert.equal(bad.headers.get('x-amzn-errortype'), 'InvalidSignatureException');
});

test('CLI: thingport shadow get and history read the data directory', () => {
  const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const get = spawnSync(process.execPath, [cli, 'shadow', 'get', 'shared', '--data-dir', dir], { encoding: 'utf8' });
  assert.equal(get.status, 0, get.stderr);
  const doc = JSON.parse(get.stdout) as { version: number; state: { desired: { n: number } } };
  assert.equal(doc.version, 40);
  assert.equal(doc.state.desired.n, 19);
  const hist = spawnSync(process.execPath, [cli, 'shadow', 'history', 'shared', '--data-dir', dir, '--limit', '3'], { encoding: 'utf8' });
  assert.equal(hist.status, 0, hist.stderr);
  assert.deepEqual((JSON.parse(hist.stdout) as { entries: Array<{ version: number }> }).entries.map((e) => e.version), [1, 2, 3]);
  const none = spawnSync(process.execPath, [cli, 'shadow', 'get', 'nobody', '--data-dir', dir], { encoding: 'utf8' });
  assert.equal(none.status, 1);
});
