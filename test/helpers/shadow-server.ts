/**
 * A Thingport composed in-process the way src/main.ts does it, with device shadows and the whole
 * IoT data plane wired in: the broker (anonymous MQTT on loopback), the shadow capability on its
 * message stream, and an HTTP app serving `iot-data` (SigV4 service `iotdata`) plus the shadow
 * history route. Tests get the pieces (clock, database, broker) to poke at. Also runnable as a
 * process (shadow-server-main.ts) for kill -9 tests.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { SignatureV4 } from '@smithy/signature-v4';
import { Broker, MemoryBrokerStore, SqliteBrokerStore, attachWebSocket, listenMqtt, type Listener } from '../../src/broker/index.js';
import { mqttConfigSchema, openDatabase, type SqliteDatabase } from '../../src/core/index.js';
import { createDataPlaneHandlers } from '../../src/dataplane/index.js';
import { createAwsRestRouter, createHttpApp, iotDataModel, type IotDataOperations } from '../../src/http/index.js';
import { createLogger } from '../../src/lib/index.js';
import { createShadows, type HistoryRetention, type Shadows, type ShadowLimits } from '../../src/shadow/index.js';

export const REGION = 'us-east-1';
export const ACCOUNT = '123456789012';
export const KEY = { accessKeyId: 'AKIASHADOWTEST000001', secretAccessKey: 'shadow-test-secret-key-0123456789abcdefgh' };

export interface ShadowServerOptions {
  /** SQLite file (durable broker store and shadows); default in memory. */
  dbFile?: string;
  /** Clock in ms; default Date.now. */
  now?: () => number;
  maxInFlight?: number;
  limits?: Partial<ShadowLimits>;
  history?: Partial<HistoryRetention>;
}

export interface ShadowServer {
  mqttUrl: string;
  httpUrl: string;
  db: SqliteDatabase;
  broker: Broker;
  shadows: Shadows;
  /** An SDK client signed with the test key. */
  dataClient(): IoTDataPlaneClient;
  close(): Promise<void>;
}

export async function startShadowServer(opts: ShadowServerOptions = {}): Promise<ShadowServer> {
  const logger = createLogger('silent');
  const db = openDatabase(opts.dbFile ?? ':memory:');
  const store = opts.dbFile !== undefined ? new SqliteBrokerStore(opts.dbFile, { onError: () => {} }) : new MemoryBrokerStore();
  const broker = new Broker({ config: mqttConfigSchema.parse({}), logger, store });
  const accessKeys = (id: string): { secretAccessKey: string; principal: string } | null => (id === KEY.accessKeyId ? { secretAccessKey: KEY.secretAccessKey, principal: 'admin' } : null);
  const shadows = createShadows({
    db,
    messaging: broker,
    region: REGION,
    accountId: ACCOUNT,
    logger,
    accessKeys,
    ...(opts.now !== undefined ? { now: opts.now } : {}),
    ...(opts.maxInFlight !== undefined ? { maxInFlight: opts.maxInFlight } : {}),
    ...(opts.limits !== undefined ? { limits: opts.limits } : {}),
    ...(opts.history !== undefined ? { history: opts.history } : {}),
  });
  shadows.start();
  const app = createHttpApp({ logger, health: () => ({}), metrics: { render: async () => '', contentType: 'text/plain' } });
  shadows.historyRoutes(app);
  createAwsRestRouter<IotDataOperations>(app, {
    service: iotDataModel,
    signingName: 'iotdata',
    region: REGION,
    authenticate: accessKeys,
    handlers: { ...shadows.dataHandlers, ...createDataPlaneHandlers({ messaging: broker, region: REGION, accountId: ACCOUNT }) },
    logger,
  });
  const closeWs = attachWebSocket(broker, app.server as HttpServer, '/mqtt', false);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const httpUrl = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const mqtt: Listener = await listenMqtt(broker, '127.0.0.1', 0);
  return {
    mqttUrl: `mqtt://127.0.0.1:${mqtt.port}`,
    httpUrl,
    db,
    broker,
    shadows,
    dataClient: () => new IoTDataPlaneClient({ endpoint: httpUrl, region: REGION, credentials: KEY, maxAttempts: 1 }),
    close: async () => {
      shadows.stop();
      await broker.close();
      await mqtt.close();
      await closeWs();
      await app.close();
      if (store instanceof SqliteBrokerStore) store.close();
      db.close();
    },
  };
}

function bytes(d: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof d === 'string') return Buffer.from(d, 'utf8');
  if (ArrayBuffer.isView(d)) return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  return Buffer.from(d);
}

/** SHA-256 / HMAC-SHA-256 on node:crypto in the shape SignatureV4 wants. */
class NodeSha256 {
  private readonly h: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.h.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.h.digest()));
  }
}

/** A SigV4-signed GET (service `iotdata`) to a path with query, as Thingport's own routes expect. */
export async function signedGet(baseUrl: string, path: string, query: Record<string, string> = {}, key = KEY): Promise<Response> {
  const url = new URL(baseUrl);
  const signer = new SignatureV4({ credentials: key, region: REGION, service: 'iotdata', sha256: NodeSha256 });
  const signed = await signer.sign({ method: 'GET', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path, query, headers: { host: url.host } });
  const qs = new URLSearchParams(query).toString();
  return fetch(`${baseUrl}${path}${qs === '' ? '' : `?${qs}`}`, { headers: signed.headers as Record<string, string> });
}
