// The rules evaluation worker on the running server (rules.evaluationWorker): a rule created with
// the AWS SDK republishes what mqtt.js clients publish, with the publisher's context, and /metrics
// counts it — and the server without the worker gives the same output and counts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CreateTopicRuleCommand } from '@aws-sdk/client-iot';
import { startThingport, type Thingport } from '../helpers/thingport.js';
import { connectClient, hasMetric, httpGet, metricValue } from '../helpers/mqtt.js';
import { iotClient } from '../helpers/iot.js';

const ROLE = 'arn:aws:iam::000000000000:role/rules';

interface Run {
  republished: { topic: string; payload: unknown }[];
  counts: Record<string, number>;
  threads: number;
}

/** Threads of the server process now (the worker is one more); NaN where there is no /proc (not Linux). */
function threads(pid: number): number {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return NaN;
  }
  const m = /^Threads:\s+(\d+)$/m.exec(status);
  return m ? Number(m[1]) : NaN;
}

/** Runs the same rule and messages on a server (worker `on` or `off`, as `mode` says). */
async function run(tp: Thingport, mode: 'on' | 'off'): Promise<Run> {
  const iot = iotClient(tp);
  const sub = await connectClient(tp.mqttPort, { protocolVersion: 5 });
  const pub = await connectClient(tp.mqttPort, { clientId: `pub-${mode}`, protocolVersion: 5 });
  try {
    await iot.send(
      new CreateTopicRuleCommand({
        ruleName: 'hot_worker',
        topicRulePayload: {
          sql: "SELECT temp, topic(2) AS device, clientid() AS c FROM 'sensors/+/data' WHERE temp > 30",
          actions: [{ republish: { roleArn: ROLE, topic: 'alerts/${topic(2)}', qos: 1 } }],
          ruleDisabled: false,
        },
      }),
    );
    await sub.subscribe('alerts/#');
    for (const [device, temp] of [['d1', 20], ['d1', 35], ['d2', 31], ['d2', 30], ['d3', 99.5]] as const) {
      await pub.publish(`sensors/${device}/data`, JSON.stringify({ temp }), { qos: 1 });
    }
    await pub.publish('sensors/d4/data', 'not json', { qos: 1 });
    // Basic Ingest reaches the rule too (in the worker, when it runs).
    await pub.publish('$aws/rules/hot_worker/sensors/d5/data', JSON.stringify({ temp: 40 }), { qos: 1 });
    const got = await sub.waitMessages((m) => m.topic.startsWith('alerts/'), 4);
    const scrape = await httpGet(`${tp.httpUrl}/metrics`);
    assert.equal(scrape.status, 200);
    const m = scrape.body;
    assert.ok(hasMetric(m, 'thingport_rules_worker_refused_total'), 'the worker refusals are exported');
    return {
      republished: got.map((r) => ({ topic: r.topic, payload: JSON.parse(r.payload.toString()) as unknown })),
      counts: {
        evaluated: metricValue(m, 'thingport_rule_messages_evaluated_total', { rule: 'hot_worker' }),
        matched: metricValue(m, 'thingport_rule_messages_matched_total', { rule: 'hot_worker' }),
        sqlErrors: metricValue(m, 'thingport_rule_sql_errors_total', { rule: 'hot_worker' }),
        republished: metricValue(m, 'thingport_rule_action_total', { rule: 'hot_worker', action: 'republish', result: 'success' }),
        refused: metricValue(m, 'thingport_rules_worker_refused_total'),
        dropped: metricValue(m, 'thingport_rules_queue_dropped_total'),
        depth: metricValue(m, 'thingport_rules_queue_depth'),
      },
      threads: threads(tp.pid!),
    };
  } finally {
    await pub.end();
    await sub.end();
    iot.destroy();
  }
}

describe('rules: the evaluation worker on the running server', () => {
  const runs: Partial<Record<'on' | 'off', Run>> = {};
  const servers: Partial<Record<'on' | 'off', Thingport>> = {};

  before(async () => {
    // Both at once (start-up is most of the time), the same way but for the setting.
    const [on, off] = await Promise.allSettled([
      startThingport({ env: { THINGPORT_RULES__EVALUATION_WORKER: 'on' } }),
      startThingport({ env: { THINGPORT_RULES__EVALUATION_WORKER: 'off' } }),
    ]);
    if (on.status === 'fulfilled') servers.on = on.value;
    if (off.status === 'fulfilled') servers.off = off.value;
    if (on.status === 'rejected') throw on.reason;
    if (off.status === 'rejected') throw off.reason;
  });

  after(async () => {
    await Promise.all([servers.on?.stop(), servers.off?.stop()]);
  });

  test('[rules.evaluationWorker on] a rule created with the SDK republishes with the publisher\'s context; /metrics counts it', async () => {
    const r = await run(servers.on!, 'on');
    runs.on = r;
    assert.deepEqual(r.republished, [
      { topic: 'alerts/d1', payload: { temp: 35, device: 'd1', c: 'pub-on' } },
      { topic: 'alerts/d2', payload: { temp: 31, device: 'd2', c: 'pub-on' } },
      { topic: 'alerts/d3', payload: { temp: 99.5, device: 'd3', c: 'pub-on' } },
      { topic: 'alerts/d5', payload: { temp: 40, device: 'd5', c: 'pub-on' } },
    ]);
    // Seven messages reached the rule (six on its filter, one through Basic Ingest); four passed.
    assert.deepEqual(r.counts, { evaluated: 7, matched: 4, sqlErrors: 0, republished: 4, refused: 0, dropped: 0, depth: 0 });
  });

  test('[rules.evaluationWorker off] the same output and counts, and one thread fewer', async () => {
    const r = await run(servers.off!, 'off');
    runs.off = r;
    const on = runs.on;
    assert.ok(on, 'the run with the worker came first');
    const withoutClient = (x: Run): unknown => x.republished.map((m) => ({ ...m, payload: { ...(m.payload as object), c: undefined } }));
    assert.deepEqual(withoutClient(r), withoutClient(on));
    assert.deepEqual(
      r.republished.map((m) => (m.payload as { c: string }).c),
      ['pub-off', 'pub-off', 'pub-off', 'pub-off'],
    );
    assert.deepEqual(r.counts, on.counts);
    if (process.platform === 'linux') assert.ok(on.threads > r.threads, `the server with the worker runs more threads (${on.threads}) than the one without (${r.threads})`);
  });
});
