import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadConfig, type LoadConfigResult } from './config.js';
import type { ThingportConfig } from './config-schema.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A fresh working directory, optionally holding a thingport.yaml. */
function workdir(yaml?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'thingport-config-'));
  dirs.push(dir);
  if (yaml !== undefined) writeFileSync(join(dir, 'thingport.yaml'), yaml);
  return dir;
}

function load(argv: string[] = [], env: NodeJS.ProcessEnv = {}, cwd = workdir()): LoadConfigResult {
  return loadConfig({ argv, env, cwd });
}

function ok(result: LoadConfigResult): ThingportConfig {
  if (!result.ok) assert.fail(`expected a valid config, got:\n${result.problems.join('\n')}`);
  return result.config;
}

function problems(result: LoadConfigResult): string[] {
  if (result.ok) assert.fail('expected problems, got a valid config');
  return result.problems;
}

describe('loadConfig defaults', () => {
  test('no flags, no env, no file: schema defaults, absolute dataDir, deeply frozen', () => {
    const cwd = workdir();
    const result = load([], {}, cwd);
    const config = ok(result);
    assert.equal(result.ok && result.configFile, null);
    assert.equal(config.dataDir, join(cwd, 'data'));
    assert.equal(config.mqttPort, 1883);
    assert.equal(config.httpsPort, 8443);
    assert.equal(config.mqtt.maxQos, 2);
    assert.deepEqual(config.tlsHostnames, []);
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.mqtt));
    assert.ok(Object.isFrozen(config.tlsHostnames));
  });
});

describe('loadConfig precedence', () => {
  test('flags > environment > thingport.yaml > defaults, key by key', () => {
    const cwd = workdir('mqttPort: 1001\nhttpPort: 1002\nhost: 127.0.0.2\nmqtt:\n  maxInflight: 7\n');
    const result = load(['--mqtt-port', '3001'], { THINGPORT_MQTT_PORT: '2001', THINGPORT_HTTP_PORT: '2002' }, cwd);
    const config = ok(result);
    assert.equal(config.mqttPort, 3001); // flag
    assert.equal(config.httpPort, 2002); // env
    assert.equal(config.host, '127.0.0.2'); // yaml
    assert.equal(config.mqtt.maxInflight, 7); // yaml, nested
    assert.equal(config.mqtt.receiveMaximum, 100); // default
    assert.equal(result.ok && result.configFile, join(cwd, 'thingport.yaml'));
  });

  test('--config beats THINGPORT_CONFIG, which beats ./thingport.yaml', () => {
    const cwd = workdir('host: from-default\n');
    writeFileSync(join(cwd, 'a.yaml'), 'host: from-flag\n');
    writeFileSync(join(cwd, 'b.yaml'), 'host: from-env\n');
    assert.equal(ok(load(['--config', 'a.yaml'], { THINGPORT_CONFIG: 'b.yaml' }, cwd)).host, 'from-flag');
    assert.equal(ok(load(['--config=a.yaml'], {}, cwd)).host, 'from-flag');
    assert.equal(ok(load([], { THINGPORT_CONFIG: 'b.yaml' }, cwd)).host, 'from-env');
    assert.equal(ok(load([], {}, cwd)).host, 'from-default');
  });

  test('a missing explicit file is a problem; a missing default file is not', () => {
    const cwd = workdir();
    assert.ok(load([], {}, cwd).ok);
    const [p] = problems(load(['--config', 'nope.yaml'], {}, cwd));
    assert.equal(p, `config: file not found: ${join(cwd, 'nope.yaml')} (from --config "nope.yaml")`);
    assert.match(problems(load([], { THINGPORT_CONFIG: 'gone.yaml' }, cwd))[0], /file not found.*THINGPORT_CONFIG="gone.yaml"/);
  });

  test('dataDir resolves against cwd; THINGPORT_DATA and THINGPORT_DATA_DIR both name it', () => {
    const cwd = workdir();
    assert.equal(ok(load(['--data-dir', 'state'], {}, cwd)).dataDir, join(cwd, 'state'));
    assert.equal(ok(load([], { THINGPORT_DATA: '/var/lib/tp' }, cwd)).dataDir, '/var/lib/tp');
    assert.equal(ok(load([], { THINGPORT_DATA_DIR: 'd2' }, cwd)).dataDir, join(cwd, 'd2'));
    assert.match(problems(load([], { THINGPORT_DATA: 'a', THINGPORT_DATA_DIR: 'b' }, cwd))[0], /^dataDir: .*disagree/);
  });
});

describe('loadConfig coercion', () => {
  test('nested keys by flag (kebab or camel, space or =) and by env (double underscore)', () => {
    assert.equal(ok(load(['--mqtt.max-qos', '1'])).mqtt.maxQos, 1);
    assert.equal(ok(load(['--mqtt.maxQos=0'])).mqtt.maxQos, 0);
    assert.equal(ok(load([], { THINGPORT_MQTT__MAX_QOS: '1' })).mqtt.maxQos, 1);
    assert.equal(ok(load([], { THINGPORT_MQTT__RETAIN_AVAILABLE: '0' })).mqtt.retainAvailable, false);
    assert.equal(ok(load(['--log-level', 'debug'])).logLevel, 'debug');
  });

  test('boolean flags: alone is true, =false and a following true/false word are values', () => {
    assert.equal(ok(load(['--allow-anonymous'])).mqtt.allowAnonymous, true);
    assert.equal(ok(load(['--allow-anonymous=false'])).mqtt.allowAnonymous, false);
    assert.equal(ok(load(['--allow-anonymous', 'false'])).mqtt.allowAnonymous, false);
    const config = ok(load(['--allow-anonymous', '--mqtt-port', '0']));
    assert.equal(config.mqtt.allowAnonymous, true);
    assert.equal(config.mqttPort, 0);
    assert.equal(ok(load([], { THINGPORT_MQTT__ALLOW_ANONYMOUS: 'true' })).mqtt.allowAnonymous, true);
  });

  test('lists: comma-separated, and --tls-hostname repeats', () => {
    assert.deepEqual(ok(load([], { THINGPORT_TLS_HOSTNAMES: 'a.example, 10.0.0.5' })).tlsHostnames, ['a.example', '10.0.0.5']);
    assert.deepEqual(ok(load(['--tls-hostname', 'a', '--tls-hostname=b,c'])).tlsHostnames, ['a', 'b', 'c']);
    assert.deepEqual(ok(load([], {}, workdir('tlsHostnames: [x.example, y.example]\n'))).tlsHostnames, ['x.example', 'y.example']);
  });

  test('off, false, disabled and none disable a port in flags, env and yaml', () => {
    const cwd = workdir('mqttsPort: false\nhttpPort: none\n');
    const config = ok(load(['--mqtt-port', 'off'], { THINGPORT_HTTPS_PORT: 'disabled' }, cwd));
    assert.equal(config.mqttPort, null);
    assert.equal(config.httpsPort, null);
    assert.equal(config.mqttsPort, null);
    assert.equal(config.httpPort, null);
  });

  test('an unquoted YAML number keeps its text for a string setting (accountId leading zeros)', () => {
    assert.equal(ok(load([], {}, workdir('accountId: 000000000042\n'))).accountId, '000000000042');
  });

  test('empty environment variables count as unset', () => {
    assert.equal(ok(load([], { THINGPORT_MQTT_PORT: '' })).mqttPort, 1883);
  });
});

describe('loadConfig profile aws-strict', () => {
  test('turns off QoS 2 and subscription identifiers', () => {
    const config = ok(load(['--profile', 'aws-strict']));
    assert.equal(config.mqtt.maxQos, 1);
    assert.equal(config.mqtt.subscriptionIdentifiers, false);
  });

  test('explicit settings anywhere win over the profile', () => {
    const cwd = workdir('profile: aws-strict\nmqtt:\n  maxQos: 2\n');
    const config = ok(load([], { THINGPORT_MQTT__SUBSCRIPTION_IDENTIFIERS: 'true' }, cwd));
    assert.equal(config.mqtt.maxQos, 2);
    assert.equal(config.mqtt.subscriptionIdentifiers, true);
  });
});

describe('loadConfig unknown keys', () => {
  test('unknown flags are named, with a suggestion', () => {
    const [p, ...rest] = problems(load(['--mqtt-prot', '1883']));
    assert.equal(p, '--mqtt-prot: unknown setting (from command line); did you mean --mqtt-port?');
    assert.deepEqual(rest, []); // its value is not reported again as a stray argument
  });

  test('unknown THINGPORT_* variables are problems; THINGPORT_TEST_*, THINGPORT_DEBUG and others are not', () => {
    const list = problems(load([], { THINGPORT_MQTT_PROT: '1', THINGPORT_TEST_PORT: 'x', THINGPORT_DEBUG: '1', HOME: '/root' }));
    assert.deepEqual(list, ['THINGPORT_MQTT_PROT: unknown setting (from environment); did you mean THINGPORT_MQTT_PORT?']);
  });

  test('unknown YAML keys are named with file and line', () => {
    const list = problems(load([], {}, workdir('host: 0.0.0.0\nmqtt:\n  maxQoss: 1\nbogus: true\n')));
    assert.deepEqual(list, [
      'mqtt.maxQoss: unknown setting (from thingport.yaml:3); did you mean mqtt.maxQos?',
      'bogus: unknown setting (from thingport.yaml:4)',
    ]);
  });

  test('a group given a value and stray arguments are problems', () => {
    assert.match(problems(load(['--mqtt', '1']))[0], /^--mqtt: mqtt is a group of settings/);
    assert.match(problems(load(['serve']))[0], /^"serve": unexpected argument/);
    assert.match(problems(load([], {}, workdir('mqtt: 5\n')))[0], /^mqtt: must be a mapping of settings/);
  });
});

describe('loadConfig problems', () => {
  test('every problem is collected, one line each, naming the setting and its source', () => {
    const cwd = workdir('region: nowhere\nmqtt:\n  maxQos: 3\n');
    const list = problems(load(['--mqtt-port', 'abc', '--host'], { THINGPORT_HTTP_PORT: '70000', THINGPORT_MQTT__RETAIN_AVAILABLE: 'maybe' }, cwd));
    assert.deepEqual(list.sort(), [
      'host: missing value (from --host)',
      'httpPort: must be an integer 0-65535 or "off" (from THINGPORT_HTTP_PORT="70000")',
      'mqtt.maxQos: must be one of 0, 1, 2 (from thingport.yaml:3 3)',
      'mqtt.retainAvailable: must be true or false (from THINGPORT_MQTT__RETAIN_AVAILABLE="maybe")',
      'mqttPort: must be an integer 0-65535 or "off" (from --mqtt-port "abc")',
      'region: must look like us-east-1 (from thingport.yaml:1 "nowhere")',
    ]);
  });

  test('YAML syntax errors name the file and line', () => {
    const [p] = problems(load([], {}, workdir('host: a\nmqtt: [1\nhttpPort: 2\n')));
    assert.match(p, /^thingport\.yaml:\d+: YAML syntax error: /);
  });

  test('enum and empty string values explain themselves', () => {
    assert.deepEqual(problems(load(['--log-level', 'loud', '--host='])), [
      'host: must not be empty (from --host "")',
      'logLevel: must be one of fatal, error, warn, info, debug, trace, silent (from --log-level "loud")',
    ]);
  });
});

describe('loadConfig authorizers (a mapping setting)', () => {
  test('authorizers.functions: a YAML mapping, JSON text in flags and environment; defaults 5000 ms and 300 s', () => {
    const yaml = [
      'authorizers:',
      '  functions:',
      '    "arn:aws:lambda:us-east-1:123456789012:function:auth": { url: "https://auth.example.com/check" }',
      '    local: { module: ./auth.mjs }',
      '',
    ].join('\n');
    const config = ok(load([], {}, workdir(yaml)));
    assert.deepEqual(config.authorizers.functions, {
      'arn:aws:lambda:us-east-1:123456789012:function:auth': { url: 'https://auth.example.com/check' },
      local: { module: './auth.mjs' },
    });
    assert.equal(config.authorizers.timeoutMs, 5_000);
    assert.equal(config.authorizers.minTtlSeconds, 300);
    const fromEnv = ok(load([], { THINGPORT_AUTHORIZERS__FUNCTIONS: '{"a":{"module":"/x.mjs"}}' }));
    assert.deepEqual(fromEnv.authorizers.functions, { a: { module: '/x.mjs' } });
    const fromFlag = ok(load(['--authorizers.functions', '{"b":{"url":"http://127.0.0.1:9000/"}}', '--authorizers.timeout-ms', '800']));
    assert.deepEqual(fromFlag.authorizers.functions, { b: { url: 'http://127.0.0.1:9000/' } });
    assert.equal(fromFlag.authorizers.timeoutMs, 800);
  });

  test('a function that is neither { url } nor { module }, or text that is not JSON, is a problem naming the setting', () => {
    assert.match(problems(load(['--authorizers.functions', 'not json'])).join('\n'), /^authorizers\.functions: must be a mapping/m);
    assert.match(problems(load(['--authorizers.functions', '{"a":{"lambda":"x"}}'])).join('\n'), /authorizers\.functions/);
    assert.match(problems(load(['--authorizers.functions', '{"a":{"url":"ftp://x"}}'])).join('\n'), /authorizers\.functions/);
  });
});
