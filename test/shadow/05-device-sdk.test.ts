/**
 * 05 — The AWS IoT Device SDK for JavaScript v1 (`aws-iot-device-sdk`), unchanged, against
 * Thingport: its `thingShadow` client over mutual TLS on the mqtts port, provisioned the way an
 * operator does it on AWS (CreateThing, CreateKeysAndCertificate, a policy scoped to
 * `${iot:Connection.Thing.ThingName}`, AttachPolicy, AttachThingPrincipal).
 *
 * What the SDK does with versions (thing/index.js): it remembers the highest `version` seen on
 * accepted and delta messages, puts it into every update (enableVersioning, default on), refuses an
 * update that carries its own `version` property, and drops accepted/delta messages older than the
 * version it knows (discardStale). So Thingport's numbering must only ever grow — also across a
 * delete, which keeps the version — and a client whose remembered version is stale gets 409
 * `Version conflict` on `update/rejected`, recovered by a get.
 *
 * Every wait is for an SDK event with a deadline; no operation may hit the SDK's own timeout.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreatePolicyCommand, type IoTClient } from '@aws-sdk/client-iot';
import { IoTDataPlaneClient, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import awsIot, { type ThingShadow } from 'aws-iot-device-sdk';
import { connectClient, type TestClient } from '../helpers/mqtt.js';
import { arnPrefix, iotClient, policy, provisionDevice, readAdminKey, type DeviceCredentials } from '../helpers/iot.js';
import { randomClientId } from '../helpers/raw-client.js';
import { startThingport, type Thingport } from '../helpers/thingport.js';

const EVENT_TIMEOUT_MS = 5_000;
/** The SDK's per-operation timeout; an operation that reaches it fails the test (see `timeouts`). */
const OPERATION_TIMEOUT_MS = 4_000;
const POLICY = 'shadow-device-05';

type Doc = { state?: Record<string, Record<string, unknown> | undefined>; version?: number; code?: number; message?: string; clientToken?: string; timestamp?: number; metadata?: unknown };

/** Resolves with the arguments of the first `event` that `accept` takes; rejects after a deadline. */
function nextEvent<A extends unknown[]>(em: EventEmitter, event: string, accept: (...args: A) => boolean = () => true, timeoutMs = EVENT_TIMEOUT_MS): Promise<A> {
  return new Promise((resolve, reject) => {
    const onEvent = (...args: unknown[]): void => {
      if (!accept(...(args as A))) return;
      clearTimeout(timer);
      em.off(event, onEvent);
      resolve(args as A);
    };
    const timer = setTimeout(() => {
      em.off(event, onEvent);
      reject(new Error(`no '${event}' event within ${timeoutMs} ms`));
    }, timeoutMs);
    em.on(event, onEvent);
  });
}

describe('05 aws-iot-device-sdk thingShadow over mutual TLS', () => {
  let tp: Thingport;
  let iot: IoTClient;
  let data: IoTDataPlaneClient;
  /** Anonymous loopback observer: sees the requests the SDK publishes. */
  let observer: TestClient;
  let dir: string;
  const shadows: ThingShadow[] = [];
  /** Every `timeout` and `error` any SDK client emitted: must stay empty. */
  const timeouts: string[] = [];
  const errors: unknown[] = [];

  before(async () => {
    tp = await startThingport();
    iot = iotClient(tp);
    data = new IoTDataPlaneClient({ endpoint: tp.httpUrl, region: tp.endpoints.region, credentials: readAdminKey(tp.dataDir), maxAttempts: 1 });
    dir = mkdtempSync(join(tmpdir(), 'thingport-sdk05-'));
    observer = await connectClient(tp.mqttPort, { protocolVersion: 5, clientId: randomClientId('obs05') });
    const p = arnPrefix(tp);
    const thing = '${iot:Connection.Thing.ThingName}';
    // The shadow topics of the connection's own thing, as AWS's shadow samples grant them.
    await iot.send(
      new CreatePolicyCommand({
        policyName: POLICY,
        policyDocument: policy(
          { Effect: 'Allow', Action: 'iot:Connect', Resource: `${p}client/${thing}` },
          { Effect: 'Allow', Action: 'iot:Publish', Resource: [`${p}topic/$aws/things/${thing}/shadow/update`, `${p}topic/$aws/things/${thing}/shadow/get`, `${p}topic/$aws/things/${thing}/shadow/delete`] },
          { Effect: 'Allow', Action: 'iot:Subscribe', Resource: `${p}topicfilter/$aws/things/${thing}/shadow/*` },
          { Effect: 'Allow', Action: 'iot:Receive', Resource: `${p}topic/$aws/things/${thing}/shadow/*` },
        ),
      }),
    );
  });
  after(async () => {
    for (const s of shadows) await new Promise<void>((resolve) => s.end(true, () => resolve()));
    await observer?.end();
    data?.destroy();
    iot?.destroy();
    await tp?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Provisions `thingName` and connects the SDK as it (clientId = thing name), key and certificate in files. */
  async function connectSdk(thingName: string): Promise<{ shadow: ThingShadow; creds: DeviceCredentials }> {
    const creds = await provisionDevice(iot, { thingName, policyName: POLICY });
    const keyPath = join(dir, `${thingName}.key`);
    const certPath = join(dir, `${thingName}.pem`);
    writeFileSync(keyPath, creds.privateKey, { mode: 0o600 });
    writeFileSync(certPath, creds.certificatePem);
    const shadow = awsIot.thingShadow(
      {
        protocol: 'mqtts',
        host: '127.0.0.1',
        port: tp.port('mqtts'),
        // SNI and the server-name check: the server certificate names localhost (and 127.0.0.1).
        servername: 'localhost',
        caPath: tp.endpoints.caFile,
        keyPath,
        certPath,
        clientId: thingName,
      },
      { operationTimeout: OPERATION_TIMEOUT_MS },
    );
    shadows.push(shadow);
    shadow.on('timeout', (name: string, token: string) => timeouts.push(`${name} ${token}`));
    shadow.on('error', (err: unknown) => errors.push(err));
    await nextEvent(shadow, 'connect');
    return { shadow, creds };
  }

  function register(shadow: ThingShadow, thingName: string, options: Parameters<ThingShadow['register']>[1]): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`register ${thingName}: no SUBACK within ${EVENT_TIMEOUT_MS} ms`)), EVENT_TIMEOUT_MS);
      shadow.register(thingName, options, (err, failedTopics) => {
        clearTimeout(timer);
        if (err !== undefined || failedTopics !== undefined) reject(new Error(`register ${thingName}: ${String(err)} ${JSON.stringify(failedTopics)}`));
        else resolve();
      });
    });
  }

  /** Starts an operation and waits for its `status` event: [status, document]. */
  async function operation(shadow: ThingShadow, thingName: string, start: () => string | null): Promise<['accepted' | 'rejected', Doc]> {
    const waiting: Promise<[string, string, string, Doc]> = new Promise((resolve, reject) => {
      // Registered before the request goes out; matched on the token once it is known.
      let token: string | null = null;
      const seen: Array<[string, string, string, Doc]> = [];
      const onStatus = (name: string, stat: string, clientToken: string, doc: Doc): void => {
        seen.push([name, stat, clientToken, doc]);
        check();
      };
      const check = (): void => {
        const hit = seen.find(([n, , t]) => n === thingName && t === token);
        if (hit === undefined) return;
        clearTimeout(timer);
        shadow.off('status', onStatus);
        resolve(hit);
      };
      const timer = setTimeout(() => {
        shadow.off('status', onStatus);
        reject(new Error(`no status for ${thingName} token ${token} within ${EVENT_TIMEOUT_MS} ms`));
      }, EVENT_TIMEOUT_MS);
      shadow.on('status', onStatus);
      token = start();
      if (token === null) {
        clearTimeout(timer);
        shadow.off('status', onStatus);
        reject(new Error(`the SDK refused the ${thingName} operation`));
      }
    });
    const [, stat, , doc] = await waiting;
    assert.ok(stat === 'accepted' || stat === 'rejected', stat);
    return [stat, doc];
  }

  /** The application side: UpdateThingShadow over the data plane (SigV4, admin). */
  async function appUpdate(thingName: string, document: unknown): Promise<Doc> {
    const out = await data.send(new UpdateThingShadowCommand({ thingName, payload: Buffer.from(JSON.stringify(document)) }));
    return JSON.parse(Buffer.from(out.payload!).toString('utf8')) as Doc;
  }

  test('register (persistentSubscribe), update, get, delta from the application, versioned update, delete; numbering continues after delete', async () => {
    const thing = 'sdk-lamp-05';
    const { shadow } = await connectSdk(thing);
    await register(shadow, thing, { persistentSubscribe: true });
    await observer.subscribe(`$aws/things/${thing}/shadow/update`);

    // update -> status 'accepted' with the accepted document.
    const [s1, up1] = await operation(shadow, thing, () => shadow.update(thing, { state: { reported: { on: false, brightness: 10 } } }));
    assert.equal(s1, 'accepted');
    assert.deepEqual(up1.state, { reported: { on: false, brightness: 10 } });
    assert.equal(up1.version, 1);
    assert.equal(typeof up1.timestamp, 'number');
    assert.equal(up1.clientToken, undefined, 'the SDK strips clientToken before emitting');
    // The SDK's first update carried no version (none known yet) and its own clientToken.
    const firstRequest = JSON.parse((await observer.waitMessage(`$aws/things/${thing}/shadow/update`)).payload.toString()) as Doc;
    assert.equal(firstRequest.version, undefined);
    assert.match(firstRequest.clientToken ?? '', new RegExp(`^${thing}-\\d+$`));

    // get -> accepted, the whole document.
    const [s2, got] = await operation(shadow, thing, () => shadow.get(thing));
    assert.equal(s2, 'accepted');
    assert.deepEqual(got.state, { reported: { on: false, brightness: 10 } });
    assert.equal(got.version, 1);

    // The application changes desired: the device gets 'delta' (only the differing keys) and,
    // subscribed persistently, 'foreignStateChange' for the other client's accepted update.
    const delta = nextEvent<[string, Doc]>(shadow, 'delta', (name) => name === thing);
    const foreign = nextEvent<[string, string, Doc]>(shadow, 'foreignStateChange', (name) => name === thing);
    const appDoc = await appUpdate(thing, { state: { desired: { on: true, brightness: 10 } } });
    assert.equal(appDoc.version, 2);
    const [, deltaDoc] = await delta;
    assert.deepEqual(deltaDoc.state, { on: true });
    assert.equal(deltaDoc.version, 2);
    const [, op, foreignDoc] = await foreign;
    assert.equal(op, 'update');
    assert.equal(foreignDoc.version, 2);

    // The device reports; the SDK sends the version it learned from the delta (2) and it is current.
    const [s3, up3] = await operation(shadow, thing, () => shadow.update(thing, { state: { reported: { on: true } } }));
    assert.equal(s3, 'accepted');
    assert.equal(up3.version, 3);
    // The observer's copy of a request may arrive after the device's answer: wait for the second request.
    const versioned = (await observer.waitMessages(`$aws/things/${thing}/shadow/update`, 2)).map((m) => JSON.parse(m.payload.toString()) as Doc);
    assert.equal(versioned[1]?.version, 2, 'enableVersioning: the update carries the last version seen');

    // delete -> accepted with the version; get -> rejected 404.
    const [s4, del] = await operation(shadow, thing, () => shadow.delete(thing));
    assert.equal(s4, 'accepted');
    assert.equal(del.version, 3);
    const [s5, missing] = await operation(shadow, thing, () => shadow.get(thing));
    assert.equal(s5, 'rejected');
    assert.equal(missing.code, 404);
    assert.equal(missing.message, `No shadow exists with name: '${thing}'`);

    // A deleted shadow keeps its version: the SDK's next update (carrying 3) re-creates it as 4,
    // so the SDK never sees a version go backwards and discards nothing.
    const [s6, again] = await operation(shadow, thing, () => shadow.update(thing, { state: { reported: { on: true } } }));
    assert.equal(s6, 'accepted');
    assert.equal(again.version, 4);
    assert.deepEqual(timeouts, []);
    assert.deepEqual(errors, []);
  });

  test('version conflict: a device whose remembered version is stale gets 409 on update/rejected, and a get recovers it', async () => {
    const thing = 'sdk-fan-05';
    const { shadow } = await connectSdk(thing);
    // Subscriptions per operation and no deltas: the device does not hear other clients' updates.
    await register(shadow, thing, { persistentSubscribe: false, ignoreDeltas: true });
    const unsubscribed = `$aws/events/subscriptions/unsubscribed/${thing}`;
    await observer.subscribe([`$aws/things/${thing}/shadow/update`, unsubscribed]);

    const [s1, first] = await operation(shadow, thing, () => shadow.update(thing, { state: { reported: { rpm: 100 } } }));
    assert.equal(s1, 'accepted');
    assert.equal(first.version, 1);
    // Having its answer, the SDK unsubscribes from update/accepted|rejected; once the broker has
    // done that (its lifecycle event says so) the device hears nothing of other clients' updates.
    await observer.waitMessage((m) => m.topic === unsubscribed && m.payload.toString().includes(`$aws/things/${thing}/shadow/update/accepted`));

    // Another client moves the shadow to version 2 behind the device's back.
    assert.equal((await appUpdate(thing, { state: { desired: { rpm: 200 } } })).version, 2);

    // The SDK sends version 1: 409 Version conflict, delivered as status 'rejected'.
    const [s2, conflict] = await operation(shadow, thing, () => shadow.update(thing, { state: { reported: { rpm: 150 } } }));
    assert.equal(s2, 'rejected');
    assert.equal(conflict.code, 409);
    assert.equal(conflict.message, 'Version conflict');
    const sent = (await observer.waitMessages(`$aws/things/${thing}/shadow/update`, 2)).map((m) => JSON.parse(m.payload.toString()) as Doc);
    assert.equal(sent[1]?.version, 1, 'the stale version the SDK remembered was sent explicitly');

    // The SDK does not let the application send a `version` of its own.
    const refused: unknown[][] = [];
    const consoleError = console.error;
    console.error = (...args: unknown[]) => void refused.push(args);
    try {
      assert.equal(shadow.update(thing, { state: { reported: { rpm: 1 } }, version: 2 }), null);
    } finally {
      console.error = consoleError;
    }
    assert.match(String(refused[0]?.[0]), /can't contain 'version'/);

    // Recovery: get teaches the SDK version 2; the retried update is accepted as 3.
    const [s3, current] = await operation(shadow, thing, () => shadow.get(thing));
    assert.equal(s3, 'accepted');
    assert.equal(current.version, 2);
    assert.deepEqual(current.state, { desired: { rpm: 200 }, reported: { rpm: 100 }, delta: { rpm: 200 } });
    const [s4, retried] = await operation(shadow, thing, () => shadow.update(thing, { state: { reported: { rpm: 200 } } }));
    assert.equal(s4, 'accepted');
    assert.equal(retried.version, 3);
    assert.deepEqual(timeouts, []);
    assert.deepEqual(errors, []);
  });

  test('the policy confines the SDK to its own thing: operating on another thing\'s shadow gets no answer (the subscription is refused)', async () => {
    const thing = 'sdk-door-05';
    const { shadow } = await connectSdk(thing);
    // Registering someone else's shadow: the SUBACK refuses every topic (0x80), which register reports.
    await assert.rejects(register(shadow, 'sdk-lamp-05', { persistentSubscribe: true }), /Not all subscriptions were granted/);
    assert.deepEqual(errors, []);
  });
});
