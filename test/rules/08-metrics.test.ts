// Rule counters on GET /metrics of the running server: rules created with the AWS SDK, messages
// published with mqtt.js, and the counters scraped as Prometheus text.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateTopicRuleCommand, DeleteTopicRuleCommand, type IoTClient } from '@aws-sdk/client-iot';
import { startThingport, type Thingport } from '../helpers/thingport.js';
import { connectClient, eventually, httpGet, metricValue, type TestClient } from '../helpers/mqtt.js';
import { iotClient } from '../helpers/iot.js';

const ROLE = 'arn:aws:iam::000000000000:role/rules';

describe('rules: counters on /metrics', () => {
  let tp: Thingport;
  let iot: IoTClient;
  let sub: TestClient;

  const scrape = async (): Promise<string> => {
    const res = await httpGet(`${tp.httpUrl}/metrics`);
    assert.equal(res.status, 200);
    return res.body;
  };

  before(async () => {
    tp = await startThingport();
    iot = iotClient(tp);
    const rule = (ruleName: string, topicRulePayload: NonNullable<ConstructorParameters<typeof CreateTopicRuleCommand>[0]['topicRulePayload']>) =>
      iot.send(new CreateTopicRuleCommand({ ruleName, topicRulePayload }));
    // Succeeds: republish and a cloudwatchMetric for messages over 30.
    await rule('m_good', {
      sql: "SELECT temp, topic(2) AS device FROM 'msensors/+/data' WHERE temp > 30",
      actions: [
        { republish: { roleArn: ROLE, topic: 'malerts/${topic(2)}', qos: 1 } },
        { cloudwatchMetric: { roleArn: ROLE, metricNamespace: 'Plant', metricName: 'temp', metricValue: '${temp}', metricUnit: 'None' } },
      ],
    });
    // Fails on every message (a wildcard is no topic to publish to); its error action reports it.
    await rule('m_bad', {
      sql: "SELECT * FROM 'msensors/+/data'",
      actions: [{ republish: { roleArn: ROLE, topic: 'mbad/+', qos: 0 } }],
      errorAction: { republish: { roleArn: ROLE, topic: 'merrors/m_bad', qos: 1 } },
    });
    // Fails, and so does its error action.
    await rule('m_worse', {
      sql: "SELECT * FROM 'msensors/+/data' WHERE temp > 30",
      actions: [{ republish: { roleArn: ROLE, topic: 'mbad/#', qos: 0 } }],
      errorAction: { republish: { roleArn: ROLE, topic: 'mbad/+', qos: 0 } },
    });
    sub = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await sub.subscribe(['malerts/#', 'merrors/#']);
  });

  after(async () => {
    await sub?.end();
    iot?.destroy();
    await tp?.stop();
  });

  test('evaluated, matched, action successes and failures, error-action failures and the queue are exported', async () => {
    const before = await scrape();
    assert.equal(metricValue(before, 'thingport_rule_messages_evaluated_total', { rule: 'm_good' }), 0);
    assert.match(before, /^# TYPE thingport_rule_action_total counter$/m);

    const pub = await connectClient(tp.mqttPort);
    for (const temp of [20, 35, 40]) await pub.publish('msensors/d1/data', JSON.stringify({ temp }), { qos: 1 });
    await pub.end();
    // The rules' own output is the event to wait for: two alerts, and one error report per message.
    await sub.waitMessages('malerts/d1', 2);
    const errors = await sub.waitMessages('merrors/m_bad', 3);
    assert.equal(JSON.parse(errors[0]!.payload.toString()).failures[0].failedAction, 'RepublishAction');
    // m_worse's error action fails without a trace outside the engine: ask until it is counted.
    await eventually(async () => metricValue(await scrape(), 'thingport_rule_error_action_failures_total') === 2, 5000, 'two error-action failures counted');

    const m = await scrape();
    const v = (name: string, labels: Record<string, string> = {}) => metricValue(m, name, labels);
    assert.equal(v('thingport_rule_messages_evaluated_total', { rule: 'm_good' }), 3);
    assert.equal(v('thingport_rule_messages_matched_total', { rule: 'm_good' }), 2);
    assert.equal(v('thingport_rule_messages_evaluated_total', { rule: 'm_bad' }), 3);
    assert.equal(v('thingport_rule_messages_matched_total', { rule: 'm_bad' }), 3);
    assert.equal(v('thingport_rule_messages_matched_total', { rule: 'm_worse' }), 2);
    assert.equal(v('thingport_rule_sql_errors_total'), 0);
    assert.equal(v('thingport_rule_action_total', { rule: 'm_good', action: 'republish', result: 'success' }), 2);
    assert.equal(v('thingport_rule_action_total', { rule: 'm_good', action: 'republish', result: 'failure' }), 0);
    assert.equal(v('thingport_rule_action_total', { rule: 'm_good', action: 'cloudwatchMetric', result: 'success' }), 2);
    assert.equal(v('thingport_rule_action_total', { rule: 'm_bad', action: 'republish', result: 'failure' }), 3);
    assert.equal(v('thingport_rule_action_total', { rule: 'm_bad', action: 'republish', result: 'success' }), 0);
    assert.equal(v('thingport_rule_action_total', { rule: 'm_worse', action: 'republish', result: 'failure' }), 2);
    assert.equal(v('thingport_rule_error_action_failures_total'), 2);
    assert.equal(v('thingport_rules_queue_dropped_total'), 0);
    assert.equal(v('thingport_rules_queue_depth'), 0);
    // cloudwatchMetric: last value, samples and sum of what the rule recorded.
    const cw = { namespace: 'Plant', metric: 'temp', unit: 'None' };
    assert.equal(v('thingport_rule_cloudwatch_metric_value', cw), 40);
    assert.equal(v('thingport_rule_cloudwatch_metric_samples_total', cw), 2);
    assert.equal(v('thingport_rule_cloudwatch_metric_sum', cw), 75);
    // Broker metrics are still there beside them.
    assert.ok(v('thingport_messages_received_total', { qos: '1' }) >= 3);
  });

  test('a deleted rule takes its series with it', async () => {
    await iot.send(new DeleteTopicRuleCommand({ ruleName: 'm_worse' }));
    const m = await scrape();
    assert.doesNotMatch(m, /rule="m_worse"/);
    assert.match(m, /rule="m_good"/);
  });
});
