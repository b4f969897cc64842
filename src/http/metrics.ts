/**
 * Prometheus metrics for GET /metrics. The broker keeps plain counters (no labels, no
 * allocation on the hot path); every metric here reads them in `collect()`, i.e. only when
 * scraped. Each call builds its own Registry, so two servers in one process (tests) never
 * share or clash over metrics.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
// Type only: http must not depend on the broker at run time; main.ts passes the stats in.
import type { BrokerStats, StoreCounts } from '../core/index.js';
import { registerRuleMetrics, type RuleMetricsSnapshot } from './metrics-rules.js';

export interface Metrics {
  registry: Registry;
  /** The exposition text for one scrape. */
  render(): Promise<string>;
  /** The Content-Type header value for `render()`'s output. */
  contentType: string;
}

export interface MetricsSources {
  /** The rules engine's counters (`thingport_rule*` metrics); without it they are not exported. */
  rules?: () => RuleMetricsSnapshot;
  /** The durable store's counters (`thingport_store_*` metrics); without it they are not exported. */
  store?: () => StoreCounts;
}

const PREFIX = 'thingport_';
const QOS_LEVELS = [0, 1, 2] as const;

/**
 * Creates a fresh registry holding Node.js process metrics (`thingport_process_*`,
 * `thingport_nodejs_*`), broker metrics read from `getStats()` at scrape time, and the other
 * sources' metrics (rules) when given.
 */
export function createMetrics(getStats: () => BrokerStats, sources: MetricsSources = {}): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: PREFIX });
  const registers = [registry];

  const gauge = (name: string, help: string, read: (s: BrokerStats) => number): void => {
    new Gauge({
      name: PREFIX + name,
      help,
      registers,
      collect() {
        this.set(read(getStats()));
      },
    });
  };
  // prom-client counters only go up by inc(); the broker owns the running total, so each
  // scrape resets and re-adds it. The result is the broker's value, monotonic as it is.
  const counterFrom = (name: string, help: string, read: () => number): void => {
    new Counter({
      name: PREFIX + name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  };
  const counter = (name: string, help: string, read: (s: BrokerStats) => number): void => counterFrom(name, help, () => read(getStats()));
  const perQos = (name: string, help: string, read: (s: BrokerStats) => readonly number[]): void => {
    new Counter({
      name: PREFIX + name,
      help,
      labelNames: ['qos'],
      registers,
      collect() {
        const values = read(getStats());
        this.reset();
        for (const qos of QOS_LEVELS) this.inc({ qos: String(qos) }, values[qos] ?? 0);
      },
    });
  };

  gauge('connections', 'MQTT connections open now (CONNECT accepted), over TCP, TLS and WebSocket.', (s) => s.connections);
  counter('connections_total', 'MQTT connections accepted since start.', (s) => s.connectionsTotal);
  gauge('sessions', 'MQTT sessions held now, of connected and disconnected clients (persistent sessions awaiting expiry).', (s) => s.sessions);
  gauge('subscriptions', 'Topic filter subscriptions held now, across all sessions.', (s) => s.subscriptions);
  gauge('retained_messages', 'Retained messages stored now.', (s) => s.retainedMessages);
  perQos('messages_received_total', 'PUBLISH packets received from clients since start, by QoS.', (s) => s.messagesIn);
  perQos('messages_sent_total', 'PUBLISH packets sent to clients since start, by QoS (one per delivery, so fan-out counts each subscriber).', (s) => s.messagesOut);
  counter('bytes_received_total', 'Bytes read from MQTT client connections since start.', (s) => s.bytesIn);
  counter('bytes_sent_total', 'Bytes written to MQTT client connections since start.', (s) => s.bytesOut);
  new Counter({
    name: `${PREFIX}messages_dropped_total`,
    help:
      'Messages not delivered since start, by reason: queue_full (session queue bound reached), expired (message expiry passed), ' +
      "packet_too_large (over the receiver's maximum packet size), not_authorized (policy refused delivery), " +
      'qos0_backpressure (QoS 0 to a client whose socket buffer is full), session_expired (queued when its session expired).',
    labelNames: ['reason'],
    registers,
    collect() {
      const dropped = getStats().dropped;
      this.reset();
      // Every reason is in the stats record (Record<DropReason, number>), so each series is
      // always exported, at 0 until it happens: rate() and alerts need the series to exist.
      for (const [reason, count] of Object.entries(dropped)) this.inc({ reason }, count);
    },
  });
  gauge('queued_messages', 'QoS 1/2 messages waiting in session queues, not yet sent (offline or slow clients).', (s) => s.queuedMessages);
  gauge('inflight_messages', 'QoS 1/2 messages sent to clients and not yet acknowledged.', (s) => s.inflightMessages);
  counter('backpressure_pauses_total', 'Times a publisher was paused because a receiver it feeds could not keep up.', (s) => s.backpressurePauses);
  if (sources.rules) registerRuleMetrics(registry, PREFIX, sources.rules);
  const store = sources.store;
  if (store) {
    const storeCounter = (name: string, help: string, read: (c: StoreCounts) => number): void => counterFrom(name, help, () => read(store()));
    storeCounter('store_deliveries_written_total', 'Deliveries to persistent sessions written to the store since start.', (c) => c.queuedWritten);
    storeCounter('store_deliveries_cancelled_total', 'Deliveries to persistent sessions acknowledged (or dropped) before their batch committed, so never written.', (c) => c.queuedCancelled);
    storeCounter('store_updates_written_total', 'State changes of stored deliveries (sent, PUBREC received) written since start.', (c) => c.updatesWritten);
    storeCounter('store_updates_cancelled_total', 'State changes of stored deliveries not written because the acknowledgement came first.', (c) => c.updatesCancelled);
    storeCounter('store_messages_written_total', 'Messages written once for several persistent sessions (shared message rows) since start.', (c) => c.messagesWritten);
    storeCounter('store_commits_total', 'Store transactions committed since start.', (c) => c.commits);
  }

  return { registry, render: () => registry.metrics(), contentType: registry.contentType };
}
