import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { ensureAdminCredentials } from '../identity/index.js';

const CLI = fileURLToPath(new URL('./main.js', import.meta.url));
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function workdir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'thingport-cli-keys-'));
  dirs.push(dir);
  return dir;
}

/** The environment without THINGPORT_* settings, so a developer's shell cannot change results. */
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('THINGPORT_')));
const run = (args: string[], cwd: string) => spawnSync(process.execPath, [CLI, ...args], { cwd, env, encoding: 'utf8', timeout: 30_000 });

test('thingport keys create / list / revoke work offline on the data directory, the admin key included', async () => {
  const cwd = workdir();
  const dataDir = join(cwd, 'data');
  const admin = await ensureAdminCredentials(dataDir, { region: 'us-east-1', endpoint: 'http://127.0.0.1:1' });

  const created = run(['keys', 'create', '--name', 'ci-bot', '--json'], cwd);
  assert.equal(created.status, 0, created.stderr);
  const key = JSON.parse(created.stdout) as { accessKeyId: string; secretAccessKey: string; name: string };
  assert.match(key.accessKeyId, /^AKIA[A-Z0-9]{16}$/);
  assert.equal(key.name, 'ci-bot');

  const listed = JSON.parse(run(['keys', 'list', '--json', '--data-dir', dataDir], workdir()).stdout) as Array<{ accessKeyId: string; name: string; status: string }>;
  assert.deepEqual(listed.map((k) => [k.accessKeyId, k.name, k.status]).sort(), [[admin.accessKeyId, 'admin', 'ACTIVE'], [key.accessKeyId, 'ci-bot', 'ACTIVE']].sort());
  assert.doesNotMatch(run(['keys', 'list'], cwd).stdout, new RegExp(key.secretAccessKey), 'list never shows secrets');

  const revoked = run(['keys', 'revoke', key.accessKeyId], cwd);
  assert.equal(revoked.status, 0, revoked.stderr);
  assert.match(revoked.stdout, /Revoked AKIA/);
  assert.equal(run(['keys', 'revoke', key.accessKeyId], cwd).status, 1, 'already revoked');
  assert.match(run(['keys', 'list'], cwd).stdout, new RegExp(`${key.accessKeyId}\\s+ci-bot\\s+REVOKED`));
});

test('usage errors exit 2; a missing database is explained', () => {
  const cwd = workdir();
  assert.equal(run(['keys'], cwd).status, 2);
  assert.equal(run(['keys', 'frobnicate'], cwd).status, 2);
  assert.equal(run(['keys', 'revoke'], cwd).status, 2);
  assert.equal(run(['keys', 'create', '--name', 'bad name!'], cwd).status, 2);
  const missing = run(['keys', 'list', '--data-dir', join(cwd, 'nowhere')], cwd);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no Thingport database/);
  assert.match(run(['keys', 'help'], cwd).stdout, /^Usage: thingport keys create/);
});
