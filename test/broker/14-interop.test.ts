/**
 * 14 — Interoperability with the Mosquitto command-line clients (the "done when":
 * mosquitto_sub / mosquitto_pub and mqtt.js talk to it). The binaries come from
 * THINGPORT_TEST_MOSQUITTO_PUB and THINGPORT_TEST_MOSQUITTO_SUB; without them the tests skip.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomClientId } from '../helpers/raw-client.js';
import { connectClient, uniqueTopic, type TestClient } from '../helpers/mqtt.js';
import { startThingport, type Thingport } from '../helpers/thingport.js';

const PUB = process.env.THINGPORT_TEST_MOSQUITTO_PUB;
const SUB = process.env.THINGPORT_TEST_MOSQUITTO_SUB;
const SKIP = !PUB || !SUB ? 'THINGPORT_TEST_MOSQUITTO_PUB / THINGPORT_TEST_MOSQUITTO_SUB not set (paths to mosquitto_pub / mosquitto_sub)' : null;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (killed after timeoutMs). */
function run(cmd: string, args: string[], timeoutMs = 10_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Starts mosquitto_sub and resolves once the broker has its subscription, seen through the
 * `$aws/events/subscriptions/subscribed/{clientId}` lifecycle event (mosquitto_sub's own output is
 * block-buffered on a pipe, so it cannot tell us). A publish after this cannot race the
 * subscription. `done` resolves when it exits (it is given -C n, or killed).
 */
async function startSub(
  events: TestClient,
  args: string[],
  timeoutMs = 10_000,
): Promise<{ done: Promise<Run>; child: ChildProcessWithoutNullStreams }> {
  const clientId = randomClientId('msub');
  const child = spawn(SUB ?? '', ['-i', clientId, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<Run>((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
  await Promise.race([
    events.waitMessage(`$aws/events/subscriptions/subscribed/${clientId}`, 5_000),
    done.then((r) => Promise.reject(new Error(`mosquitto_sub exited (${r.code}) before subscribing:\n${r.stdout}\n${r.stderr}`))),
  ]);
  return { done, child };
}

/** The non-empty output lines of mosquitto_sub. */
function messageLines(out: string): string[] {
  return out.split('\n').filter((l) => l.length > 0);
}

/** A test that skips, printing why, when the mosquitto binaries are not configured. */
function it(name: string, fn: () => Promise<void>): void {
  test(name, async (t) => {
    if (SKIP) {
      t.skip(SKIP);
      return;
    }
    await fn();
  });
}

describe('14 interop with mosquitto clients', () => {
  let tp: Thingport;
  let js: TestClient;
  let events: TestClient;
  let host: string[];
  before(async () => {
    if (SKIP) return;
    tp = await startThingport();
    js = await connectClient(tp.mqttPort, { protocolVersion: 5, clientId: randomClientId('js14') });
    events = await connectClient(tp.mqttPort, { protocolVersion: 5, clientId: randomClientId('ev14') });
    await events.subscribe('$aws/events/subscriptions/subscribed/+', { qos: 1 });
    host = ['-h', '127.0.0.1', '-p', String(tp.mqttPort)];
  });
  after(async () => {
    await js?.end();
    await events?.end();
    await tp?.stop();
  });

  for (const version of ['mqttv311', 'mqttv5'] as const) {
    it(`[Issue 2 done-when] mosquitto_sub (${version}) receives what mqtt.js publishes, at the granted QoS`, async () => {
      const topic = uniqueTopic(`msub-${version}`);
      const sub = await startSub(events, [...host, '-V', version, '-q', '2', '-t', topic, '-C', '2', '-F', '%q|%t|%p']);
      await js.publish(topic, 'hello from mqtt.js', { qos: 1 });
      await js.publish(topic, 'exactly once', { qos: 2 });
      const r = await sub.done;
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(messageLines(r.stdout), [`1|${topic}|hello from mqtt.js`, `2|${topic}|exactly once`]);
    });

    it(`[Issue 2 done-when] mosquitto_pub (${version}) reaches mqtt.js subscribers at QoS 0, 1 and 2`, async () => {
      const topic = uniqueTopic(`mpub-${version}`);
      await js.subscribe(topic, { qos: 2 });
      for (const q of ['0', '1', '2']) {
        const r = await run(PUB ?? '', [...host, '-V', version, '-q', q, '-t', topic, '-m', `q${q} from mosquitto_pub`]);
        assert.equal(r.code, 0, r.stderr);
      }
      const got = await js.waitMessages(topic, 3);
      assert.deepEqual(got.map((m) => `${m.payload.toString()}@${m.packet.qos}`).sort(), [
        'q0 from mosquitto_pub@0',
        'q1 from mosquitto_pub@1',
        'q2 from mosquitto_pub@2',
      ]);
    });
  }

  it('[MQTT-3.3.1-5] mosquitto_pub -r sets a retained message that mosquitto_sub reads; an empty -r clears it', async () => {
    const topic = uniqueTopic('mretain');
    assert.equal((await run(PUB ?? '', [...host, '-q', '1', '-r', '-t', topic, '-m', 'retained by mosquitto_pub'])).code, 0);
    const r = await run(SUB ?? '', [...host, '-t', topic, '-C', '1', '-W', '5', '-F', '%r|%p']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(messageLines(r.stdout), ['1|retained by mosquitto_pub']);
    assert.equal((await run(PUB ?? '', [...host, '-q', '1', '-r', '-t', topic, '-n'])).code, 0);
    // With the topic cleared, the first message a new subscriber sees is the live one.
    const sub = await startSub(events, [...host, '-t', topic, '-C', '1', '-F', '%r|%p']);
    await js.publish(topic, 'live', { qos: 1 });
    assert.deepEqual(messageLines((await sub.done).stdout), ['0|live'], 'no retained message any more');
  });

  it('[MQTT5] mosquitto_pub -V mqttv5 user properties and content type reach an MQTT 5 subscriber', async () => {
    const topic = uniqueTopic('mprops');
    await js.subscribe(topic, { qos: 1 });
    const r = await run(PUB ?? '', [
      ...host, '-V', 'mqttv5', '-q', '1', '-t', topic, '-m', '{"a":1}',
      '-D', 'publish', 'user-property', 'origin', 'mosquitto',
      '-D', 'publish', 'content-type', 'application/json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const m = await js.waitMessage(topic);
    assert.deepEqual({ ...m.packet.properties?.userProperties }, { origin: 'mosquitto' });
    assert.equal(m.packet.properties?.contentType, 'application/json');
  });

  it('[AWS ports] mosquitto_pub and mosquitto_sub over TLS with --cafile from endpoints.json', async () => {
    const topic = uniqueTopic('mtls');
    const tlsHost = ['-h', '127.0.0.1', '-p', String(tp.port('mqtts')), '--cafile', tp.endpoints.caFile];
    const sub = await startSub(events, [...tlsHost, '-t', topic, '-C', '1', '-q', '1']);
    const r = await run(PUB ?? '', [...tlsHost, '-q', '1', '-t', topic, '-m', 'over tls']);
    assert.equal(r.code, 0, r.stderr);
    const done = await sub.done;
    assert.equal(done.code, 0, done.stderr);
    assert.deepEqual(messageLines(done.stdout), ['over tls']);
  });

  it('[MQTT-3.1.2-8] a mosquitto_sub killed with SIGKILL has its --will-payload published', async () => {
    const topic = uniqueTopic('mwill');
    await js.subscribe(topic, { qos: 1 });
    const sub = await startSub(events, [...host, '-t', uniqueTopic('idle'), '--will-topic', topic, '--will-payload', 'mosquitto_sub died', '--will-qos', '1']);
    sub.child.kill('SIGKILL');
    await sub.done;
    assert.equal((await js.waitMessage(topic)).payload.toString(), 'mosquitto_sub died');
  });
});
