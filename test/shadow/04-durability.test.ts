// Durability: every update whose update/accepted was published survives kill -9 of the server
// (the commit happens before the accepted message is published).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { GetThingShadowCommand, IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { connectClient } from '../helpers/mqtt.js';
import { KEY, REGION, signedGet } from '../helpers/shadow-server.js';

const MAIN = fileURLToPath(new URL('../helpers/shadow-server-main.js', import.meta.url));

async function spawnServer(dbFile: string): Promise<{ child: ChildProcess; mqttUrl: string; httpUrl: string }> {
  const child = spawn(process.execPath, [MAIN, dbFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      buf += s;
      if (buf.includes('\n')) resolve(buf.split('\n')[0]!);
    });
    child.once('exit', (code) => reject(new Error(`server exited early (${code})`)));
  });
  return { child, ...(JSON.parse(line) as { mqttUrl: string; httpUrl: string }) };
}

test('durability: accepted updates survive kill -9; history keeps every version with its principal and client', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-shadow-kill-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dbFile = join(dir, 'thingport.db');
  const first = await spawnServer(dbFile);
  const dev = await connectClient(first.mqttUrl, { clientId: 'durable-dev' });
  const pre = '$aws/things/boiler/shadow';
  await dev.subscribe(`${pre}/update/accepted`);
  const N = 25;
  for (let i = 1; i <= N; i++) void dev.publish(`${pre}/update`, `{"state":{"reported":{"temp":${i}.0}},"clientToken":"u${i}"}`, { qos: 1 });
  await dev.waitMessages(`${pre}/update/accepted`, N, 10_000);
  first.child.kill('SIGKILL');
  await new Promise((r) => first.child.once('exit', r));
  dev.destroy();

  const second = await spawnServer(dbFile);
  t.after(() => void second.child.kill('SIGKILL'));
  const sdk = new IoTDataPlaneClient({ endpoint: second.httpUrl, region: REGION, credentials: KEY, maxAttempts: 1 });
  const doc = JSON.parse(Buffer.from((await sdk.send(new GetThingShadowCommand({ thingName: 'boiler' }))).payload!).toString()) as { version: number; state: { reported: { temp: number } } };
  assert.equal(doc.version, N);
  const raw = Buffer.from((await sdk.send(new GetThingShadowCommand({ thingName: 'boiler' }))).payload!).toString();
  assert.match(raw, new RegExp(`"reported":\\{"temp":${N}\\.0\\}`), 'numbers keep their spelling across a restart');
  const res = await signedGet(second.httpUrl, '/things/boiler/shadow/history', { limit: '1000' });
  assert.equal(res.status, 200);
  const h = (await res.json()) as { entries: Array<{ version: number; clientId: string; operation: string; state: { reported: { temp: number } } }> };
  assert.deepEqual(h.entries.map((e) => e.version), Array.from({ length: N }, (_, i) => i + 1));
  assert.equal(h.entries[0]!.clientId, 'durable-dev');
  assert.equal(h.entries[N - 1]!.state.reported.temp, N);
  sdk.destroy();
});
