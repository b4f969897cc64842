/**
 * SUBSCRIBE and UNSUBSCRIBE (MQTT sections 3.8 and 3.10), with AWS IoT Core's limits, retained
 * message delivery per Retain Handling, and the subscription lifecycle events.
 */
import type mqttPacket from 'mqtt-packet';
import type { IPacket } from 'mqtt-packet';
import { RC } from '../protocol/index.js';
import { hasWildcard, parseSharedFilter, topicMatches, validateTopicFilter } from '../protocol/index.js';
import type { Broker } from './broker.js';
import type { Connection } from './connection.js';
import { emitsLifecycleEvents, subscriptionEvent, SUBSCRIBED, UNSUBSCRIBED } from './lifecycle.js';
import type { QoS } from './message.js';
import type { Subscription } from './session.js';

export function handleSubscribe(b: Broker, conn: Connection, p: mqttPacket.ISubscribePacket): void {
  const cfg = b.config;
  const s = conn.session!;
  const info = conn.info!;
  const v5 = conn.protocolVersion === 5;
  if (!(p.messageId! > 0)) return conn.protocolViolation(RC.PROTOCOL_ERROR); // [MQTT-2.2.1-3]
  if (p.subscriptions.length === 0) return conn.protocolViolation(RC.PROTOCOL_ERROR); // [MQTT-3.8.3-2]
  const subId = v5 ? p.properties?.subscriptionIdentifier : undefined;
  if (subId === 0) return conn.protocolViolation(RC.PROTOCOL_ERROR); // [MQTT-3.8.2.1.2] 0 is not a valid identifier
  if (subId !== undefined && !cfg.subscriptionIdentifiers) return conn.protocolViolation(RC.SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED);
  // Syntax errors make the whole packet malformed; check all filters before changing anything.
  for (const req of p.subscriptions) {
    if (req.topic.includes('\uFFFD')) return conn.protocolViolation(RC.MALFORMED_PACKET);
    const sh = parseSharedFilter(req.topic);
    const f = sh ? sh.filter : req.topic;
    if (validateTopicFilter(f, cfg) === RC.MALFORMED_PACKET) return conn.protocolViolation(RC.MALFORMED_PACKET);
    if (sh && req.nl === true) return conn.protocolViolation(RC.PROTOCOL_ERROR); // [MQTT-3.8.3-4]
  }
  const granted: number[] = [];
  const topics: string[] = [];
  const retainedFor: Subscription[] = [];
  for (let i = 0; i < p.subscriptions.length; i++) {
    const req = p.subscriptions[i];
    const rc = checkFilter(b, conn, req.topic, i);
    if (rc !== 0) {
      granted.push(v5 ? rc : 0x80);
      continue;
    }
    const qos = Math.min(req.qos, cfg.maxQos) as QoS;
    const rh = (v5 ? (req.rh ?? 0) : 0) as 0 | 1 | 2;
    const sub = b.index.makeSubscription(s, req.topic, qos, v5 && req.nl === true, v5 && req.rap === true, rh, subId ?? null);
    const isNew = b.index.add(s, sub);
    if (s.persistent) {
      b.store.putSubscription({ clientId: s.clientId, filter: sub.filter, qos, noLocal: sub.noLocal, retainAsPublished: sub.retainAsPublished, retainHandling: rh, subscriptionId: sub.subscriptionId });
    }
    granted.push(qos);
    topics.push(req.topic);
    // [MQTT-3.3.1-9..11] retained messages per Retain Handling; never for shared subscriptions [MQTT-3.8.4-?].
    if (sub.group === null && (rh === 0 || (rh === 1 && isNew))) retainedFor.push(sub);
  }
  conn.writePacket({ cmd: 'suback', messageId: p.messageId, granted } as IPacket & { cmd: string });
  for (const sub of retainedFor) sendRetained(b, conn, sub);
  if (topics.length > 0 && emitsLifecycleEvents(s.clientId)) b.publishEvent(SUBSCRIBED + s.clientId, subscriptionEvent(info, true, topics));
}

/** Reason code for one filter of a SUBSCRIBE (0 = acceptable). */
function checkFilter(b: Broker, conn: Connection, filter: string, index: number): number {
  const cfg = b.config;
  const s = conn.session!;
  if (index >= cfg.maxFiltersPerSubscribe) return RC.QUOTA_EXCEEDED; // AWS: 8 filters per SUBSCRIBE
  const sh = parseSharedFilter(filter);
  if (sh === undefined) return RC.TOPIC_FILTER_INVALID; // bad share name [MQTT-4.8.2-1/2]
  if (sh !== null && !cfg.sharedSubscriptions) return RC.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED;
  const f = sh ? sh.filter : filter;
  const rc = validateTopicFilter(f, cfg);
  if (rc !== 0) return rc;
  if (!cfg.wildcardSubscriptions && hasWildcard(f)) return RC.WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED;
  if (s.getSubscription(filter) === undefined && s.subscriptionCount >= cfg.maxSubscriptionsPerConnection) return RC.QUOTA_EXCEEDED; // AWS: 50
  // Basic Ingest topics have no subscribers (they go straight to the rules engine).
  if (f.startsWith('$aws/rules/')) return RC.NOT_AUTHORIZED;
  const authz = b.hooks.authorizeSubscribe;
  if (authz !== undefined && !authz(conn.info!, filter)) return RC.NOT_AUTHORIZED;
  return 0;
}

/** Sends the retained messages matching a new subscription, with RETAIN 1 [MQTT-3.3.1-8]. */
function sendRetained(b: Broker, conn: Connection, sub: Subscription): void {
  if (b.retained.size === 0) return;
  const now = Date.now();
  const s = conn.session!;
  const subIds = sub.subscriptionId === null ? null : [sub.subscriptionId];
  const exact = !hasWildcard(sub.topicFilter);
  const deliver = (topic: string): void => {
    const m = b.retained.get(topic);
    if (m === undefined) return;
    if (m.expiresAt !== 0 && m.expiresAt <= now) {
      b.retained.delete(topic);
      b.store.deleteRetained(topic);
      b.stats.retainedMessages = b.retained.size;
      return;
    }
    const qos = (m.qos < sub.qos ? m.qos : sub.qos) as QoS;
    // Replayed through the in-flight window; the queue bound does not apply (every matching retained
    // message must arrive, as a `#` subscriber over 10,000 retained topics expects).
    b.deliver(s, m, qos, true, subIds, null, null, true);
  };
  if (exact) deliver(sub.topicFilter);
  else for (const topic of [...b.retained.keys()]) if (topicMatches(sub.topicFilter, topic)) deliver(topic);
}

export function handleUnsubscribe(b: Broker, conn: Connection, p: mqttPacket.IUnsubscribePacket): void {
  const s = conn.session!;
  if (!(p.messageId! > 0)) return conn.protocolViolation(RC.PROTOCOL_ERROR);
  if (p.unsubscriptions.length === 0) return conn.protocolViolation(RC.PROTOCOL_ERROR); // [MQTT-3.10.3-2]
  const codes: number[] = [];
  const topics: string[] = [];
  for (const filter of p.unsubscriptions) {
    if (filter.length === 0 || filter.includes('\uFFFD')) return conn.protocolViolation(RC.MALFORMED_PACKET);
    const removed = b.index.remove(s, filter);
    if (removed) {
      if (s.persistent) b.store.deleteSubscription(s.clientId, filter);
      topics.push(filter);
    }
    codes.push(removed ? RC.SUCCESS : RC.NO_SUBSCRIPTION_EXISTED);
  }
  if (conn.protocolVersion === 5) conn.writePacket({ cmd: 'unsuback', messageId: p.messageId, granted: codes } as IPacket & { cmd: string });
  else conn.writePacket({ cmd: 'unsuback', messageId: p.messageId } as IPacket & { cmd: string });
  if (topics.length > 0 && emitsLifecycleEvents(s.clientId)) b.publishEvent(UNSUBSCRIBED + s.clientId, subscriptionEvent(conn.info!, false, topics));
}
