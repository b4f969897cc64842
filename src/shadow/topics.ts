/**
 * The MQTT adapter: requests on `$aws/things/{thing}/shadow[/name/{shadow}]/{get,update,delete}`
 * become service calls; answers go to `…/get/accepted` and `…/{op}/rejected` (the service itself
 * publishes update/accepted, delta, documents and delete/accepted). The broker's policy hooks have
 * already decided iot:Publish on the request topic before the message gets here.
 *
 * [AWS shadow errors, 429] "more than 10 in-flight requests on a single connection": a request is
 * in flight from its arrival until its answers have been handed to the broker. Requests are
 * applied synchronously, so this bites when a connection delivers more than 10 requests in one
 * read (one burst handled before the server yields); the 11th is rejected with 429.
 */
import type { ClientInfo, Message, Messaging } from '../core/index.js';
import type { Logger } from '../lib/index.js';
import { readClientToken, decodePayload } from './document.js';
import { ShadowError } from './errors.js';
import { rejected } from './payloads.js';
import type { ShadowService } from './service.js';
import { parseShadowRequestTopic, shadowTopicPrefix } from './topic-names.js';

export interface ShadowTopicsDeps {
  service: ShadowService;
  messaging: Pick<Messaging, 'subscribe'>;
  logger: Logger;
  /** In-flight requests allowed per connection before 429. AWS: 10. */
  maxInFlight?: number;
}

export interface ShadowTopics {
  start(): void;
  stop(): void;
  /** Requests in flight per connection (for tests and metrics). */
  inFlight(): number;
}

/** The in-process subscription the adapter makes (AWS may add topics under shadow/, so one filter covers all). */
export const SHADOW_REQUEST_FILTER = '$aws/things/+/shadow/#';

export function createShadowTopics(deps: ShadowTopicsDeps): ShadowTopics {
  const { service, logger } = deps;
  const maxInFlight = deps.maxInFlight ?? 10;
  const inFlight = new Map<string, number>();
  let unsubscribe: (() => void) | null = null;

  const release = (key: string | null): void => {
    if (key === null) return;
    const n = (inFlight.get(key) ?? 1) - 1;
    if (n <= 0) inFlight.delete(key);
    else inFlight.set(key, n);
  };

  const reject = (prefix: string, op: string, err: ShadowError): Promise<void> =>
    service.publish(`${prefix}/${op}/rejected`, rejected(err.status, err.message, service.seconds(), err.clientToken));

  const handle = (message: Message, client: ClientInfo | null): void => {
    const req = parseShadowRequestTopic(message.topic);
    if (req === null) return;
    const { thingName, shadowName, operation } = req;
    const prefix = shadowTopicPrefix(thingName, shadowName);
    // Platform publishes (rules republishing to a shadow topic) have no connection to throttle.
    const key = client === null ? null : `${client.clientId}\u0000${client.sessionIdentifier}`;
    if (key !== null) {
      const n = inFlight.get(key) ?? 0;
      if (n >= maxInFlight) {
        const d = decodePayload(message.payload);
        const t = d.ok ? readClientToken(d.value, service.limits.maxClientTokenBytes) : null;
        void reject(prefix, operation, new ShadowError('shadow.too_many_requests', undefined, t?.ok === true ? t.value : undefined));
        return;
      }
      inFlight.set(key, n + 1);
    }
    const caller = { principal: client?.principal ?? null, clientId: client?.clientId ?? null };
    let done: Promise<void>;
    try {
      if (operation === 'get') done = service.publish(`${prefix}/get/accepted`, service.get(thingName, shadowName, message.payload));
      else if (operation === 'update') done = service.update(thingName, shadowName, message.payload, caller).published;
      else done = service.delete(thingName, shadowName, message.payload, caller).published;
    } catch (err) {
      let e: ShadowError;
      if (err instanceof ShadowError) e = err;
      else {
        logger.error({ err, topic: message.topic }, 'shadow request failed');
        e = new ShadowError('shadow.internal');
      }
      done = reject(prefix, operation, e);
    }
    void done.finally(() => release(key));
  };

  return {
    start() {
      unsubscribe ??= deps.messaging.subscribe(SHADOW_REQUEST_FILTER, handle);
    },
    stop() {
      unsubscribe?.();
      unsubscribe = null;
    },
    inFlight: () => [...inFlight.values()].reduce((a, b) => a + b, 0),
  };
}
