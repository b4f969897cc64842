/**
 * shadow: AWS IoT device shadows, classic and named — the document algebra, durable storage
 * with history, the MQTT topics `$aws/things/{thing}/shadow/…`, and the shadow operations of the
 * IoT data plane.
 */
import type { FastifyInstance } from 'fastify';
import type { Messaging, SqliteDatabase } from '../core/index.js';
import type { AccessKeyLookup, AwsHandlers, IotDataOperations } from '../http/index.js';
import type { Logger } from '../lib/index.js';
import type { ShadowLimits } from './document.js';
import { registerHistoryRoute } from './history.js';
import { createShadowHandlers, type ShadowHttpAuthorizer } from './http.js';
import { ShadowService, type HistoryRetention } from './service.js';
import { SqliteShadowStore } from './store-sqlite.js';
import { createShadowTopics } from './topics.js';

/** The service every adapter calls, its limits and history retention. */
export { ShadowService, DEFAULT_HISTORY_RETENTION } from './service.js';
export type { HistoryRetention, ShadowCaller, ShadowResult, ShadowServiceDeps, ShadowView } from './service.js';
/** The pure document algebra and AWS's limits. */
export { DEFAULT_SHADOW_LIMITS, applyUpdate, computeDelta, decodeUpdateRequest, mergeSection } from './document.js';
export type { ShadowDocument, ShadowLimits, UpdateRequest } from './document.js';
/** Order-preserving JSON (documents are echoed with keys and numbers exactly as sent). */
export { parseJson, writeJson, toPlain, JsonNumber } from './json.js';
export type { JsonObject, JsonValue } from './json.js';
/** The error catalog: dotted codes with AWS's statuses and texts. */
export { ShadowError, SHADOW_ERRORS } from './errors.js';
export type { ShadowErrorCode } from './errors.js';
/** The storage port, its SQLite implementation, and the conformance suite implementations run. */
export type { ShadowStore, ShadowRecord, ShadowHistoryEntry, HistoryQuery } from './store.js';
export { SqliteShadowStore } from './store-sqlite.js';
/** History queries and their JSON rendering (HTTP route and CLI). */
export { parseHistoryParams, readHistory, renderHistory, parseTime } from './history.js';
export type { HistoryParams } from './history.js';
/** Topic names. */
export { shadowTopicPrefix, parseShadowRequestTopic } from './topic-names.js';
export type { ShadowHttpAuthorizer } from './http.js';

export interface ShadowsDeps {
  /** The shared database; shadows migrate their `shadow_*` tables on it. */
  db: SqliteDatabase;
  /** The broker's in-process API: `subscribe` for requests, `publish` for answers. */
  messaging: Pick<Messaging, 'publish' | 'subscribe'>;
  region: string;
  accountId: string;
  logger: Logger;
  /** Access keys, for the history route's SigV4 check. */
  accessKeys: AccessKeyLookup;
  /** Decides HTTP shadow actions; absent = every authenticated caller may. */
  authorize?: ShadowHttpAuthorizer;
  now?: () => number;
  limits?: Partial<ShadowLimits>;
  history?: Partial<HistoryRetention>;
  /** In-flight MQTT requests per connection before 429 (AWS: 10). */
  maxInFlight?: number;
  /** How often the history retention sweep runs (ms). Default 1 hour. */
  pruneIntervalMs?: number;
}

export interface Shadows {
  service: ShadowService;
  /** GetThingShadow, UpdateThingShadow, DeleteThingShadow, ListNamedShadowsForThing. */
  dataHandlers: AwsHandlers<IotDataOperations>;
  /** Subscribes to the shadow request topics and starts the history retention sweep. */
  start(): void;
  stop(): void;
  /** Registers Thingport's `GET /things/{thing}/shadow/history` on an app (call before listen, on each HTTP app). */
  historyRoutes(app: FastifyInstance): void;
}

/**
 * Builds device shadows on the shared database. Wire `dataHandlers` into the data-plane router
 * (`iotDataModel`, signing name `iotdata`), call `historyRoutes(app)` on each HTTP app, and
 * `start()` once the broker exists (the subscription goes through `messaging`).
 */
export function createShadows(deps: ShadowsDeps): Shadows {
  const logger = deps.logger.child({ component: 'shadow' });
  const service = new ShadowService({
    store: new SqliteShadowStore(deps.db),
    messaging: deps.messaging,
    logger,
    ...(deps.now !== undefined ? { now: deps.now } : {}),
    ...(deps.limits !== undefined ? { limits: deps.limits } : {}),
    ...(deps.history !== undefined ? { history: deps.history } : {}),
  });
  const topics = createShadowTopics({ service, messaging: deps.messaging, logger, ...(deps.maxInFlight !== undefined ? { maxInFlight: deps.maxInFlight } : {}) });
  let sweep: NodeJS.Timeout | null = null;
  return {
    service,
    dataHandlers: createShadowHandlers({ service, region: deps.region, accountId: deps.accountId, ...(deps.authorize !== undefined ? { authorize: deps.authorize } : {}) }),
    start() {
      topics.start();
      if (sweep === null) {
        const prune = (): void => {
          try {
            const n = service.pruneHistory();
            if (n > 0) logger.debug({ removed: n }, 'shadow history pruned');
          } catch (err) {
            logger.warn({ err }, 'shadow history prune failed');
          }
        };
        prune();
        sweep = setInterval(prune, deps.pruneIntervalMs ?? 3_600_000);
        sweep.unref();
      }
    },
    stop() {
      topics.stop();
      if (sweep !== null) clearInterval(sweep);
      sweep = null;
    },
    historyRoutes(app) {
      registerHistoryRoute(app, { service, authenticate: deps.accessKeys, region: deps.region, logger, ...(deps.now !== undefined ? { now: deps.now } : {}) });
    },
  };
}
