#!/usr/bin/env -S node --max-semi-space-size=4
/**
 * The `thingport` command. Argument dispatch and user-facing output only: configuration is
 * loadConfig's job and starting the server is startThingport's (src/main.ts).
 *
 * Exit codes: 0 done, 1 start or stop failed, 2 usage or configuration error,
 * 130 interrupted again while stopping.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../core/index.js';

const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

const HELP = `Usage: thingport [serve] [options]
       thingport keys create [--name N] | list | revoke ID   (see thingport keys help)
       thingport shadow get|history THING [--name SHADOW]   (see thingport shadow help)
       thingport rules test|list|get|traces|tables ...       (see thingport rules help)
       thingport help | --help
       thingport --version

Commands:
  serve (default)   Start the broker, HTTP API and console. The first start creates the
                    data directory: database, private root CA, server certificate and an
                    admin access key written as an AWS credentials file (profile thingport).
  shadow            Read device shadows and their history from the data directory.
  rules             Test topic rules (stored ones, or ad-hoc SQL without a server) against a
                    message; list and show stored rules, their recent traces and local tables.
  keys              Create, list and revoke access keys of the HTTP API (offline, on the
                    data directory).

Options (each also THINGPORT_<NAME> in the environment, or <name> in thingport.yaml):
  --config FILE            YAML config file (default: ./thingport.yaml if present)
  --data-dir DIR           Data directory (default: ./data; env also THINGPORT_DATA)
  --host ADDRESS           Bind address of every listener (default: 0.0.0.0)
  --mqtt-port PORT         MQTT over TCP (default: 1883)
  --mqtts-port PORT        MQTT over TLS (default: 8883)
  --http-port PORT         HTTP API, WebSocket MQTT and console (default: 8080)
  --https-port PORT        HTTPS API, data plane and secure WebSocket (default: 8443)
                           A port of 0 picks a free one; off disables the listener.
  --log-level LEVEL        fatal, error, warn, info, debug, trace or silent (default: info)
  --profile NAME           default, or aws-strict to reject what AWS IoT Core lacks
                           (QoS 2, subscription identifiers)
  --region REGION          Region in ARNs and the AWS config file (default: us-east-1)
  --account-id ID          12-digit account id in ARNs (default: 000000000000)
  --allow-anonymous        Admit MQTT clients without credentials from any address
  --tls-hostname NAME      Extra name or IP for the server certificate (repeatable)
  --mqtt.<setting> VALUE   Any MQTT limit, e.g. --mqtt.max-qos 1, --mqtt.max-payload-bytes 262144
                           (env: THINGPORT_MQTT__MAX_QOS=1; yaml: mqtt: { maxQos: 1 })

Precedence: flags > environment > thingport.yaml > defaults.
Set THINGPORT_DEBUG=1 to print stack traces on failure.
`;

/** Reads the package version from the nearest package.json above this file (dist/src/cli or src/cli). */
function readVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'thingport' && pkg.version) return pkg.version;
    } catch {
      // no package.json here: keep walking up
    }
    const parent = dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}

/** Prints a failure as one sentence; the stack only when THINGPORT_DEBUG asks for it. */
function printFailure(err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`thingport: ${message}\n`);
  if (process.env.THINGPORT_DEBUG && err instanceof Error) process.stderr.write(`${err.stack ?? ''}\n`);
}

/** A human-readable summary of where Thingport listens (stdout carries the JSON log). */
function describeEndpoints(ep: import('../main.js').Endpoints): string {
  const lines = [
    'Thingport is running:',
    `  MQTT              ${ep.mqtt ?? 'off'}`,
    `  MQTT over TLS     ${ep.mqtts ?? 'off'}`,
    `  MQTT/WebSocket    ${ep.ws ?? 'off'}${ep.wss !== null ? `  ${ep.wss}` : ''}`,
    `  HTTP API          ${ep.http ?? 'off'}${ep.https !== null ? `  ${ep.https}` : ''}`,
    `  CA certificate    ${ep.caFile}`,
    `  AWS credentials   ${ep.credentialsFile} (profile ${ep.profile})`,
  ];
  if (ep.http !== null) lines.push(`  health / metrics  ${ep.http}/health  ${ep.http}/metrics`);
  const api = ep.http ?? ep.https;
  if (api !== null) {
    lines.push(
      'Use the AWS CLI with the admin key:',
      `  AWS_SHARED_CREDENTIALS_FILE=${ep.credentialsFile} AWS_CONFIG_FILE=${ep.configFile} \\`,
      `    aws --profile ${ep.profile} --endpoint-url ${api} iot list-things`,
    );
  }
  return lines.join('\n') + '\n';
}

/** `thingport serve`: load the configuration, start, and stop on SIGINT/SIGTERM. */
async function serve(args: readonly string[]): Promise<void> {
  const loaded = loadConfig({ argv: args, env: process.env, cwd: process.cwd() });
  if (!loaded.ok) {
    process.stderr.write(`thingport: invalid configuration:\n${loaded.problems.map((p) => `${p}\n`).join('')}`);
    process.exit(EXIT.usage);
  }
  // Signals are handled from before start-up: a SIGTERM that arrives while the server is starting
  // (a service manager stopping it early, a test that saw endpoints.json) stops it cleanly once it
  // is up, instead of killing the process with Node's default handler.
  let tp: Awaited<ReturnType<typeof import('../main.js').startThingport>> | null = null;
  let requested: NodeJS.Signals | null = null;
  const stop = (signal: NodeJS.Signals, server: NonNullable<typeof tp>): void => {
    server.stop(signal).then(
      () => process.exit(EXIT.ok),
      (err: unknown) => {
        printFailure(err);
        process.exit(EXIT.failed);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (requested !== null) {
      // A second Ctrl-C means "now": do not wait for a shutdown that may be stuck.
      process.stderr.write(`thingport: ${signal} again, exiting without finishing shutdown\n`);
      process.exit(EXIT.interrupted);
    }
    requested = signal;
    if (tp !== null) stop(signal, tp);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // Imported here, not at the top: help and --version must work without loading the server.
  const { startThingport } = await import('../main.js');
  try {
    tp = await startThingport(loaded.config, { configFile: loaded.configFile });
  } catch (err) {
    printFailure(err);
    process.exit(EXIT.failed);
  }
  process.stderr.write(describeEndpoints(tp.endpoints));
  if (requested !== null) stop(requested, tp);
}

async function main(argv: readonly string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'keys') {
    const { runKeys } = await import('./keys.js');
    const io = { out: (t: string) => void process.stdout.write(t), err: (t: string) => void process.stderr.write(t), env: process.env, cwd: process.cwd() };
    process.exitCode = await runKeys(rest, io);
    return;
  }
  if (command === 'shadow') {
    const { runShadow } = await import('./shadow.js');
    process.exitCode = runShadow(rest, { out: (t: string) => void process.stdout.write(t), err: (t: string) => void process.stderr.write(t), env: process.env, cwd: process.cwd() });
    return;
  }
  if (command === 'rules') {
    const { runRules } = await import('./rules.js');
    process.exitCode = await runRules(rest, { out: (t: string) => void process.stdout.write(t), err: (t: string) => void process.stderr.write(t), env: process.env, cwd: process.cwd() });
    return;
  }
  if (command === 'help' || argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP);
    return;
  }
  if (command === '--version' || command === '-v' || command === 'version') {
    process.stdout.write(`${readVersion()}\n`);
    return;
  }
  if (command === 'serve') return serve(rest);
  if (command === undefined || command.startsWith('-')) return serve(argv);
  process.stderr.write(`thingport: unknown command "${command}"; run "thingport help" for usage\n`);
  process.exit(EXIT.usage);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  printFailure(err);
  process.exit(EXIT.failed);
});
