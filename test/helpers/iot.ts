/**
 * The operator's and the device's side of identity tests: the real `@aws-sdk/client-iot` signed
 * with the admin key Thingport wrote on first start, and mqtt.js over MQTT/TLS presenting a real
 * client certificate, plus small helpers that turn MQTT outcomes (CONNACK, PUBACK, SUBACK reason
 * codes) into values a test can compare.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateThingCommand,
  IoTClient,
  type IoTClientConfig,
} from '@aws-sdk/client-iot';
import type { IClientOptions, IClientPublishOptions } from 'mqtt';
import { connectClient, type TestClient } from './mqtt.js';
import type { Thingport } from './thingport.js';

export interface AccessKey {
  accessKeyId: string;
  secretAccessKey: string;
}

/** The admin key from `<dataDir>/keys.json` (`{version, accessKeys: [{accessKeyId, secretAccessKey, user: 'admin'}]}`). */
export function readAdminKey(dataDir: string): AccessKey {
  const file = JSON.parse(readFileSync(join(dataDir, 'keys.json'), 'utf8')) as { accessKeys?: Array<AccessKey & { user?: string }>; accessKeyId?: string; secretAccessKey?: string };
  const k = file.accessKeys?.find((a) => a.user === 'admin') ?? file.accessKeys?.[0] ?? (file as AccessKey);
  assert.ok(k.accessKeyId && k.secretAccessKey, 'keys.json holds an access key id and secret');
  return { accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey };
}

/**
 * An IoT client for the server's HTTP endpoint and region, signed with `key` (default: the admin
 * key). One attempt per call unless `config` says otherwise, so errors surface as they are.
 */
export function iotClient(tp: Thingport, key: AccessKey = readAdminKey(tp.dataDir), config: Partial<IoTClientConfig> = {}): IoTClient {
  return new IoTClient({ endpoint: tp.httpUrl, region: tp.endpoints.region, credentials: key, maxAttempts: 1, ...config });
}

/** `arn:aws:iot:{region}:{account}:` of the server. */
export function arnPrefix(tp: Thingport): string {
  return `arn:aws:iot:${tp.endpoints.region}:${tp.endpoints.accountId}:`;
}

/** An AWS SDK v3 service exception, as far as these tests look at it. */
export interface AwsError extends Error {
  $metadata?: { httpStatusCode?: number };
  $fault?: string;
}

/**
 * Awaits `p`, which must fail with the AWS error `name` (and `status`, when given); returns it.
 * `cls` also checks that the SDK raised its modelled exception class.
 */
export async function expectAwsError(
  p: Promise<unknown>,
  name: string,
  opts: { status?: number; message?: RegExp; cls?: abstract new (...args: never[]) => Error } = {},
): Promise<AwsError> {
  let err: AwsError | undefined;
  try {
    await p;
  } catch (e) {
    err = e as AwsError;
  }
  assert.ok(err !== undefined, `expected ${name}, but the call succeeded`);
  assert.equal(err.name, name, `expected ${name}, got ${err.name}: ${err.message}`);
  if (opts.status !== undefined) assert.equal(err.$metadata?.httpStatusCode, opts.status, `HTTP status of ${name}`);
  if (opts.message !== undefined) assert.match(err.message, opts.message);
  if (opts.cls !== undefined) assert.ok(err instanceof opts.cls, `${name} is an instance of the SDK's ${opts.cls.name}`);
  return err;
}

/** What a device needs to connect: its certificate and private key (PEM). */
export interface DeviceCredentials {
  certificateId: string;
  certificateArn: string;
  certificatePem: string;
  privateKey: string;
}

/** CreateKeysAndCertificate (ACTIVE unless `active` is false). */
export async function createCertificate(iot: IoTClient, active = true): Promise<DeviceCredentials> {
  const r = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: active }));
  assert.ok(r.certificateId && r.certificateArn && r.certificatePem && r.keyPair?.PrivateKey);
  return { certificateId: r.certificateId, certificateArn: r.certificateArn, certificatePem: r.certificatePem, privateKey: r.keyPair.PrivateKey };
}

/** A policy document from statements (Version 2012-10-17, so policy variables work). */
export function policy(...statements: Array<Record<string, unknown>>): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

/** Allows everything: for tests about certificates, not policies. */
export const ALLOW_ALL = policy({ Effect: 'Allow', Action: 'iot:*', Resource: '*' });

/**
 * The operator's whole provisioning flow: a thing, an ACTIVE certificate from Thingport's CA, a
 * policy (created unless it exists under `policyName`), the policy attached to the certificate
 * and the certificate attached to the thing.
 */
export async function provisionDevice(
  iot: IoTClient,
  opts: { thingName: string; policyName?: string; policyDocument?: string; attributes?: Record<string, string> },
): Promise<DeviceCredentials & { thingName: string }> {
  await iot.send(new CreateThingCommand({ thingName: opts.thingName, ...(opts.attributes ? { attributePayload: { attributes: opts.attributes } } : {}) }));
  const cert = await createCertificate(iot);
  if (opts.policyName !== undefined) {
    if (opts.policyDocument !== undefined) await iot.send(new CreatePolicyCommand({ policyName: opts.policyName, policyDocument: opts.policyDocument }));
    await iot.send(new AttachPolicyCommand({ policyName: opts.policyName, target: cert.certificateArn }));
  }
  await iot.send(new AttachThingPrincipalCommand({ thingName: opts.thingName, principal: cert.certificateArn }));
  return { ...cert, thingName: opts.thingName };
}

/** Connects over MQTT/TLS (`mqtts` from endpoints.json) with a client certificate, verifying the server with caFile. MQTT 5 unless told. */
export function connectDevice(tp: Thingport, creds: { certificatePem: string; privateKey: string }, opts: IClientOptions = {}): Promise<TestClient> {
  const url = tp.endpoints.mqtts;
  if (url === null) throw new Error('the mqtts listener is disabled');
  return connectClient(url, {
    protocolVersion: 5,
    ca: readFileSync(tp.endpoints.caFile),
    cert: creds.certificatePem,
    key: creds.privateKey,
    rejectUnauthorized: true,
    ...opts,
  });
}

/**
 * The reason the broker refused a connection: the CONNACK reason code (MQTT 5) or return code
 * (3.1.1). Fails the test when the connection was accepted.
 */
export async function connectRefusal(p: Promise<TestClient>): Promise<number> {
  let client: TestClient;
  try {
    client = await p;
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    assert.equal(typeof code, 'number', `a CONNACK refusal, not ${String(e)}`);
    return code as number;
  }
  await client.end();
  assert.fail('the connection was accepted');
}

/** Publishes and returns the PUBACK reason code (0 = success; MQTT 5 QoS 1 only reports refusals). */
export async function publishCode(c: TestClient, topic: string, payload: string, opts: IClientPublishOptions = { qos: 1 }): Promise<number> {
  try {
    await c.client.publishAsync(topic, payload, opts);
    return 0;
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'number') return code;
    throw e;
  }
}

/** Subscribes (QoS 1) and returns the SUBACK reason code per filter (0/1 granted QoS, 0x80+ refused). */
export function subackCodes(c: TestClient, filters: string[]): Promise<number[]> {
  return new Promise((resolve, reject) => {
    c.client.subscribe(filters, { qos: 1 }, (err, _granted, packet) => {
      const granted = (packet as { granted?: number[] } | undefined)?.granted;
      if (granted !== undefined) resolve(granted);
      else reject(err ?? new Error('no SUBACK'));
    });
  });
}

/** MQTT reason codes these tests compare against. */
export const RC = {
  SUCCESS: 0x00,
  GRANTED_QOS1: 0x01,
  FAILURE_311: 0x80,
  BAD_USERNAME_OR_PASSWORD: 0x86,
  NOT_AUTHORIZED: 0x87,
  ADMINISTRATIVE_ACTION: 0x98,
  /** 3.1.1 CONNACK return codes. */
  V4_BAD_USERNAME_OR_PASSWORD: 4,
  V4_NOT_AUTHORIZED: 5,
} as const;
