/**
 * The broker's authorization hooks, decided by the policy engine. Resources (AWS IoT action
 * resources, developerguide/iot-action-resources.html):
 *  - CONNECT   `iot:Connect`   on `client/{clientId}`;
 *  - PUBLISH   `iot:Publish`   on `topic/{topic}`, and `iot:RetainPublish` on the same topic when RETAIN is set;
 *  - SUBSCRIBE `iot:Subscribe` on `topicfilter/{filter}`, the filter as sent — a shared subscription
 *    is authorized as `topicfilter/$share/{group}/{filter}` (what AWS's own shared-subscription
 *    samples grant);
 *  - delivery  `iot:Receive`   on `topic/{topic}`.
 *
 * Hot path: per connection (a WeakMap on the broker's ClientInfo, so nothing outlives the
 * connection) the subject is built once and decisions are kept per action in small maps keyed by
 * topic or filter, dropped when the engine's generation moves. A hit costs two map lookups and
 * builds no string.
 */
import type { ClientInfo, Message } from '../../core/index.js';
import type { AuthzSubject } from './context.js';
import type { PolicyEngine } from './engine.js';

export interface AuthorizationHookOptions {
  region: string;
  accountId: string;
  /** The policy subject of a connected client (principal, thing, address, authorizer policies). */
  subjectOf(client: ClientInfo): AuthzSubject;
}

export interface AuthorizationHooks {
  /** At CONNECT, before a ClientInfo exists. */
  authorizeConnect(subject: AuthzSubject): boolean;
  authorizePublish(client: ClientInfo, message: Message): boolean;
  authorizeSubscribe(client: ClientInfo, filter: string): boolean;
  authorizeReceive(client: ClientInfo, message: Message): boolean;
}

/** Entries per decision map before it is emptied (a client cycling through unique topics). */
const MAX_CACHED = 1024;

interface ConnectionCache {
  generation: number;
  cacheable: boolean;
  subject: AuthzSubject;
  publish: Map<string, boolean>;
  retain: Map<string, boolean>;
  subscribe: Map<string, boolean>;
  receive: Map<string, boolean>;
}

export function createAuthorizationHooks(engine: PolicyEngine, opts: AuthorizationHookOptions): AuthorizationHooks {
  const prefix = `arn:aws:iot:${opts.region}:${opts.accountId}:`;
  const topicArn = `${prefix}topic/`;
  const filterArn = `${prefix}topicfilter/`;
  const caches = new WeakMap<ClientInfo, ConnectionCache>();

  const cacheOf = (client: ClientInfo): ConnectionCache => {
    let c = caches.get(client);
    if (c === undefined) {
      let subject: AuthzSubject;
      try {
        subject = opts.subjectOf(client);
      } catch {
        // Never throw on the hot path: a client whose subject cannot be built gets no policies (all denied).
        subject = { clientId: client.clientId, principal: null, thingName: null, sourceIp: client.remoteAddress };
      }
      c = { generation: -1, cacheable: false, subject, publish: new Map(), retain: new Map(), subscribe: new Map(), receive: new Map() };
      caches.set(client, c);
    }
    if (c.generation !== engine.generation) {
      c.generation = engine.generation;
      c.cacheable = engine.decisionsCacheable(c.subject);
      c.publish.clear();
      c.retain.clear();
      c.subscribe.clear();
      c.receive.clear();
    }
    return c;
  };

  const check = (c: ConnectionCache, map: Map<string, boolean>, action: string, arnPrefix: string, name: string): boolean => {
    if (!c.cacheable) return engine.authorize(c.subject, action, arnPrefix + name);
    let d = map.get(name);
    if (d === undefined) {
      d = engine.authorize(c.subject, action, arnPrefix + name);
      if (map.size >= MAX_CACHED) map.clear();
      map.set(name, d);
    }
    return d;
  };

  return {
    authorizeConnect: (subject) => engine.authorize(subject, 'iot:Connect', `${prefix}client/${subject.clientId}`),
    authorizePublish(client, message) {
      const c = cacheOf(client);
      if (!check(c, c.publish, 'iot:Publish', topicArn, message.topic)) return false;
      return !message.retain || check(c, c.retain, 'iot:RetainPublish', topicArn, message.topic);
    },
    authorizeSubscribe(client, filter) {
      const c = cacheOf(client);
      return check(c, c.subscribe, 'iot:Subscribe', filterArn, filter);
    },
    authorizeReceive(client, message) {
      const c = cacheOf(client);
      return check(c, c.receive, 'iot:Receive', topicArn, message.topic);
    },
  };
}
