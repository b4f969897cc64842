/**
 * Composition root: builds every capability from the frozen configuration, wires them together and
 * opens the listeners. The only place that knows all the parts.
 */
import { mkdir, writeFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Server as HttpServer } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { EventBus, openDatabase, type BrokerHooks, type Messaging, type ThingportConfig } from './core/index.js';
import { createLogger, type Logger } from './lib/index.js';
import { createIdentity, ensureAdminCredentials, ensureServerCertificates } from './identity/index.js';
import { createRegistry } from './registry/index.js';
import { createShadows } from './shadow/index.js';
import { createDataPlaneHandlers } from './dataplane/index.js';
import { createRules } from './rules/index.js';
import { Broker, SqliteBrokerStore, attachWebSocket, listenMqtt, listenMqtts, type Listener } from './broker/index.js';
import { createAwsRestRouter, createHttpApp, createMetrics, iotDataModel, iotModel, type AwsHandlers, type IotDataOperations, type IotOperations } from './http/index.js';

export interface Endpoints {
  mqtt: string | null;
  mqtts: string | null;
  http: string | null;
  https: string | null;
  ws: string | null;
  wss: string | null;
  caFile: string;
  credentialsFile: string;
  configFile: string;
  profile: string;
  region: string;
  accountId: string;
  pid: number;
}

export interface Thingport {
  readonly endpoints: Endpoints;
  readonly broker: Broker;
  readonly logger: Logger;
  /** Graceful shutdown: stop accepting, DISCONNECT 0x8B to MQTT 5 clients, flush storage. */
  stop(reason?: string): Promise<void>;
}

export interface StartOptions {
  configFile?: string | null;
  logger?: Logger;
}

/** Flag and environment names of each port setting, for error messages that say what to change. */
const PORT_SETTINGS = {
  mqttPort: ['--mqtt-port', 'THINGPORT_MQTT_PORT'],
  mqttsPort: ['--mqtts-port', 'THINGPORT_MQTTS_PORT'],
  httpPort: ['--http-port', 'THINGPORT_HTTP_PORT'],
  httpsPort: ['--https-port', 'THINGPORT_HTTPS_PORT'],
} as const;

function listenError(err: unknown, setting: keyof typeof PORT_SETTINGS, host: string, port: number): Error {
  const code = (err as NodeJS.ErrnoException).code;
  const [flag, env] = PORT_SETTINGS[setting];
  if (code === 'EADDRINUSE')
    return new Error(`${setting} ${port} is in use on ${host}; set ${flag} (or ${env}) to another port, or 0 to pick a free one, or "off" to disable it`);
  if (code === 'EACCES') return new Error(`${setting} ${port} needs privileges on ${host}; set ${flag} (or ${env}) to a port above 1023`);
  if (code === 'EADDRNOTAVAIL') return new Error(`host ${host} is not an address of this machine; set --host (or THINGPORT_HOST)`);
  return new Error(`cannot listen on ${host}:${port} for ${setting}: ${(err as Error).message}`);
}

function urlHost(host: string): string {
  const h = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return h.includes(':') ? `[${h}]` : h;
}

/** Starts Thingport; rejects with a user-facing message when it cannot. */
export async function startThingport(config: ThingportConfig, opts: StartOptions = {}): Promise<Thingport> {
  const logger = opts.logger ?? createLogger(config.logLevel);
  const dataDir = config.dataDir;
  // Private: it holds the CA key, access keys and message payloads.
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const certs = await ensureServerCertificates(dataDir, config.tlsHostnames);
  const dbFile = join(dataDir, 'thingport.db');
  const synchronous = config.storageSync === 'full' ? 'FULL' : 'NORMAL';
  const db = openDatabase(dbFile, { synchronous });
  const bus = new EventBus((err, event) => logger.error({ err, event }, 'event listener failed'));
  const store = new SqliteBrokerStore(dbFile, {
    synchronous,
    onError: (err) => logger.error({ err }, 'broker storage commit failed; retrying'),
  });
  // Capabilities get the broker's in-process API through this facade: they are built before the
  // broker because the broker's hooks come from them.
  let brokerRef: Broker | null = null;
  const messaging: Messaging = {
    publish: (input) => brokerRef!.publish(input),
    subscribe: (filter, handler) => brokerRef!.subscribe(filter, handler),
    deliverDirect: (clientId, input, onSettled) => brokerRef!.deliverDirect(clientId, input, onSettled),
    disconnectClient: (clientId, o) => brokerRef!.disconnectClient(clientId, o),
    disconnectWhere: (match) => brokerRef!.disconnectWhere(match),
    describeClient: (clientId) => brokerRef!.describeClient(clientId),
    getRetained: (topic) => brokerRef!.getRetained(topic),
    listRetained: (after, limit) => brokerRef!.listRetained(after, limit),
  };
  const listenerUrls = { mqtt: null as string | null, mqtts: null as string | null, https: null as string | null };
  const registry = createRegistry({ db, bus, region: config.region, accountId: config.accountId, messaging, logger: logger.child({ mod: 'registry' }) });
  const identity = await createIdentity({
    db,
    bus,
    dataDir,
    region: config.region,
    accountId: config.accountId,
    registry: registry.service,
    messaging,
    logger: logger.child({ mod: 'identity' }),
    allowAnonymous: config.mqtt.allowAnonymous,
    anonymousLoopback: config.mqtt.anonymousLoopback,
    endpoints: () => listenerUrls,
    authorizers: config.authorizers,
  });
  const rules = createRules({
    db,
    messaging,
    region: config.region,
    accountId: config.accountId,
    dataDir,
    logger: logger.child({ mod: 'rules' }),
    config: config.rules,
    apiBaseUrl: () => ep.http ?? ep.https,
    lookups: {
      getThingShadow: (thing, shadow) => {
        try {
          return JSON.parse(shadows.service.get(thing, shadow, Buffer.from('{}'))) as unknown;
        } catch {
          return undefined; // no such shadow: Undefined in SQL
        }
      },
      getRegistryData: (thing) => {
        const t = registry.service.getThing(thing);
        return t === null ? undefined : { thingName: t.thingName, thingTypeName: t.thingTypeName ?? undefined, attributes: t.attributes };
      },
    },
  });
  const iotHandlers: AwsHandlers<IotOperations> = { ...registry.iotHandlers, ...identity.iotHandlers, ...rules.iotHandlers };
  const accessKeys = identity.accessKeys;
  const shadows = createShadows({ db, messaging, region: config.region, accountId: config.accountId, logger: logger.child({ mod: 'shadow' }), accessKeys });
  const dataHandlers: AwsHandlers<IotDataOperations> = { ...shadows.dataHandlers, ...createDataPlaneHandlers({ messaging, region: config.region, accountId: config.accountId }) };
  // Identity decides who may connect and what each client may publish, subscribe to and receive.
  const hooks: BrokerHooks = { ...identity.hooks };
  if (config.mqtt.anonymousLoopback && !config.mqtt.allowAnonymous) {
    logger.warn('anonymous MQTT clients are admitted from loopback, without policies (set mqtt.anonymousLoopback: false to require certificates)');
  }

  const broker = new Broker({ config: config.mqtt, logger: logger.child({ mod: 'broker' }), store, hooks });
  brokerRef = broker;
  shadows.start();
  // `withCertificates`: the HTTPS app, where the data plane also takes client certificates (AWS's 8443).
  const mountApi = (app: FastifyInstance, withCertificates = false): void => {
    createAwsRestRouter<IotOperations>(app, { service: iotModel, region: config.region, authenticate: accessKeys, handlers: iotHandlers, logger: logger.child({ mod: 'api' }) });
    createAwsRestRouter<IotDataOperations>(app, {
      service: iotDataModel,
      signingName: 'iotdata',
      region: config.region,
      authenticate: accessKeys,
      authenticateCertificate: withCertificates ? identity.authenticateHttpCertificate : undefined,
      handlers: dataHandlers,
      logger: logger.child({ mod: 'data-plane' }),
    });
    shadows.historyRoutes(app);
    rules.routes(app, accessKeys);
  };
  const metrics = createMetrics(() => broker.stats, { rules: () => rules.metrics(), store: () => store.counts });
  const startedAt = Date.now();
  const health = (): Record<string, unknown> => ({ uptimeSeconds: Math.round((Date.now() - startedAt) / 1000), connections: broker.stats.connections });

  const closers: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const c of closers.splice(0).reverse()) await c().catch((err) => logger.warn({ err }, 'close failed'));
  };
  const host = config.host;
  const h = urlHost(host);
  const ep: Omit<Endpoints, 'credentialsFile' | 'configFile'> = {
    mqtt: null, mqtts: null, http: null, https: null, ws: null, wss: null,
    caFile: certs.caFile, profile: 'thingport', region: config.region, accountId: config.accountId, pid: process.pid,
  };
  try {
    // Applies rules.definitions first: an invalid one stops start-up before anything listens.
    rules.start();
    if (config.mqttPort !== null) {
      const l: Listener = await listenMqtt(broker, host, config.mqttPort).catch((e) => Promise.reject(listenError(e, 'mqttPort', host, config.mqttPort!)));
      closers.push(l.close);
      ep.mqtt = `mqtt://${h}:${l.port}`;
      listenerUrls.mqtt = ep.mqtt;
    }
    if (config.mqttsPort !== null) {
      const l = await listenMqtts(broker, host, config.mqttsPort, { key: certs.keyPem, cert: certs.certPem, ca: certs.caPem }).catch((e) =>
        Promise.reject(listenError(e, 'mqttsPort', host, config.mqttsPort!)),
      );
      closers.push(l.close);
      ep.mqtts = `mqtts://${h}:${l.port}`;
      listenerUrls.mqtts = ep.mqtts;
    }
    if (config.httpPort !== null) {
      const app = createHttpApp({ logger, health, metrics });
      mountApi(app);
      closers.push(attachWebSocket(broker, app.server as HttpServer, '/mqtt', false));
      await app.listen({ host, port: config.httpPort }).catch((e) => Promise.reject(listenError(e, 'httpPort', host, config.httpPort!)));
      closers.push(() => app.close());
      const port = (app.server.address() as { port: number }).port;
      ep.http = `http://${h}:${port}`;
      ep.ws = `ws://${h}:${port}/mqtt`;
    }
    if (config.httpsPort !== null) {
      const app = createHttpApp({ logger, health, metrics, https: { key: certs.keyPem, cert: certs.certPem, ca: certs.caPem } });
      mountApi(app, true);
      closers.push(attachWebSocket(broker, app.server as HttpServer, '/mqtt', true));
      await app.listen({ host, port: config.httpsPort }).catch((e) => Promise.reject(listenError(e, 'httpsPort', host, config.httpsPort!)));
      closers.push(() => app.close());
      const port = (app.server.address() as { port: number }).port;
      ep.https = `https://${h}:${port}`;
      listenerUrls.https = ep.https;
      ep.wss = `wss://${h}:${port}/mqtt`;
    }
  } catch (err) {
    await stopAll();
    await rules.stop();
    await broker.close();
    shadows.stop();
    store.close();
    identity.close();
    db.close();
    throw err;
  }
  const creds = await ensureAdminCredentials(dataDir, { region: config.region, endpoint: ep.http ?? ep.https ?? '' });
  const endpoints: Endpoints = { ...ep, credentialsFile: creds.credentialsFile, configFile: creds.configFile };
  // Written atomically and last: its presence (with our pid) means everything is listening.
  const file = join(dataDir, 'endpoints.json');
  await writeFile(`${file}.tmp`, JSON.stringify(endpoints, null, 2) + '\n');
  await rename(`${file}.tmp`, file);
  logger.info({ endpoints, configFile: opts.configFile ?? null }, 'thingport is running');

  let stopping: Promise<void> | null = null;
  const stop = (reason = 'stop requested'): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ reason }, 'shutting down');
      // The broker refuses new connections from here on and sends DISCONNECT 0x8B to MQTT 5 clients
      // (WebSocket ones included) before the listeners and HTTP servers close.
      // Stops taking messages, lets running actions finish, closes the rule actions' connections.
      await rules.stop();
      await broker.close();
      await stopAll();
      shadows.stop();
      store.close();
      identity.close();
      db.close();
      // Tools treat endpoints.json as "this server is up"; it is not any more.
      await unlink(file).catch(() => {});
      logger.info('stopped');
    })();
    return stopping;
  };
  return { endpoints, broker, logger, stop };
}
