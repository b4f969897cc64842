/**
 * The three brokers under test: how to find them, their versions, and how to start one on a
 * free loopback port with a private data directory. Nothing here touches the system Mosquitto
 * on 1883: every instance gets its own config file, port and directory.
 */
import { spawn, execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, symlinkSync, existsSync, mkdtempSync, readFileSync, writeFileSync, openSync, closeSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const require = createRequire(import.meta.url);
const MOSQUITTO_CANDIDATES = ['/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto', '/usr/bin/mosquitto'];

/** A free TCP port on 127.0.0.1 (asked of the kernel, then released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function findMosquitto() {
  return MOSQUITTO_CANDIDATES.find((p) => existsSync(p)) ?? null;
}

/**
 * Makes sure Mosquitto is installed, trying Debian's package when it is not.
 * Returns { path } or { missing: reason }.
 */
export function ensureMosquitto(log) {
  let bin = findMosquitto();
  if (bin) return { path: bin };
  log('mosquitto not found; trying `apt-get update && apt-get install -y mosquitto` ...');
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const prefix = isRoot ? [] : ['sudo', '-n'];
  const run = (args) => spawnSync(prefix[0] ?? args[0], prefix.length ? [...prefix.slice(1), ...args] : args.slice(1), { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  const upd = run(['apt-get', 'update']);
  const inst = upd.status === 0 ? run(['apt-get', 'install', '-y', '--no-install-recommends', 'mosquitto']) : upd;
  bin = findMosquitto();
  if (bin) return { path: bin };
  const why = inst.error ? inst.error.message : `apt-get exited with ${inst.status}`;
  return { missing: `Mosquitto is not installed and could not be installed (${why}); run \`apt-get install mosquitto\` as root` };
}

function mosquittoVersion(bin) {
  const r = spawnSync(bin, ['-h'], { encoding: 'utf8' });
  const m = /mosquitto version (\S+)/.exec(`${r.stdout}${r.stderr}`);
  return m ? m[1] : 'unknown';
}

function packageVersion(name) {
  try {
    // Not require.resolve('x/package.json'): packages with an `exports` map may hide it.
    let dir = path.dirname(require.resolve(name));
    while (dir !== path.dirname(dir)) {
      const file = path.join(dir, 'package.json');
      if (existsSync(file)) {
        const pkg = JSON.parse(readFileSync(file, 'utf8'));
        if (pkg.name === name) return pkg.version;
      }
      dir = path.dirname(dir);
    }
    return null;
  } catch {
    return null;
  }
}

/**
 * Detects the brokers. Each entry: { name, version, missing? , start(opts) }.
 * start({ port, dataDir, options }) resolves to a handle { pid, port, proc, stop(), kill(), exited, logFile }.
 * `options`: { durable, maxQueued, httpPort (Thingport's API, for the rules scenarios), thingportFlags } — see scenarios.mjs.
 */
/** The Node flags in a script's `#!/usr/bin/env -S node --flag ...` line ([] for a plain `node`). */
export function launcherNodeFlags(script) {
  const first = readFileSync(script, 'utf8').split('\n', 1)[0];
  const m = /^#!\S*env(?: -S)? node((?: --?[\w=.-]+)*)\s*$/.exec(first);
  return m ? m[1].trim().split(/\s+/).filter(Boolean) : [];
}

export function detectBrokers(log, { thingportRoot = ROOT } = {}) {
  const list = {};
  const thingportMain = path.join(thingportRoot, 'dist/src/cli/main.js');
  list.thingport = {
    name: 'thingport',
    version: JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version,
    missing: existsSync(thingportMain) ? null : 'dist/src/cli/main.js not built (run `npm run build`)',
    command(port, dataDir, options) {
      const args = [
        thingportMain, 'serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--mqtt-port', String(port),
        '--mqtts-port', 'off', '--http-port', options.httpPort !== undefined ? String(options.httpPort) : 'off', '--https-port', 'off', '--log-level', 'warn',
      ];
      if (options.maxQueued !== undefined) args.push('--mqtt.max-queued-messages', String(options.maxQueued));
      for (const [k, v] of Object.entries(options.thingportFlags ?? {})) args.push(`--${k}`, String(v));
      // --cpu-prof DIR of the harness: a V8 CPU profile per broker process, written when it stops.
      if (options.cpuProfDir) args.unshift('--cpu-prof', '--cpu-prof-dir', options.cpuProfDir);
      // Thingport runs with the Node flags of its own launcher (the `thingport` command's shebang,
      // also used by `npm start`), then any experiment flags; see bench/README.md.
      const nodeFlags = [...launcherNodeFlags(thingportMain), ...(process.env.BENCH_THINGPORT_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean)];
      return [process.execPath, [...nodeFlags, ...args]];
    },
  };
  const mq = ensureMosquitto(log);
  list.mosquitto = {
    name: 'mosquitto',
    version: mq.path ? mosquittoVersion(mq.path) : null,
    missing: mq.missing ?? null,
    command(port, dataDir, options) {
      const conf = path.join(dataDir, 'mosquitto.conf');
      // Started as root, Mosquitto drops to the `mosquitto` user: it must be able to write its
      // persistence file into the (mkdtemp, mode 0700) directory.
      chmodSync(dataDir, 0o777);
      writeFileSync(conf, mosquittoConfig(port, dataDir, options));
      return [mq.path, ['-c', conf]];
    },
  };
  const aedesVersion = packageVersion('aedes');
  list.aedes = {
    name: 'aedes',
    version: aedesVersion,
    persistenceVersion: packageVersion('aedes-persistence'),
    missing: aedesVersion ? null : 'aedes is not installed (run `npm install`; it is a devDependency)',
    command(port) {
      return [process.execPath, [path.join(ROOT, 'bench/peers/aedes-server.mjs'), '--port', String(port), '--host', '127.0.0.1']];
    },
  };
  return list;
}

/**
 * Mosquitto's config for one instance. Durable variant: `persistence true` with
 * `autosave_interval 1` (the in-memory database is written to disk every second; Mosquitto has
 * no per-message write-ahead log, so a kill -9 can lose up to that last second).
 */
export function mosquittoConfig(port, dataDir, options) {
  const lines = [
    '# Generated by bench/lib/brokers.mjs for one benchmark run.',
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
  ];
  if (options.durable) {
    lines.push('persistence true', `persistence_location ${dataDir}/`, 'autosave_interval 1', 'autosave_on_changes false');
  } else {
    lines.push('persistence false');
  }
  // No queue limit: Mosquitto 2.0.11 drops QoS 1 messages to an online subscriber under
  // fan-in load with any non-zero max_queued_messages (1,000 or 100,000 alike) although the
  // generator never lets more than 800 be outstanding (mosquitto_sub is dropped too). With 0 the
  // check is skipped; the generator bounds the real backlog. See bench/README.md.
  lines.push('max_queued_messages 0');
  return `${lines.join('\n')}\n`;
}

/** Hard file-descriptor limit, so children can raise their soft limit to it. */
export function fdLimits() {
  try {
    const soft = Number(execFileSync('/bin/sh', ['-c', 'ulimit -Sn'], { encoding: 'utf8' }).trim());
    const hard = execFileSync('/bin/sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
    return { soft, hard: hard === 'unlimited' ? Infinity : Number(hard) };
  } catch {
    return { soft: 1024, hard: 1024 };
  }
}

/**
 * Spawns `cmd args` with the soft fd limit raised to the hard limit (10,000 idle connections
 * need more than the usual 1024), stdout/stderr to `logFile`.
 */
export function spawnWithFds(cmd, args, logFile, extra = {}) {
  const fd = openSync(logFile, 'a');
  const child = spawn('/bin/sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', cmd, ...args], {
    stdio: ['ignore', fd, fd, ...(extra.ipc ? ['ipc'] : [])],
    env: extra.env ?? process.env,
  });
  closeSync(fd);
  return child;
}

/** Waits until something accepts TCP on `port`, or the process exits, or `timeoutMs`. */
async function waitListening(port, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    const ok = await new Promise((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return true;
    await sleep(50);
  }
  return false;
}

/** Last lines of a broker's log, for failure reports. */
export function tail(file, lines = 12) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * Starts one broker instance. The handle's `exited` promise settles when the process ends;
 * `unexpectedExit` is set if that happens before stop() or kill().
 */
export async function startBroker(broker, { port, dataDir, options = {} }) {
  const [cmd, args] = broker.command(port, dataDir, options);
  const logFile = path.join(dataDir, `${broker.name}.log`);
  const started = Date.now();
  const proc = spawnWithFds(cmd, args, logFile);
  const handle = {
    name: broker.name,
    pid: proc.pid,
    port,
    dataDir,
    proc,
    logFile,
    stopping: false,
    unexpectedExit: null,
    exited: null,
  };
  handle.exited = new Promise((resolve) => {
    proc.once('exit', (code, signal) => {
      if (!handle.stopping) handle.unexpectedExit = { code, signal, log: tail(logFile) };
      resolve({ code, signal });
    });
  });
  const ok = await waitListening(port, proc, 30_000);
  if (!ok) {
    handle.stopping = true;
    proc.kill('SIGKILL');
    await handle.exited;
    throw new Error(`${broker.name} did not start listening on ${port}:\n${tail(logFile)}`);
  }
  handle.startMs = Date.now() - started;
  handle.stop = async () => {
    handle.stopping = true;
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await handle.exited;
      clearTimeout(t);
    }
  };
  handle.kill9 = async () => {
    handle.stopping = true;
    proc.kill('SIGKILL');
    await handle.exited;
  };
  return handle;
}

/**
 * Copies dist/ (plus package.json and a node_modules link) to a temporary directory, so every
 * run of one benchmark uses the same Thingport build even if the working tree is rebuilt
 * meanwhile. Returns the snapshot's root, or null when there is no build to copy.
 */
export function snapshotThingport() {
  if (!existsSync(path.join(ROOT, 'dist/src/cli/main.js'))) return null;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'thingport-bench-build-'));
  cpSync(path.join(ROOT, 'dist'), path.join(dir, 'dist'), { recursive: true });
  cpSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

/** A private data directory for one broker instance. */
export function makeDataDir(tag) {
  return mkdtempSync(path.join(os.tmpdir(), `thingport-bench-${tag}-`));
}

export function removeDataDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}

export { ROOT };
