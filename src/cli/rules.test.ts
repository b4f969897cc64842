// `thingport rules ...` as a user runs it: the built CLI, spawned, against ad-hoc SQL with no data
// directory, and against the data directory of a real running server (rules created with the AWS
// SDK, messages published with mqtt.js).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateTopicRuleCommand, type IoTClient } from '@aws-sdk/client-iot';
import { runThingport, startThingport, type Thingport } from '../../test/helpers/thingport.js';
import { connectClient, eventually, httpGet, metricValue } from '../../test/helpers/mqtt.js';
import { iotClient, readAdminKey } from '../../test/helpers/iot.js';
import { readAws, signRequest } from '../../test/helpers/sigv4.js';

const SQL = "SELECT temp, topic(2) AS device FROM 'sensors/+/data' WHERE temp > 30";
/** The stored rule's: `id` is the local table's default hash key, for the dynamoDBv2 action. */
const RULE_SQL = "SELECT temp, topic(2) AS id FROM 'sensors/+/data' WHERE temp > 30";
const ROLE = 'arn:aws:iam::000000000000:role/rules';
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function workdir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'thingport-cli-rules-'));
  dirs.push(dir);
  return dir;
}

/** Runs `thingport rules ...` in `cwd` (default: an empty directory, so no ./data and no thingport.yaml). */
async function rules(args: string[], cwd = workdir()) {
  const r = await runThingport(['rules', ...args], { cwd, timeoutMs: 30_000 });
  assert.equal(r.timedOut, false);
  return r;
}

describe('thingport rules test with ad-hoc SQL (no server, no data directory)', () => {
  test('a matching message prints the output; a non-matching one matched: false; both exit 0', async () => {
    const hot = await rules(['test', '--sql', SQL, '--topic', 'sensors/d1/data', '--payload', '{"temp": 31}']);
    assert.equal(hot.code, 0, hot.stderr);
    assert.deepEqual(JSON.parse(hot.stdout), { results: [{ topic: 'sensors/d1/data', matched: true, output: { temp: 31, device: 'd1' }, actions: [] }] });
    const cold = await rules(['test', '--sql', SQL, '--topic', 'sensors/d1/data', '--payload', '{"temp": 20}']);
    assert.equal(cold.code, 0, cold.stderr);
    assert.deepEqual(JSON.parse(cold.stdout).results, [{ topic: 'sensors/d1/data', matched: false, actions: [] }]);
    // FROM decides too: another topic does not match.
    const other = await rules(['test', '--sql', SQL, '--topic', 'other/d1/data', '--payload', '{"temp": 50}']);
    assert.equal(JSON.parse(other.stdout).results[0].matched, false);
  });

  test('--payload-file sends the file bytes; --actions lists what would run; --client-id feeds clientid()', async () => {
    const cwd = workdir();
    writeFileSync(join(cwd, 'msg.json'), '{"temp": 40, "unit": "C"}');
    const actions = JSON.stringify([{ republish: { roleArn: ROLE, topic: 'alerts/${topic(2)}' } }]);
    const r = await rules(['test', '--sql', "SELECT *, clientid() AS who FROM 'sensors/+/data'", '--topic', 'sensors/d2/data', '--payload-file', 'msg.json', '--actions', actions, '--client-id', 'dev-2'], cwd);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).results, [
      { topic: 'sensors/d2/data', matched: true, output: { temp: 40, unit: 'C', who: 'dev-2' }, actions: [{ action: 'republish', resource: 'alerts/${topic(2)}' }] },
    ]);
    // A payload that is not JSON is bytes, as when a device publishes it.
    const bin = await rules(['test', '--sql', "SELECT encode(*, 'base64') AS b FROM 't'", '--topic', 't', '--payload', 'hi']);
    assert.deepEqual(JSON.parse(bin.stdout).results[0].output, { b: Buffer.from('hi').toString('base64') });
  });

  test('bad SQL or a bad action exits 1 with the reason; usage errors exit 2', async () => {
    const bad = await rules(['test', '--sql', "SELECT temp FROM 'a/b' WHERE", '--topic', 'a/b', '--payload', '{}']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^thingport rules test: SqlParseException: .*line 1, column \d+/);
    const badAction = await rules(['test', '--sql', SQL, '--topic', 'a/b', '--payload', '{}', '--actions', '[{"sns": {"targetArn": "x", "roleArn": "y"}}]']);
    assert.equal(badAction.code, 1);
    assert.match(badAction.stderr, /sns/);
    for (const [args, reason] of [
      [[], /^Usage: thingport rules/],
      [['frob'], /unknown action "frob"/],
      [['test', '--sql', SQL, '--payload', '{}'], /--topic is required/],
      [['test', '--sql', SQL, '--topic', 't'], /--payload TEXT or --payload-file FILE/],
      [['test', '--sql', SQL, '--topic', 't', '--payload', '{}', '--payload-file', 'f'], /one of them/],
      [['test', '--sql', SQL, '--topic', 't', '--payload', '{}', '--actions', '{nope'], /--actions must be JSON/],
      [['test', '--topic', 't', '--payload', '{}'], /give a rule name or --sql/],
      [['tables', 'x', '--limit', '0'], /--limit must be a whole number/],
      [['list', '--topic', 't'], /--topic is not an option/],
    ] as const) {
      const r = await rules([...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(args.length === 0 ? r.stdout : r.stderr, reason, args.join(' '));
    }
  });

  test('stored rules need a data directory; traces need a running server', async () => {
    const r = await rules(['test', 'hot', '--topic', 't', '--payload', '{}']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no Thingport database in .*data; start the server once/);
    const t = await rules(['traces', 'hot']);
    assert.equal(t.code, 1);
    assert.match(t.stderr, /traces live in the running server's memory, and no server is running/);
  });
});

describe('thingport rules on a running server\'s data directory', () => {
  let tp: Thingport;
  let iot: IoTClient;
  const dd = (): string[] => ['--data-dir', tp.dataDir];

  before(async () => {
    tp = await startThingport();
    iot = iotClient(tp);
    await iot.send(
      new CreateTopicRuleCommand({
        ruleName: 'hot',
        topicRulePayload: {
          sql: RULE_SQL,
          description: 'hot sensors',
          actions: [{ republish: { roleArn: ROLE, topic: 'alerts/${topic(2)}', qos: 1 } }, { dynamoDBv2: { roleArn: ROLE, putItem: { tableName: 'readings' } } }],
        },
      }),
    );
    await iot.send(new CreateTopicRuleCommand({ ruleName: 'quiet', topicRulePayload: { sql: "SELECT * FROM 'q/#'", actions: [], ruleDisabled: true } }));
    // One message through the live engine: a trace, and an item in the local table (id = device).
    const sub = await connectClient(tp.mqttPort);
    await sub.subscribe('alerts/#');
    const pub = await connectClient(tp.mqttPort);
    await pub.publish('sensors/d7/data', JSON.stringify({ temp: 35 }), { qos: 1 });
    await sub.waitMessages('alerts/d7', 1);
    await eventually(async () => metricValue((await httpGet(`${tp.httpUrl}/metrics`)).body, 'thingport_rule_action_total', { rule: 'hot', result: 'success' }) === 2, 5000, 'both actions done');
    await pub.end();
    await sub.end();
  });

  after(async () => {
    iot?.destroy();
    await tp?.stop();
  });

  test('rules test RULE prints what POST /rules/RULE/test answers', async () => {
    const r = await rules(['test', 'hot', '--topic', 'sensors/d9/data', '--payload', '{"temp": 33}', ...dd()]);
    assert.equal(r.code, 0, r.stderr);
    const { url, init } = await signRequest(tp.httpUrl, readAdminKey(tp.dataDir), tp.endpoints.region, {
      method: 'POST',
      path: '/rules/hot/test',
      body: JSON.stringify({ messages: [{ topic: 'sensors/d9/data', payload: { temp: 33 } }] }),
    });
    const http = await readAws(await fetch(url, init));
    assert.equal(http.status, 200);
    assert.deepEqual(JSON.parse(r.stdout), http.body);
    assert.deepEqual(JSON.parse(r.stdout).results[0].actions, [
      { action: 'republish', resource: 'alerts/${topic(2)}' },
      { action: 'dynamoDBv2', resource: 'readings' },
    ]);
    const none = await rules(['test', 'nope', '--topic', 't', '--payload', '{}', ...dd()]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /nope/);
  });

  test('rules list and get show the stored rules', async () => {
    const list = await rules(['list', ...dd()]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^NAME\s+STATUS\s+TOPIC\s+ACTIONS\n/);
    assert.match(list.stdout, /^hot\s+enabled\s+sensors\/\+\/data\s+republish,dynamoDBv2$/m);
    assert.match(list.stdout, /^quiet\s+disabled\s+q\/#\s+$/m);
    const json = JSON.parse((await rules(['list', '--json', ...dd()])).stdout) as { rules: Array<Record<string, unknown>> };
    assert.deepEqual(json.rules.map((r) => [r.ruleName, r.ruleDisabled, r.topicPattern, r.ruleArn]), [
      ['hot', false, 'sensors/+/data', `arn:aws:iot:${tp.endpoints.region}:${tp.endpoints.accountId}:rule/hot`],
      ['quiet', true, 'q/#', `arn:aws:iot:${tp.endpoints.region}:${tp.endpoints.accountId}:rule/quiet`],
    ]);
    const get = await rules(['get', 'hot', ...dd()]);
    assert.equal(get.code, 0, get.stderr);
    const g = JSON.parse(get.stdout) as { ruleArn: string; rule: Record<string, unknown> };
    assert.equal(g.rule.sql, RULE_SQL);
    assert.equal(g.rule.description, 'hot sensors');
    assert.equal(g.rule.awsIotSqlVersion, '2015-10-08');
    assert.equal((g.rule.actions as unknown[]).length, 2);
    const missing = await rules(['get', 'nope', ...dd()]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope/);
  });

  test('rules tables reads what the dynamoDBv2 action wrote', async () => {
    const all = await rules(['tables', 'readings', ...dd()]);
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(JSON.parse(all.stdout), { items: [{ temp: 35, id: 'd7' }] });
    const byKey = await rules(['tables', 'readings', '--hash-key', 'd7', ...dd()]);
    assert.equal(byKey.code, 0, byKey.stderr);
    assert.deepEqual(JSON.parse(byKey.stdout), { items: [{ temp: 35, id: 'd7' }] });
    const absent = await rules(['tables', 'readings', '--hash-key', 'nobody', ...dd()]);
    assert.deepEqual(JSON.parse(absent.stdout), { items: [] });
  });

  test('rules traces asks the running server (SigV4 with the admin key) for the rule\'s traces', async () => {
    const r = await rules(['traces', 'hot', ...dd()]);
    assert.equal(r.code, 0, r.stderr);
    const { traces } = JSON.parse(r.stdout) as { traces: Array<{ traceId: string; topic: string; matched: boolean; output: unknown; actions: unknown[] }> };
    assert.equal(traces.length, 1);
    assert.equal(traces[0]!.topic, 'sensors/d7/data');
    assert.equal(traces[0]!.matched, true);
    assert.deepEqual(traces[0]!.output, { temp: 35, id: 'd7' });
    assert.deepEqual(traces[0]!.actions, [{ action: 'republish', ok: true }, { action: 'dynamoDBv2', ok: true }]);
    assert.match(traces[0]!.traceId, /^[0-9a-f-]{36}$/);
    const none = await rules(['traces', 'nope', ...dd()]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no rule nope/);
  });
});
