import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DROP_REASONS, type BrokerStats } from '../core/index.js';
import { createMetrics } from './metrics.js';

function fakeStats(): BrokerStats {
  return {
    connections: 3,
    connectionsTotal: 10,
    sessions: 4,
    subscriptions: 7,
    retainedMessages: 2,
    messagesIn: [5, 6, 0],
    messagesOut: [8, 9, 1],
    bytesIn: 1000,
    bytesOut: 2000,
    dropped: { queue_full: 1, expired: 0, packet_too_large: 0, not_authorized: 2, qos0_backpressure: 0, session_expired: 0 },
    queuedMessages: 11,
    inflightMessages: 12,
    backpressurePauses: 3,
  };
}

/** Sample lines (`name{labels} value`) of the exposition text, by series. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

test('createMetrics exports broker stats read at scrape time', async () => {
  const stats = fakeStats();
  const metrics = createMetrics(() => stats);
  assert.match(metrics.contentType, /^text\/plain/);
  let s = samples(await metrics.render());
  assert.equal(s.get('thingport_connections'), 3);
  assert.equal(s.get('thingport_connections_total'), 10);
  assert.equal(s.get('thingport_sessions'), 4);
  assert.equal(s.get('thingport_subscriptions'), 7);
  assert.equal(s.get('thingport_retained_messages'), 2);
  assert.equal(s.get('thingport_messages_received_total{qos="0"}'), 5);
  assert.equal(s.get('thingport_messages_received_total{qos="1"}'), 6);
  assert.equal(s.get('thingport_messages_received_total{qos="2"}'), 0);
  assert.equal(s.get('thingport_messages_sent_total{qos="2"}'), 1);
  assert.equal(s.get('thingport_bytes_received_total'), 1000);
  assert.equal(s.get('thingport_bytes_sent_total'), 2000);
  assert.equal(s.get('thingport_messages_dropped_total{reason="not_authorized"}'), 2);
  assert.equal(s.get('thingport_queued_messages'), 11);
  assert.equal(s.get('thingport_inflight_messages'), 12);

  stats.connections = 1;
  stats.connectionsTotal = 15;
  stats.messagesIn[1] = 60;
  s = samples(await metrics.render());
  assert.equal(s.get('thingport_connections'), 1);
  assert.equal(s.get('thingport_connections_total'), 15);
  assert.equal(s.get('thingport_messages_received_total{qos="1"}'), 60);
});

test('every drop reason is exported, at 0 until it happens', async () => {
  const s = samples(await createMetrics(fakeStats).render());
  for (const reason of DROP_REASONS) assert.ok(s.has(`thingport_messages_dropped_total{reason="${reason}"}`), reason);
  assert.equal(s.get('thingport_messages_dropped_total{reason="expired"}'), 0);
});

test('metrics have help text and types, process metrics are prefixed, registries are independent', async () => {
  const a = createMetrics(fakeStats);
  const b = createMetrics(fakeStats); // would throw on a shared registry ("already registered")
  const text = await b.render();
  assert.match(text, /^# HELP thingport_connections \S.+$/m);
  assert.match(text, /^# TYPE thingport_connections_total counter$/m);
  assert.match(text, /^# TYPE thingport_queued_messages gauge$/m);
  assert.match(text, /^thingport_process_cpu_user_seconds_total /m);
  assert.notEqual(a.registry, b.registry);
});

test('rule counters are exported per rule, per action and result, with the queue and cloudwatchMetric gauges', async () => {
  const snap = {
    rules: [
      { ruleName: 'hot', evaluated: 10, matched: 4, sqlErrors: 1 },
      { ruleName: 'all', evaluated: 10, matched: 10, sqlErrors: 0 },
    ],
    actions: [{ ruleName: 'hot', action: 'republish', succeeded: 3, failed: 1 }],
    errorActionFailures: 2,
    queueDropped: 5,
    queueDepth: 7,
    custom: [{ namespace: 'Plant', name: 'temp', unit: 'None', last: 31.5, count: 3, sum: -2 }],
  };
  const metrics = createMetrics(fakeStats, { rules: () => snap });
  let s = samples(await metrics.render());
  assert.equal(s.get('thingport_rule_messages_evaluated_total{rule="hot"}'), 10);
  assert.equal(s.get('thingport_rule_messages_matched_total{rule="hot"}'), 4);
  assert.equal(s.get('thingport_rule_sql_errors_total{rule="hot"}'), 1);
  assert.equal(s.get('thingport_rule_messages_matched_total{rule="all"}'), 10);
  assert.equal(s.get('thingport_rule_action_total{rule="hot",action="republish",result="success"}'), 3);
  assert.equal(s.get('thingport_rule_action_total{rule="hot",action="republish",result="failure"}'), 1);
  assert.equal(s.get('thingport_rule_error_action_failures_total'), 2);
  assert.equal(s.get('thingport_rules_queue_dropped_total'), 5);
  assert.equal(s.get('thingport_rules_queue_depth'), 7);
  assert.equal(s.get('thingport_rule_cloudwatch_metric_value{namespace="Plant",metric="temp",unit="None"}'), 31.5);
  assert.equal(s.get('thingport_rule_cloudwatch_metric_samples_total{namespace="Plant",metric="temp",unit="None"}'), 3);
  assert.equal(s.get('thingport_rule_cloudwatch_metric_sum{namespace="Plant",metric="temp",unit="None"}'), -2);

  // Read at scrape time; a deleted rule's series go away with its counters.
  snap.rules = [{ ruleName: 'all', evaluated: 12, matched: 12, sqlErrors: 0 }];
  snap.actions = [];
  s = samples(await metrics.render());
  assert.equal(s.get('thingport_rule_messages_evaluated_total{rule="all"}'), 12);
  assert.equal(s.has('thingport_rule_messages_evaluated_total{rule="hot"}'), false);
  assert.equal(s.has('thingport_rule_action_total{rule="hot",action="republish",result="success"}'), false);
});

test('without a rules source no rule metrics are exported', async () => {
  const text = await createMetrics(fakeStats).render();
  assert.doesNotMatch(text, /thingport_rule/);
});

test('the durable store counters are exported when the store is given, read at scrape time', async () => {
  const counts = { queuedWritten: 3, queuedCancelled: 40, updatesWritten: 1, updatesCancelled: 2, messagesWritten: 5, commits: 7 };
  const metrics = createMetrics(fakeStats, { store: () => counts });
  let s = samples(await metrics.render());
  assert.equal(s.get('thingport_store_deliveries_written_total'), 3);
  assert.equal(s.get('thingport_store_deliveries_cancelled_total'), 40);
  assert.equal(s.get('thingport_store_updates_written_total'), 1);
  assert.equal(s.get('thingport_store_updates_cancelled_total'), 2);
  assert.equal(s.get('thingport_store_messages_written_total'), 5);
  assert.equal(s.get('thingport_store_commits_total'), 7);
  counts.queuedCancelled = 41;
  s = samples(await metrics.render());
  assert.equal(s.get('thingport_store_deliveries_cancelled_total'), 41);
  assert.equal(samples(await createMetrics(fakeStats).render()).has('thingport_store_commits_total'), false);
});
