import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';

const CLI = fileURLToPath(new URL('./main.js', import.meta.url));
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function workdir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'thingport-cli-'));
  dirs.push(dir);
  return dir;
}

/** The test's environment without THINGPORT_* settings, so a developer's shell cannot change results. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('THINGPORT_') || k.startsWith('THINGPORT_TEST_')));
}

function run(args: string[], cwd = workdir()) {
  return spawnSync(process.execPath, [CLI, ...args], { cwd, env: cleanEnv(), encoding: 'utf8', timeout: 30_000 });
}

/** Listen-free settings for a server start in a temporary directory. */
function ephemeralArgs(dataDir: string): string[] {
  return ['--data-dir', dataDir, '--host', '127.0.0.1', '--mqtt-port', '0', '--mqtts-port', '0', '--http-port', '0', '--https-port', '0', '--log-level', 'silent'];
}

describe('thingport CLI', () => {
  test('--version prints the package version', () => {
    const res = run(['--version']);
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as { version: string };
    assert.equal(res.status, 0);
    assert.equal(res.stdout, `${pkg.version}\n`);
  });

  test('help, --help and serve --help print usage', () => {
    for (const args of [['help'], ['--help'], ['serve', '--help']]) {
      const res = run(args);
      assert.equal(res.status, 0, args.join(' '));
      assert.match(res.stdout, /^Usage: thingport/);
    }
  });

  test('an unknown command exits 2', () => {
    const res = run(['frobnicate']);
    assert.equal(res.status, 2);
    assert.match(res.stderr, /unknown command "frobnicate"/);
  });

  test('invalid configuration prints every problem, one per line, and exits 2', () => {
    const res = run(['serve', '--mqtt-port', 'abc', '--bogus', '1']);
    assert.equal(res.status, 2);
    const lines = res.stderr.trimEnd().split('\n');
    assert.equal(lines[0], 'thingport: invalid configuration:');
    assert.ok(lines.includes('mqttPort: must be an integer 0-65535 or "off" (from --mqtt-port "abc")'), res.stderr);
    assert.ok(lines.some((l) => l.startsWith('--bogus: unknown setting')), res.stderr);
    assert.equal(lines.length, 3);
  });

  test('a port in use fails with one sentence on stderr and exit 1, no stack trace', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    try {
      const { port } = blocker.address() as AddressInfo;
      const dir = workdir();
      const args = [...ephemeralArgs(join(dir, 'data')), '--mqtt-port', String(port)];
      const res = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [CLI, 'serve', ...args], { cwd: dir, env: cleanEnv() });
        let stderr = '';
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
        child.on('exit', (status) => resolve({ status, stderr }));
      });
      assert.equal(res.status, 1);
      assert.match(res.stderr, new RegExp(`^thingport: mqttPort ${port} is in use`));
      assert.doesNotMatch(res.stderr, /\n\s+at /);
    } finally {
      blocker.close();
    }
  });

  test('SIGTERM stops the server and exits 0', async () => {
    const dir = workdir();
    const dataDir = join(dir, 'data');
    const child = spawn(process.execPath, [CLI, 'serve', ...ephemeralArgs(dataDir)], { cwd: dir, env: cleanEnv() });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (status) => resolve(status)));
    // endpoints.json appears once every listener is bound.
    const deadline = Date.now() + 20_000;
    while (!existsSync(join(dataDir, 'endpoints.json'))) {
      if (child.exitCode !== null || Date.now() > deadline) assert.fail(`server did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
  });
});
