/**
 * Test fixtures for the custom authorizer and SigV4 tests (imported by *.test.ts only): authorizer
 * function modules written to a temporary directory, an HTTP authorizer endpoint that records
 * the events it gets, and an mqtt.js connect that resolves with the CONNACK outcome.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { AuthorizerEvent } from './authorizers-event.js';

export const REGION = 'us-east-1';
export const ACCOUNT = '000000000000';
const ACCT = `arn:aws:iot:${REGION}:${ACCOUNT}`;

/** The policy the test functions grant: connect as yourself, publish/receive/subscribe only under telemetry/{clientId}. */
export const TELEMETRY_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: 'iot:Connect', Resource: `${ACCT}:client/\${iot:ClientId}` },
    { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: `${ACCT}:topic/telemetry/\${iot:ClientId}` },
    { Effect: 'Allow', Action: 'iot:Subscribe', Resource: `${ACCT}:topicfilter/telemetry/\${iot:ClientId}` },
  ],
});

/**
 * Writes the function modules into `dir`:
 *  - password.mjs: authenticates MQTT password `letmein` or token `good-token` as principal
 *    Device42 with TELEMETRY_POLICY; client ids starting with `short-` get disconnectAfterInSeconds 1;
 *  - throws.mjs: throws; loops.mjs: never returns (a synchronous endless loop);
 *  - invalid.mjs: answers a principalId AWS does not accept.
 */
export function writeFunctionModules(dir: string): Record<'password' | 'throws' | 'loops' | 'invalid', string> {
  const files = {
    password: `
      export default async (event) => {
        const mqtt = event.protocolData.mqtt ?? {};
        const password = mqtt.password === undefined ? '' : Buffer.from(mqtt.password, 'base64').toString();
        if (password !== 'letmein' && event.token !== 'good-token') return { isAuthenticated: false };
        const short = (mqtt.clientId ?? '').startsWith('short-');
        return { isAuthenticated: true, principalId: 'Device42', policyDocuments: [${JSON.stringify(TELEMETRY_POLICY)}],
                 refreshAfterInSeconds: 300, ...(short ? { disconnectAfterInSeconds: 1 } : {}) };
      };`,
    throws: `export default async () => { throw new Error('boom'); };`,
    loops: `export default () => { for (;;) {} };`,
    invalid: `export const handler = async () => ({ isAuthenticated: true, principalId: 'not-alphanumeric!' });`,
  };
  const out = {} as Record<keyof typeof files, string>;
  for (const [name, text] of Object.entries(files) as Array<[keyof typeof files, string]>) {
    out[name] = join(dir, `${name}.mjs`);
    writeFileSync(out[name], text);
  }
  return out;
}

/** An RSA key pair for token signing, and AWS's signing recipe (`openssl dgst -sha256 -sign | base64`). */
export function signingKeys(): { publicPem: string; privateKey: KeyObject; sign: (token: string) => string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), privateKey, sign: (t) => sign('sha256', Buffer.from(t), privateKey).toString('base64') };
}

/** An HTTP authorizer function: records each event, answers what `answer` returns. */
export async function startFunctionEndpoint(answer: (event: AuthorizerEvent) => unknown): Promise<{ url: string; events: AuthorizerEvent[]; close: () => Promise<void> }> {
  const events: AuthorizerEvent[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const event = JSON.parse(Buffer.concat(chunks).toString()) as AuthorizerEvent;
      events.push(event);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(answer(event)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/authorize`, events, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

export type Outcome = { ok: true; client: MqttClient } | { ok: false; code: number | undefined; message: string };

/** Connects with mqtt.js (MQTT 5 unless told); resolves with the CONNACK outcome. Clients are pushed to `clients` for cleanup. */
export function open(url: string, options: IClientOptions, clients: MqttClient[]): Promise<Outcome> {
  return new Promise((resolve) => {
    const client = connect(url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 10_000, ...options });
    clients.push(client);
    client.once('connect', () => resolve({ ok: true, client }));
    client.once('error', (err: Error & { code?: number }) => {
      resolve({ ok: false, code: err.code, message: err.message });
      client.end(true);
    });
    client.once('close', () => resolve({ ok: false, code: undefined, message: 'closed' }));
  });
}

/** The CONNACK code of an outcome (0 = connected). */
export const codeOf = (o: Outcome): number | undefined => (o.ok ? 0 : o.code);

/** PUBACK reason code of a QoS 1 publish (0 = accepted). */
export function publish(client: MqttClient, topic: string, payload: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    client.publish(topic, payload, { qos: 1 }, (err, packet) => {
      const rc = (packet as { reasonCode?: number } | undefined)?.reasonCode;
      resolve(err ? ((err as Error & { code?: number }).code ?? rc ?? -1) : (rc ?? 0));
    });
  });
}

/** SUBACK granted code of one filter (0x80 or above = refused). */
export function subscribe(client: MqttClient, filter: string): Promise<number> {
  return new Promise((resolve) => {
    // mqtt.js reports a refused filter as an error carrying the SUBACK packet.
    client.subscribe(filter, { qos: 1 }, (err, granted) => {
      if (err) resolve((err as Error & { packet?: { granted?: number[] } }).packet?.granted?.[0] ?? 0x80);
      else resolve(granted?.[0]?.qos ?? -1);
    });
  });
}
