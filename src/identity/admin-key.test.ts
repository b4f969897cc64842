import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ensureAdminCredentials, readAdminKey } from './admin-key.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'thingport-keys-'));
  dirs.push(dir);
  return join(dir, 'data'); // not created yet, as on a first start
}

/** Parses an INI file the way the AWS SDKs do, enough for these assertions. */
function ini(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section: Record<string, string> | undefined;
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(t);
    if (header) out[header[1]] = section = {};
    else if (section) {
      const [k, ...v] = t.split('=');
      section[k.trim()] = v.join('=').trim();
    }
  }
  return out;
}

test('first start creates an AKIA key, keys.json (0600), an AWS credentials file and config file', async () => {
  const dir = dataDir();
  const creds = await ensureAdminCredentials(dir, { region: 'eu-west-1', endpoint: 'http://127.0.0.1:8080' });
  assert.equal(creds.created, true);
  assert.equal(creds.profile, 'thingport');
  assert.match(creds.accessKeyId, /^AKIA[A-Z0-9]{16}$/);
  assert.equal(creds.credentialsFile, join(dir, 'aws-credentials'));
  assert.equal(creds.configFile, join(dir, 'aws-config'));
  assert.equal(statSync(join(dir, 'keys.json')).mode & 0o777, 0o600);
  assert.equal(statSync(creds.credentialsFile).mode & 0o777, 0o600);

  const key = await readAdminKey(dir);
  assert.equal(key?.accessKeyId, creds.accessKeyId);
  assert.match(key?.secretAccessKey ?? '', /^[A-Za-z0-9]{40}$/);

  assert.deepEqual(ini(readFileSync(creds.credentialsFile, 'utf8')), {
    thingport: { aws_access_key_id: creds.accessKeyId, aws_secret_access_key: key?.secretAccessKey },
  });
  assert.deepEqual(ini(readFileSync(creds.configFile, 'utf8')), {
    'profile thingport': { region: 'eu-west-1', endpoint_url: 'http://127.0.0.1:8080' },
  });
});

test('later starts reuse the key and rewrite the config file when the endpoint changes', async () => {
  const dir = dataDir();
  const first = await ensureAdminCredentials(dir, { region: 'us-east-1', endpoint: 'http://127.0.0.1:8080' });
  const keysBefore = readFileSync(join(dir, 'keys.json'), 'utf8');
  const second = await ensureAdminCredentials(dir, { region: 'us-east-1', endpoint: 'http://127.0.0.1:9999' });
  assert.equal(second.created, false);
  assert.equal(second.accessKeyId, first.accessKeyId);
  assert.equal(readFileSync(join(dir, 'keys.json'), 'utf8'), keysBefore);
  assert.equal(ini(readFileSync(second.configFile, 'utf8'))['profile thingport'].endpoint_url, 'http://127.0.0.1:9999');
});

test('a deleted credentials file is written again with the same key', async () => {
  const dir = dataDir();
  const first = await ensureAdminCredentials(dir, { region: 'us-east-1', endpoint: 'http://localhost:8080' });
  rmSync(first.credentialsFile);
  await ensureAdminCredentials(dir, { region: 'us-east-1', endpoint: 'http://localhost:8080' });
  assert.equal(ini(readFileSync(first.credentialsFile, 'utf8')).thingport.aws_access_key_id, first.accessKeyId);
});

test('a corrupt keys.json is an error naming the file, never silently replaced', async () => {
  const dir = dataDir();
  await ensureAdminCredentials(dir, { region: 'us-east-1', endpoint: 'http://localhost:8080' });
  writeFileSync(join(dir, 'keys.json'), '{ not json');
  await assert.rejects(
    ensureAdminCredentials(dir, { region: 'us-east-1', endpoint: 'http://localhost:8080' }),
    (err: Error) => err.message.includes(join(dir, 'keys.json')) && /not a valid Thingport keys file/.test(err.message),
  );
  assert.equal(readFileSync(join(dir, 'keys.json'), 'utf8'), '{ not json');
});

test('readAdminKey is null before the first start', async () => {
  assert.equal(await readAdminKey(dataDir()), null);
});
