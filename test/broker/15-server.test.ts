/**
 * 15 — The server around the broker: /health, Prometheus /metrics, endpoints.json and the data
 * directory, configuration sources and validation (exit code 2, one message per problem, a taken
 * port names its setting), and graceful shutdown (MQTT 5 clients get DISCONNECT 0x8B).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile, open } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectServerDisconnect, rawConnect, rawConnected, type RawClient } from '../helpers/raw-client.js';
import { connectClient, eventually, hasMetric, httpGet, metricValue, uniqueTopic } from '../helpers/mqtt.js';
import { baseArgs, runThingport, startThingport, type Thingport } from '../helpers/thingport.js';

describe('15 server', () => {
  let tp: Thingport;
  before(async () => {
    tp = await startThingport();
  });
  after(async () => {
    await tp?.stop();
  });

  const metrics = async (): Promise<string> => {
    const res = await httpGet(`${tp.httpUrl}/metrics`);
    assert.equal(res.status, 200);
    return res.body;
  };

  test('[Issue 2 §1] GET /health answers 200 with a JSON status', async () => {
    const res = await httpGet(`${tp.httpUrl}/health`);
    assert.equal(res.status, 200);
    assert.match(res.contentType, /json/);
    assert.equal((JSON.parse(res.body) as { status?: string }).status, 'ok');
  });

  test('[Issue 2 §1] GET /metrics is Prometheus text naming every broker measure', async () => {
    const res = await httpGet(`${tp.httpUrl}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.contentType, /^text\/plain/);
    for (const name of [
      'thingport_connections',
      'thingport_sessions',
      'thingport_subscriptions',
      'thingport_retained_messages',
      'thingport_messages_received_total',
      'thingport_messages_sent_total',
      'thingport_bytes_received_total',
      'thingport_bytes_sent_total',
      'thingport_messages_dropped_total',
      'thingport_queued_messages',
      'thingport_inflight_messages',
    ]) {
      assert.ok(hasMetric(res.body, name), `missing ${name}`);
    }
    for (const reason of ['queue_full', 'expired', 'packet_too_large']) {
      assert.match(res.body, new RegExp(`thingport_messages_dropped_total\\{[^}]*reason="${reason}"`), `dropped series for ${reason}`);
    }
  });

  test('[Issue 2 §1] metrics follow the broker: connections, subscriptions, retained, messages by QoS, bytes', async () => {
    const before0 = await metrics();
    const topic = uniqueTopic('metrics');
    const c = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await c.subscribe(topic, { qos: 1 });
    await c.publish(topic, 'counted', { qos: 1, retain: true });
    await c.waitMessage(topic);
    await eventually(
      async () => {
        const now = await metrics();
        const d = (name: string, labels: Record<string, string> = {}): number => metricValue(now, name, labels) - metricValue(before0, name, labels);
        return (
          d('thingport_connections') === 1 &&
          d('thingport_subscriptions') === 1 &&
          d('thingport_retained_messages') === 1 &&
          d('thingport_messages_received_total', { qos: '1' }) === 1 &&
          d('thingport_messages_sent_total', { qos: '1' }) === 1 &&
          d('thingport_bytes_received_total') > 0 &&
          d('thingport_bytes_sent_total') > 0
        );
      },
      3_000,
      'metrics reflect one connection, one subscription, one retained message, one QoS 1 message in and out',
    );
    await c.publish(topic, '', { qos: 1, retain: true });
    await c.end();
    await eventually(async () => metricValue(await metrics(), 'thingport_connections') === metricValue(before0, 'thingport_connections'), 3_000, 'connection gauge back down');
  });

  test('[MQTT-3.1.2-25][Issue 2 §2] a message skipped for exceeding the client\'s Maximum Packet Size is counted as dropped', async () => {
    const reason = { reason: 'packet_too_large' };
    const before0 = metricValue(await metrics(), 'thingport_messages_dropped_total', reason);
    const topic = uniqueTopic('toolarge');
    const { client } = await rawConnected(tp.mqttPort, 5, { properties: { maximumPacketSize: 64 } });
    await client.subscribe([{ topic, qos: 0 }]);
    const pub = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await pub.publish(topic, 'x'.repeat(200), { qos: 1 });
    await eventually(async () => metricValue(await metrics(), 'thingport_messages_dropped_total', reason) === before0 + 1, 3_000, 'one packet_too_large drop');
    client.destroy();
    await pub.end();
  });

  test('[Issue 2 §1][DESIGN endpoints.json] endpoints.json lists what was bound and where the files are', async () => {
    const ep = JSON.parse(await readFile(join(tp.dataDir, 'endpoints.json'), 'utf8')) as Record<string, unknown>;
    for (const key of ['mqtt', 'mqtts', 'http', 'https', 'ws', 'wss', 'caFile', 'credentialsFile', 'profile', 'region', 'accountId', 'pid']) {
      assert.ok(key in ep, `endpoints.json has ${key}`);
    }
    assert.equal(ep.pid, tp.pid);
    assert.equal(ep.profile, 'thingport');
    assert.equal(ep.region, 'us-east-1');
    assert.equal(ep.accountId, '000000000000');
    for (const [key, scheme] of [
      ['mqtt', 'mqtt:'],
      ['mqtts', 'mqtts:'],
      ['http', 'http:'],
      ['https', 'https:'],
      ['ws', 'ws:'],
      ['wss', 'wss:'],
    ] as const) {
      const url = new URL(String(ep[key]));
      assert.equal(url.protocol, scheme, key);
      assert.equal(url.hostname, '127.0.0.1', key);
      assert.ok(Number(url.port) > 0, `${key} has the port actually bound`);
    }
    assert.match(await readFile(String(ep.caFile), 'utf8'), /-----BEGIN CERTIFICATE-----/);
    const creds = await readFile(String(ep.credentialsFile), 'utf8');
    assert.match(creds, /\[thingport\]/);
    assert.match(creds, /aws_access_key_id\s*=\s*\S+/);
    assert.match(creds, /aws_secret_access_key\s*=\s*\S+/);
    // The endpoints are also printed for people.
    assert.ok((tp.stdout() + tp.stderr()).includes(String(ep.mqtt)), 'the MQTT endpoint is printed at start');
  });

  test('[Issue 2 §1] the first start created the data directory and its SQLite database', async () => {
    const files = await readdir(tp.dataDir, { recursive: true });
    let sqlite = 0;
    for (const f of files) {
      const path = join(tp.dataDir, String(f));
      const fh = await open(path, 'r').catch(() => null);
      if (!fh) continue;
      const head = Buffer.alloc(16);
      await fh.read(head, 0, 16, 0).catch(() => undefined);
      await fh.close();
      if (head.toString('latin1') === 'SQLite format 3\u0000') sqlite += 1;
    }
    assert.ok(sqlite >= 1, `an SQLite database in ${tp.dataDir}: ${files.join(', ')}`);
  });
});

describe('15 server: configuration', () => {
  test('[Issue 2 §1] a disabled listener ("off") is null in endpoints.json, with the URLs that depend on it', async () => {
    const tp = await startThingport({ args: ['--mqtts-port', 'off', '--https-port', 'off'] });
    try {
      assert.equal(tp.endpoints.mqtts, null);
      assert.equal(tp.endpoints.https, null);
      assert.equal(tp.endpoints.wss, null);
      assert.ok(tp.endpoints.mqtt);
      assert.ok(tp.endpoints.ws);
    } finally {
      await tp.stop();
    }
  });

  test('[Issue 2 §1] precedence: flags > THINGPORT_* environment > thingport.yaml > defaults', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'thingport-cfg-'));
    try {
      const yaml = join(dir, 'thingport.yaml');
      await writeFile(yaml, 'mqtt:\n  topicAliasMaximum: 3\n  receiveMaximum: 9\n  maxQos: 0\n');
      const tp = await startThingport({
        args: ['--config', yaml, '--mqtt.max-qos', '1'],
        env: { THINGPORT_MQTT__RECEIVE_MAXIMUM: '7', THINGPORT_MQTT__MAX_QOS: '0' },
      });
      try {
        const { client, connack } = await rawConnected(tp.mqttPort, 5);
        assert.equal(connack.properties?.topicAliasMaximum, 3, 'from thingport.yaml');
        assert.equal(connack.properties?.receiveMaximum, 7, 'environment beats the file');
        assert.equal(connack.properties?.maximumQoS, 1, 'the flag beats environment and file');
        assert.equal(connack.properties?.maximumPacketSize, 139_264, 'untouched settings keep their defaults');
        client.destroy();
      } finally {
        await tp.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('[Issue 2 §1] invalid configuration: exit code 2, one message per problem, each naming its setting', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'thingport-bad-'));
    try {
      const r = await runThingport([...baseArgs(join(dir, 'data')), '--mqtt.max-qos', '3', '--mqtt-port', 'abc', '--region', 'nowhere']);
      assert.equal(r.code, 2, `exit code; stderr:\n${r.stderr}`);
      const lines = r.stderr.split('\n');
      for (const [setting, re] of [
        ['mqtt.maxQos', /max-?qos/i],
        ['mqttPort', /mqtt-?port/i],
        ['region', /region/i],
      ] as const) {
        const naming = lines.filter((l) => re.test(l));
        assert.equal(naming.length, 1, `exactly one line about ${setting}:\n${r.stderr}`);
      }
      assert.equal(existsSync(join(dir, 'data', 'endpoints.json')), false, 'nothing was started');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('[Issue 2 §1] a port already in use stops start-up with a message naming the setting to change', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    const dir = await mkdtemp(join(tmpdir(), 'thingport-port-'));
    try {
      for (const [flag, re] of [
        ['--mqtt-port', /mqtt-?port/i],
        ['--http-port', /http-?port/i],
      ] as const) {
        const r = await runThingport([...baseArgs(join(dir, 'data')), flag, String(port)]);
        assert.notEqual(r.code, 0, `${flag} ${port} in use must not start`);
        assert.equal(r.timedOut, false, 'it exits rather than hanging');
        const line = r.stderr.split('\n').find((l) => l.includes(String(port)) && re.test(l));
        assert.ok(line, `a line names ${flag} and port ${port}:\n${r.stderr}`);
      }
    } finally {
      blocker.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('15 server: graceful shutdown', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`[Issue 2 §1][MQTT5 4.13] ${signal}: MQTT 5 clients get DISCONNECT 0x8B (Server shutting down), 3.1.1 clients are closed, exit code 0`, async () => {
      const tp: Thingport = await startThingport();
      let v5: RawClient | undefined;
      try {
        v5 = (await rawConnected(tp.mqttPort, 5)).client;
        const v4 = (await rawConnected(tp.mqttPort, 4)).client;
        const port = tp.mqttPort;
        const exit = tp.terminate(signal);
        await expectServerDisconnect(v5, 0x8b, 10_000);
        await expectServerDisconnect(v4, [], 10_000);
        assert.equal(await exit, 0, `exit code after ${signal}; stderr:\n${tp.stderr()}`);
        await assert.rejects(rawConnect(port), /ECONNREFUSED/, 'no longer accepting');
      } finally {
        v5?.destroy();
        await tp.stop();
      }
    });
  }
});
