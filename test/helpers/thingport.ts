/**
 * Starts the real `thingport serve` as a child process on ephemeral loopback ports, the way a
 * user would, and reads what it bound from `<data-dir>/endpoints.json`. Each test file starts
 * one (in `before`) and stops it (in `after`); restart and kill -9 reuse the same data dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What the server writes to `<data-dir>/endpoints.json` once listening (null = listener disabled). */
export type { Endpoints } from '../../src/main.js';
import type { Endpoints } from '../../src/main.js';

export interface StartOptions {
  /** Extra flags after the defaults (ephemeral ports on 127.0.0.1, log level warn). */
  args?: string[];
  /** Extra environment variables; inherited THINGPORT_* variables are removed first. */
  env?: Record<string, string>;
  /** Use this data directory (kept on stop) instead of a fresh temporary one. */
  dataDir?: string;
  /** Keep the temporary directory on stop (for a later start on the same data). */
  keepDataDir?: boolean;
  /** How long to wait for endpoints.json. */
  startTimeoutMs?: number;
}

export const CLI_PATH = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;
const POLL_MS = 20;

/** The flags every test instance gets: loopback only, every port picked by the OS. */
export function baseArgs(dataDir: string): string[] {
  return [
    'serve',
    '--data-dir', dataDir,
    '--host', '127.0.0.1',
    '--mqtt-port', '0',
    '--mqtts-port', '0',
    '--http-port', '0',
    '--https-port', '0',
    '--log-level', 'warn',
  ];
}

/** process.env without THINGPORT_* (a developer's own settings must not leak into tests). */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('THINGPORT_')) env[k] = v;
  return { ...env, ...extra };
}

/** Live children, killed if the test process exits without stopping them. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export class Thingport {
  endpoints!: Endpoints;
  mqttUrl = '';
  mqttPort = 0;
  /** The last exit code seen (after stop/kill9). */
  exitCode: number | null = null;

  private child: ChildProcess | null = null;
  private out = '';
  private err = '';
  private exited: Promise<number | null> = Promise.resolve(null);

  constructor(
    readonly dataDir: string,
    /** The directory this helper created (removed on stop), or null for a caller-owned data dir. */
    private readonly ownedDir: string | null,
    private readonly opts: StartOptions,
  ) {}

  /** Captured stdout of the current process. */
  stdout(): string {
    return this.out;
  }

  /** Captured stderr of the current process. */
  stderr(): string {
    return this.err;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The HTTP base URL, e.g. `http://127.0.0.1:PORT`. */
  get httpUrl(): string {
    if (!this.endpoints.http) throw new Error('the HTTP listener is disabled');
    return this.endpoints.http;
  }

  /** Port of a listener URL from endpoints.json. */
  port(name: 'mqtt' | 'mqtts' | 'http' | 'https' | 'ws' | 'wss'): number {
    const url = this.endpoints[name];
    if (!url) throw new Error(`the ${name} listener is disabled`);
    return Number(new URL(url).port);
  }

  /** Spawns `thingport serve` and resolves once endpoints.json names the new process. */
  async start(): Promise<this> {
    this.out = '';
    this.err = '';
    const child = spawn(process.execPath, [CLI_PATH, ...baseArgs(this.dataDir), ...(this.opts.args ?? [])], {
      env: cleanEnv(this.opts.env),
      // Not the repository: a thingport.yaml lying there must not be read.
      cwd: this.ownedDir ?? tmpdir(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    live.add(child);
    child.stdout?.setEncoding('utf8').on('data', (s: string) => (this.out += s));
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (this.err += s));
    this.exited = new Promise((resolve) => {
      child.once('exit', (code) => {
        live.delete(child);
        this.exitCode = code;
        resolve(code);
      });
    });

    const file = join(this.dataDir, 'endpoints.json');
    const deadline = Date.now() + (this.opts.startTimeoutMs ?? START_TIMEOUT_MS);
    let exitedEarly = false;
    void this.exited.then(() => (exitedEarly = true));
    for (;;) {
      if (exitedEarly) {
        throw new Error(`thingport exited (code ${this.exitCode}) before listening.\nstderr:\n${this.err}\nstdout:\n${this.out}`);
      }
      const ep = await readEndpoints(file);
      if (ep && ep.pid === child.pid) {
        this.endpoints = ep;
        this.mqttUrl = ep.mqtt ?? '';
        this.mqttPort = ep.mqtt ? Number(new URL(ep.mqtt).port) : 0;
        return this;
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`thingport did not write ${file} within the start timeout.\nstderr:\n${this.err}\nstdout:\n${this.out}`);
      }
      await pause(POLL_MS);
    }
  }

  /** SIGTERM, wait for exit (SIGKILL after 10 s); removes the temp dir it created unless kept. */
  async stop(opts: { keepDataDir?: boolean } = {}): Promise<number | null> {
    const code = await this.terminate('SIGTERM');
    if (this.ownedDir && !(opts.keepDataDir ?? this.opts.keepDataDir)) {
      await rm(this.ownedDir, { recursive: true, force: true });
    }
    return code;
  }

  /** kill -9: no shutdown code runs; the data dir stays for a restart. */
  async kill9(): Promise<void> {
    await this.terminate('SIGKILL');
  }

  /** Stops (gracefully, if still running) and starts again on the same data dir and flags. Ports change. */
  async restart(): Promise<this> {
    await this.terminate('SIGTERM');
    return this.start();
  }

  /** Sends a signal and waits for the process to exit. Returns its exit code (null if killed by a signal). */
  async terminate(signal: NodeJS.Signals): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return this.exitCode;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  /** Resolves with the exit code when the process exits by itself. */
  waitExit(): Promise<number | null> {
    return this.exited;
  }
}

/**
 * Starts Thingport on a fresh temporary data dir (or the one given) and waits until it listens.
 * The handle's stop() removes the temporary directory.
 */
export async function startThingport(opts: StartOptions = {}): Promise<Thingport> {
  let dataDir = opts.dataDir;
  let owned: string | null = null;
  if (!dataDir) {
    owned = await mkdtemp(join(tmpdir(), 'thingport-test-'));
    // A path that does not exist yet: first start creates it.
    dataDir = join(owned, 'data');
  }
  const tp = new Thingport(dataDir, owned, opts);
  try {
    return await tp.start();
  } catch (e) {
    if (owned) await rm(owned, { recursive: true, force: true });
    throw e;
  }
}

/** Runs the CLI to completion (for start-up failures); kills it after timeoutMs. */
export async function runThingport(
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  const child = spawn(process.execPath, [CLI_PATH, ...args], {
    env: cleanEnv(opts.env),
    cwd: opts.cwd ?? tmpdir(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs ?? START_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  live.delete(child);
  return { code, stdout, stderr, timedOut };
}

async function readEndpoints(file: string): Promise<Endpoints | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Endpoints;
  } catch {
    // Absent, or caught half-written.
    return null;
  }
}

/** Polling interval only; tests themselves wait for events, never for time. */
function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
