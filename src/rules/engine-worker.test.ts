// The rules engine with its evaluation worker (worker: true): the same counters, outputs, traces and
// actions as on the main thread, Basic Ingest, rules that must stay on the main thread, rules
// replaced and removed while messages are in flight, and overflow back onto the main thread.
// Messages come from an in-process bus whose subscribers run synchronously, as the broker's do.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClientInfo, Message, MessageHandler, MessageProperties } from '../core/index.js';
import { createLogger } from '../lib/index.js';
import type { CompiledAction } from './actions.js';
import { RuleEngine, type RuleTrace, type RuntimeRule } from './engine.js';
import { NEEDS_ALL, NEEDS_CLIENT_ID, NEEDS_PRINCIPAL, NEEDS_PROPERTIES, NEEDS_SOURCE_IP } from './eval-ring.js';
import { contextNeeds, EvalOffload, evaluationWorkerWanted } from './eval-offload.js';
import { compileSql, compileTemplate, SqlDecimal, toJsonText, topicMatches, type CompileOptions, type CompiledSql } from './sql/index.js';

const logger = createLogger('silent');
const ACCOUNT = '123456789012';

/** Subscribers run synchronously on publish (as the broker's in-process subscriptions do). */
class Bus {
  private readonly subs = new Set<{ filter: string; handler: MessageHandler }>();
  subscribe(filter: string, handler: MessageHandler): () => void {
    const s = { filter, handler };
    this.subs.add(s);
    return () => {
      this.subs.delete(s);
    };
  }
  publish(topic: string, payload: Buffer | string, client: ClientInfo | null = null, properties: MessageProperties | null = null): void {
    const m: Message = { topic, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), qos: 0, retain: false, properties, expiresAt: 0, origin: client?.clientId ?? null, headers: null };
    for (const s of [...this.subs]) if (topicMatches(s.filter, topic)) s.handler(m, client);
  }
  get subscriptions(): number {
    return this.subs.size;
  }
}

function client(clientId: string, principal: string | null = null, remoteAddress = '127.0.0.1'): ClientInfo {
  return { clientId, username: null, remoteAddress, transport: 'tcp', protocolVersion: 5, principal, thingName: null, authContext: null, sessionIdentifier: 's-1' };
}

interface Got {
  output: unknown;
  fields: Record<string, string>;
  traceId: string;
  topic: string;
}

/** An action that records what it is given (and its templates, evaluated as a republish would). */
function recorder(templates: Record<string, string> = {}, opts: CompileOptions & { fail?: string } = {}): CompiledAction & { got: Got[] } {
  const compiled = Object.entries(templates).map(([k, t]) => [k, compileTemplate(t, opts)] as const);
  const got: Got[] = [];
  return {
    kind: 'record',
    failedAction: 'RecordAction',
    failedResource: 'memory',
    got,
    run: async ({ output, doc, ctx }) => {
      got.push({ output, fields: Object.fromEntries(compiled.map(([k, f]) => [k, f(doc, ctx)])), traceId: ctx.traceId, topic: ctx.topic });
      if (opts.fail !== undefined) throw new Error(opts.fail);
    },
  };
}

/** An engine on its own bus; counts the evaluations done on the main thread per rule. */
class Harness {
  readonly bus = new Bus();
  readonly engine: RuleEngine;
  /** Evaluations of each rule's statement on this (the main) thread: the worker compiles its own. */
  readonly mainEvals: Record<string, number> = {};

  constructor(worker: boolean, maxQueue = 100_000) {
    this.engine = new RuleEngine({ messaging: this.bus, accountId: ACCOUNT, logger, maxQueue, worker });
    this.engine.start();
  }

  rule(name: string, sql: string, opts: { sqlVersion?: string; actions?: CompiledAction[]; errorAction?: CompiledAction; lookups?: CompileOptions['lookups'] } = {}): RuntimeRule {
    const c = compileSql(sql, { ...(opts.sqlVersion ? { sqlVersion: opts.sqlVersion } : {}), ...(opts.lookups ? { lookups: opts.lookups } : {}) });
    const evaluateParsed: CompiledSql['evaluateParsed'] = (ctx, doc) => {
      this.mainEvals[name] = (this.mainEvals[name] ?? 0) + 1;
      return c.evaluateParsed(ctx, doc);
    };
    return { name, sql: { ...c, evaluateParsed }, actions: opts.actions ?? [], errorAction: opts.errorAction ?? null };
  }

  put(name: string, sql: string, opts: Parameters<Harness['rule']>[2] = {}): RuntimeRule {
    const r = this.rule(name, sql, opts);
    this.engine.put(r);
    return r;
  }

  /** name -> [evaluated, matched, sqlErrors] */
  counts(): Record<string, [number, number, number]> {
    return Object.fromEntries(this.engine.metrics().rules.map((r) => [r.ruleName, [r.evaluated, r.matched, r.sqlErrors]]));
  }

  async close(): Promise<void> {
    this.engine.stop();
    await this.engine.close();
  }
}

/** Runs `fn` with a fresh harness and always stops its engine and worker. */
async function withHarness(worker: boolean, fn: (h: Harness) => Promise<void>, maxQueue?: number): Promise<void> {
  const h = new Harness(worker, maxQueue);
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A trace without what differs from run to run (trace id, time). */
const stable = (traces: RuleTrace[]): unknown[] => traces.map((t) => ({ topic: t.topic, matched: t.matched, output: t.output, error: t.error, actions: t.actions }));

test('evaluationWorkerWanted and contextNeeds', () => {
  assert.equal(evaluationWorkerWanted('on'), true);
  assert.equal(evaluationWorkerWanted('off'), false);
  assert.equal(typeof evaluationWorkerWanted('auto'), 'boolean');
  const needs = (sql: string, actions = false): number => contextNeeds(compileSql(sql), actions);
  assert.equal(needs("SELECT temp FROM 'a/b'"), 0);
  assert.equal(needs("SELECT temp FROM 'a/b'", true), NEEDS_ALL);
  assert.equal(needs("SELECT clientid() AS c FROM 'a/b'"), NEEDS_CLIENT_ID);
  assert.equal(needs("SELECT principal() AS p, sourceip() AS s FROM 'a/b'"), NEEDS_PRINCIPAL | NEEDS_SOURCE_IP);
  assert.equal(needs("SELECT get_user_properties('k') AS k FROM 'a/b'"), NEEDS_PROPERTIES);
  assert.equal(needs("SELECT get_mqtt_property('content_type') AS k FROM 'a/b'"), NEEDS_PROPERTIES);
});

test('canEvaluate: statements with lookups or aws_lambda() stay on the main thread', () => {
  assert.equal(EvalOffload.canEvaluate(compileSql("SELECT temp, topic(2) AS d FROM 'a/+'")), true);
  assert.equal(EvalOffload.canEvaluate(compileSql("SELECT newuuid() AS id, rand() AS r FROM 'a/+'")), true);
  const dynamo = compileSql("SELECT get_dynamodb('t', 'id', id, 'arn:aws:iam::1:role/r').v AS v FROM 'a/b'", { lookups: { getDynamoDb: () => ({ v: 1 }) } });
  assert.equal(EvalOffload.canEvaluate(dynamo), false);
  const shadow = compileSql("SELECT get_thing_shadow('t1', 'arn:aws:iam::1:role/r') AS s FROM 'a/b'", { lookups: { getThingShadow: () => ({}) } });
  assert.equal(EvalOffload.canEvaluate(shadow), false);
  const lambda = compileSql("SELECT aws_lambda('arn:aws:lambda:us-east-1:1:function:f', *) AS r FROM 'a/b'", { lookups: { functions: { has: () => true, invoke: async () => ({}) } } });
  assert.equal(lambda.async, true);
  assert.equal(EvalOffload.canEvaluate(lambda), false);
});

/** Rules and messages for the worker/main comparison. */
function comparisonRules(h: Harness): Record<string, ReturnType<typeof recorder>> {
  const all = recorder();
  const bin = recorder();
  const dec = recorder({ m: '${n * 1.0}' }, { sqlVersion: '2015-10-08' });
  h.put('hot1', "SELECT temp, topic(2) AS device FROM 'sensors/+/data' WHERE temp > 30");
  h.put('hot2', "SELECT temp, topic(2) AS device FROM 'sensors/+/data' WHERE temp > 30");
  h.put('never', "SELECT * FROM 'sensors/+/data' WHERE false");
  h.put('ctx', "SELECT temp * 2 AS t2, clientid() AS c, principal() AS p, sourceip() AS ip, topic() AS t, accountid() AS a FROM 'sensors/+/data'");
  h.put('all', "SELECT * FROM 'sensors/+/data'", { actions: [all] });
  h.put('bin', "SELECT * FROM 'bin/in'", { actions: [bin] });
  h.put('b64', "SELECT encode(*, 'base64') AS b64 FROM 'bin/in'");
  h.put('dec', "SELECT n, n * 1.0 AS m, 7.0 AS lit FROM 'dec/t'", { sqlVersion: '2015-10-08', actions: [dec] });
  return { all, bin, dec };
}

async function publishComparison(h: Harness): Promise<void> {
  const c1 = client('c1');
  const c2 = client('c2', 'cert-2', '10.1.1.2');
  h.bus.publish('sensors/d1/data', '{"temp": 20}', c1);
  h.bus.publish('sensors/d2/data', '{"temp": 35}', c2);
  h.bus.publish('sensors/d3/data', '{"temp": 31.5}', c1);
  await turn();
  h.bus.publish('sensors/d1/data', 'not json', c1);
  h.bus.publish('sensors/d4/data', Buffer.from([0xff, 0x00, 0x10]), c2);
  h.bus.publish('sensors/d5/data', '', null);
  await turn();
  h.bus.publish('sensors/d6/data', '{"temp": 99, "extra": [1, 2, {"x": null}]}', null);
  h.bus.publish('bin/in', Buffer.from([0xde, 0xad, 0xbe, 0xef]), c1);
  h.bus.publish('dec/t', '{"n": 7.0}', c1);
  h.bus.publish('dec/t', '{"n": 3}', c1);
}

test('worker and main thread: the same counters, traces and action outputs; nothing evaluated on the main thread with the worker', async () => {
  const results: { counts: unknown; traces: Record<string, unknown[]>; outputs: Record<string, unknown[]>; fields: unknown[]; mainEvals: Record<string, number>; refused: number; dropped: number; depth: number }[] = [];
  for (const worker of [true, false]) {
    await withHarness(worker, async (h) => {
      const actions = comparisonRules(h);
      await publishComparison(h);
      await h.engine.idle();
      const traces: Record<string, unknown[]> = {};
      for (const name of ['hot1', 'hot2', 'never', 'ctx', 'all', 'bin', 'b64', 'dec']) traces[name] = stable(await h.engine.traces(name));
      const m = h.engine.metrics();
      results.push({
        counts: h.counts(),
        traces,
        outputs: Object.fromEntries(Object.entries(actions).map(([k, a]) => [k, a.got.map((g) => g.output)])),
        fields: actions.dec!.got.map((g) => g.fields),
        mainEvals: { ...h.mainEvals },
        refused: m.workerRefused,
        dropped: m.queueDropped,
        depth: m.queueDepth,
      });
    });
  }
  const [w, main] = results as [(typeof results)[0], (typeof results)[0]];
  // What the rules did, by hand: 7 messages on sensors/+/data, 3 of them over 30; SELECT * passes
  // everything (a payload that is not JSON as its bytes, an empty one as no bytes).
  assert.deepEqual(main.counts, { hot1: [7, 3, 0], hot2: [7, 3, 0], never: [7, 0, 0], ctx: [7, 7, 0], all: [7, 7, 0], bin: [1, 1, 0], b64: [1, 1, 0], dec: [2, 2, 0] });
  assert.deepEqual(w.counts, main.counts);
  assert.deepEqual(w.traces, main.traces);
  assert.deepEqual(w.outputs, main.outputs);
  assert.deepEqual(w.fields, main.fields);
  assert.deepEqual(w.fields, [{ m: '7.0' }, { m: '3.0' }]);
  // The worker evaluated everything; the main thread everything without it (hot2 shares hot1's evaluation).
  assert.deepEqual(w.mainEvals, {});
  assert.deepEqual(main.mainEvals, { hot1: 7, never: 7, ctx: 7, all: 7, bin: 1, b64: 1, dec: 2 });
  assert.deepEqual([w.refused, w.dropped, w.depth], [0, 0, 0]);
  // Details that deepEqual alone would let through as equal on both sides.
  const binOut = w.outputs.bin![0];
  assert.ok(Buffer.isBuffer(binOut));
  assert.deepEqual(binOut, Buffer.from([0xde, 0xad, 0xbe, 0xef]));
  const decOut = w.outputs.dec![0] as Record<string, unknown>;
  assert.ok(decOut.n instanceof SqlDecimal);
  assert.equal(toJsonText(decOut), '{"n":7.0,"m":7.0,"lit":7.0}');
  assert.equal(toJsonText(w.outputs.dec![1]), '{"n":3,"m":3.0,"lit":7.0}');
  assert.deepEqual(w.traces.ctx![1], { topic: 'sensors/d2/data', matched: true, output: { t2: 70, c: 'c2', p: 'cert-2', ip: '10.1.1.2', t: 'sensors/d2/data', a: ACCOUNT }, error: undefined, actions: [] });
  assert.deepEqual(w.traces.bin![0], { topic: 'bin/in', matched: true, output: { base64: '3q2+7w==' }, error: undefined, actions: [{ action: 'record', ok: true }] });
  // A binary payload: SELECT * outputs its bytes.
  assert.deepEqual(w.outputs.all![3], Buffer.from('not json'));
  assert.deepEqual(w.outputs.all![4], Buffer.from([0xff, 0x00, 0x10]));
  assert.deepEqual(w.outputs.all![5], Buffer.alloc(0));
});

test('a worker-evaluated rule runs its actions here with the publisher\'s context; the trace id is the trace\'s', async () => {
  await withHarness(true, async (h) => {
    const act = recorder({
      c: '${clientid()}',
      dev: '${topic(2)}',
      tid: '${traceid()}',
      p: '${principal()}',
      ip: '${sourceip()}',
      temp: '${temp}',
      ct: "${get_mqtt_property('content_type')}",
      acct: '${accountid()}',
    });
    const failing = recorder({}, { fail: 'nope' });
    const onError = recorder();
    h.put('act', "SELECT temp, traceid() AS id FROM 'act/+/t' WHERE temp > 0", { actions: [act] });
    h.put('fails', "SELECT temp FROM 'act/+/t' WHERE temp > 10", { actions: [failing], errorAction: onError });
    const dev = client('dev-9', 'principal-9', '192.0.2.7');
    h.bus.publish('act/d9/t', '{"temp": 5}', dev, { contentType: 'application/json' });
    h.bus.publish('act/d10/t', '{"temp": -1}', dev, null);
    h.bus.publish('act/d11/t', '{"temp": 12}', client('dev-11'), null);
    await h.engine.idle();
    assert.deepEqual(h.mainEvals, {}, 'evaluated by the worker');
    assert.equal(act.got.length, 2);
    const [first, second] = act.got as [Got, Got];
    assert.deepEqual(first.fields, { c: 'dev-9', dev: 'd9', tid: first.traceId, p: 'principal-9', ip: '192.0.2.7', temp: '5', ct: 'application/json', acct: ACCOUNT });
    assert.match(first.traceId, /^[0-9a-f-]{36}$/);
    assert.deepEqual(first.output, { temp: 5, id: first.traceId });
    assert.equal(first.topic, 'act/d9/t');
    assert.equal(second.fields.c, 'dev-11');
    assert.equal(second.fields.dev, 'd11');
    assert.notEqual(second.traceId, first.traceId);
    // The traces: the worker's, with the action results run here, matched by trace id.
    const traces = await h.engine.traces('act');
    assert.deepEqual(
      traces.map((t) => [t.topic, t.matched, t.output ?? null, t.actions]),
      [
        ['act/d9/t', true, { temp: 5, id: first.traceId }, [{ action: 'record', ok: true }]],
        ['act/d10/t', false, null, []],
        ['act/d11/t', true, { temp: 12, id: second.traceId }, [{ action: 'record', ok: true }]],
      ],
    );
    assert.equal(traces[0]!.traceId, first.traceId);
    assert.equal(traces[2]!.traceId, second.traceId);
    // The same message has the same trace id in every rule it reached.
    const failTraces = await h.engine.traces('fails');
    assert.equal(failTraces[2]!.traceId, second.traceId);
    assert.deepEqual(failTraces[2]!.actions, [{ action: 'record', ok: false, error: 'nope' }]);
    // The failed action triggered the error action with AWS's payload, from the worker's context.
    assert.equal(onError.got.length, 1);
    const e = onError.got[0]!.output as Record<string, unknown>;
    assert.deepEqual(
      { ...e, failures: undefined },
      { ruleName: 'fails', topic: 'act/d11/t', cloudwatchTraceId: second.traceId, clientId: 'dev-11', base64OriginalPayload: Buffer.from('{"temp": 12}').toString('base64'), failures: undefined },
    );
    assert.equal((e.failures as { failedAction: string }[])[0]!.failedAction, 'RecordAction');
    assert.deepEqual(h.engine.metrics().actions, [
      { ruleName: 'act', action: 'record', succeeded: 2, failed: 0 },
      { ruleName: 'fails', action: 'record', succeeded: 0, failed: 1 },
    ]);
  });
});

test('an action\'s republish that feeds another worker rule: idle() waits for both', async () => {
  await withHarness(true, async (h) => {
    const relay: CompiledAction = {
      kind: 'republish',
      failedAction: 'RepublishAction',
      failedResource: 'b/t',
      run: async ({ output }) => h.bus.publish('b/t', JSON.stringify(output), null),
    };
    const end = recorder();
    h.put('a', "SELECT n, n + 1 AS m FROM 'a/t'", { actions: [relay] });
    h.put('b', "SELECT m * 10 AS k FROM 'b/t'", { actions: [end] });
    for (let n = 0; n < 20; n++) h.bus.publish('a/t', JSON.stringify({ n }));
    await h.engine.idle();
    assert.deepEqual(
      end.got.map((g) => (g.output as { k: number }).k),
      Array.from({ length: 20 }, (_, n) => (n + 1) * 10),
    );
    assert.deepEqual(h.counts(), { a: [20, 20, 0], b: [20, 20, 0] });
    assert.equal(h.engine.metrics().queueDepth, 0);
    assert.deepEqual(h.mainEvals, {});
  });
});

test('idle() waits for the results of messages an action submitted to the worker while idle() was waiting', async () => {
  await withHarness(true, async (h) => {
    const end = recorder();
    // Republishes, then holds this thread until the worker has evaluated what it republished: the
    // worker posts that result while this thread cannot take it yet (a slow action, made certain).
    const relay: CompiledAction = {
      kind: 'republish',
      failedAction: 'RepublishAction',
      failedResource: 'b/t',
      run: async ({ output }) => {
        h.bus.publish('b/t', JSON.stringify(output), null);
        await Promise.resolve();
        const deadline = Date.now() + 5000;
        while (h.engine.metrics().queueDepth !== 0 && Date.now() < deadline) {
          // spin: the worker evaluates meanwhile
        }
      },
    };
    h.put('a', "SELECT n FROM 'a/t'", { actions: [relay] });
    h.put('b', "SELECT n FROM 'b/t'", { actions: [end] });
    await h.engine.idle();
    h.bus.publish('a/t', '{"n": 1}');
    await h.engine.idle();
    assert.deepEqual(h.counts().b, [1, 1, 0], 'the worker evaluated the republished message');
    assert.equal(end.got.length, 1, "idle() resolved before b's action ran");
  });
});

test('Basic Ingest: $aws/rules/<name>/... goes to the worker and to that rule only', async () => {
  await withHarness(true, async (h) => {
    const got = recorder({ dev: '${topic(2)}' });
    h.put('bi1', "SELECT temp, topic(2) AS device FROM 'sensors/+/data'", { actions: [got] });
    h.put('bi2', "SELECT temp, topic(2) AS device FROM 'sensors/+/data'");
    h.bus.publish('$aws/rules/bi1/sensors/d9/data', '{"temp": 50}', client('ing-1'));
    h.bus.publish('$aws/rules/bi1', '{"temp": 51}', client('ing-1'));
    h.bus.publish('$aws/rules/unknown/sensors/d9/data', '{"temp": 52}', client('ing-1'));
    await h.engine.idle();
    assert.deepEqual(h.counts(), { bi1: [2, 2, 0], bi2: [0, 0, 0] });
    assert.deepEqual(h.mainEvals, {});
    assert.deepEqual(
      (await h.engine.traces('bi1')).map((t) => [t.topic, t.output]),
      [
        ['sensors/d9/data', { temp: 50, device: 'd9' }],
        ['', { temp: 51 }],
      ],
    );
    assert.deepEqual(got.got.map((g) => [g.topic, g.fields.dev]), [['sensors/d9/data', 'd9'], ['', '']]);
    // The filter itself still reaches both rules.
    h.bus.publish('sensors/d1/data', '{"temp": 1}');
    await h.engine.idle();
    assert.deepEqual(h.counts(), { bi1: [3, 3, 0], bi2: [1, 1, 0] });
  });
});

test('a rule with a lookup is evaluated on the main thread, with the other rules of its filter; once it is gone they move to the worker', async () => {
  await withHarness(true, async (h) => {
    const lookups = { getDynamoDb: (_t: string, _k: string, v: unknown) => ({ v: `item-${String(v)}` }) };
    const look = h.put('look', "SELECT get_dynamodb('devices', 'id', id, 'arn:aws:iam::1:role/r').v AS v FROM 'mix/t'", { lookups });
    const plain = h.put('plain', "SELECT id FROM 'mix/t'");
    assert.equal(EvalOffload.canEvaluate(look.sql), false);
    assert.equal(EvalOffload.canEvaluate(plain.sql), true);
    for (let i = 0; i < 3; i++) h.bus.publish('mix/t', JSON.stringify({ id: i }));
    await h.engine.idle();
    assert.deepEqual(h.counts(), { look: [3, 3, 0], plain: [3, 3, 0] });
    assert.deepEqual((await h.engine.traces('look')).map((t) => t.output), [{ v: 'item-0' }, { v: 'item-1' }, { v: 'item-2' }]);
    assert.deepEqual(h.mainEvals, { look: 3, plain: 3 });
    // Basic Ingest for the worker-capable rule still goes to the worker.
    h.bus.publish('$aws/rules/plain/mix/t', '{"id": 9}');
    await h.engine.idle();
    assert.deepEqual(h.mainEvals, { look: 3, plain: 3 });
    assert.deepEqual(h.counts().plain, [4, 4, 0]);
    assert.equal(h.engine.metrics().workerRefused, 0);
    h.engine.remove('look');
    for (let i = 3; i < 5; i++) h.bus.publish('mix/t', JSON.stringify({ id: i }));
    await h.engine.idle();
    assert.deepEqual(h.mainEvals, { look: 3, plain: 3 }, 'plain is the worker\'s now');
    assert.deepEqual(h.counts(), { look: [3, 3, 0], plain: [6, 6, 0] });
    assert.deepEqual((await h.engine.traces('plain')).map((t) => t.output), [{ id: 0 }, { id: 1 }, { id: 2 }, { id: 9 }, { id: 3 }, { id: 4 }]);
  });
});

test('MQTT 5 properties reach get_user_properties() and get_mqtt_property() in the worker', async () => {
  const SQL =
    "SELECT get_user_properties('k') AS k, get_user_properties() AS all, get_mqtt_property('content_type') AS ct, get_mqtt_property('correlation_data') AS cd, get_mqtt_property('format_indicator') AS fi, get_mqtt_property('response_topic') AS rt FROM 'props/t'";
  const props: MessageProperties = { contentType: 'application/cbor', correlationData: Buffer.from([1, 2, 3]), payloadFormatIndicator: false, responseTopic: 'reply/1', userProperties: { k: ['a', 'b'], z: 'y' } };
  const outputs: unknown[][] = [];
  for (const worker of [true, false]) {
    await withHarness(worker, async (h) => {
      h.put('props', SQL);
      // A rule on the filter that reads no property (the worker then gets them for the other only).
      h.put('none', "SELECT 1 AS one FROM 'props/t'");
      h.bus.publish('props/t', '{}', client('p1'), props);
      h.bus.publish('props/t', '{}', client('p1'), null);
      h.bus.publish('props/t', '{}', client('p1'), { payloadFormatIndicator: true, userProperties: { k: 'only' } });
      await h.engine.idle();
      outputs.push((await h.engine.traces('props')).map((t) => t.output));
      if (worker) assert.deepEqual(h.mainEvals, {});
    });
  }
  assert.deepEqual(outputs[0], [
    { k: ['a', 'b'], all: [{ k: 'a' }, { k: 'b' }, { z: 'y' }], ct: 'application/cbor', cd: 'AQID', fi: 'UNSPECIFIED_BYTES', rt: 'reply/1' },
    {},
    { k: ['only'], all: [{ k: 'only' }], fi: 'UTF8_DATA' },
  ]);
  assert.deepEqual(outputs[0], outputs[1]);
});

test('replacing and removing a rule while messages are in flight: counts never go back, every message is counted once', async () => {
  await withHarness(true, async (h) => {
    const act = recorder();
    const statements = ["SELECT n FROM 'flow/t'", "SELECT n FROM 'flow/t' WHERE n % 2 = 0"];
    h.put('steady', "SELECT n FROM 'flow/t' WHERE n % 3 = 0");
    let active: string | null = statements[0]!;
    h.put('r', active, { actions: [act] });
    let expectEvaluated = 0;
    let expectMatched = 0;
    let last: Record<string, [number, number, number]> = h.counts();
    const check = (): void => {
      const now = h.counts();
      for (const name of ['steady', 'r']) {
        const [e0, m0] = last[name] ?? [0, 0];
        const [e1, m1] = now[name]!;
        assert.ok(e1 >= e0 && m1 >= m0, `${name}: ${e0}/${m0} -> ${e1}/${m1}`);
      }
      last = now;
    };
    let n = 0;
    for (let batch = 0; batch < 40; batch++) {
      if (batch === 24) {
        h.engine.remove('r');
        active = null;
      } else if (batch === 30) {
        active = statements[0]!;
        h.put('r', active, { actions: [act] });
      } else if (batch % 3 === 2 && active !== null) {
        // Replaced, by the other statement.
        active = active === statements[0] ? statements[1]! : statements[0]!;
        h.put('r', active, { actions: [act] });
      }
      check();
      for (let k = 0; k < 10; k++, n++) {
        h.bus.publish('flow/t', JSON.stringify({ n }));
        if (active !== null) {
          expectEvaluated++;
          if (active === statements[0] || n % 2 === 0) expectMatched++;
        }
      }
      check();
      await turn();
      check();
    }
    await h.engine.idle();
    check();
    assert.deepEqual(h.counts(), { steady: [400, 134, 0], r: [expectEvaluated, expectMatched, 0] });
    assert.equal(act.got.length, expectMatched, 'every match ran its action, old slots\' too');
    assert.deepEqual(h.mainEvals, {});
    assert.equal(h.engine.metrics().queueDepth, 0);
    // forget: the rule's series is gone, and stays gone once its slot is retired.
    h.bus.publish('flow/t', '{"n": 1000}');
    h.engine.forget('r');
    assert.equal(h.counts().r, undefined);
    await h.engine.idle();
    assert.equal(h.counts().r, undefined);
    // Forgotten with messages in flight and put again: it starts from zero.
    for (let k = 0; k < 10; k++) h.bus.publish('flow/t', JSON.stringify({ n: k }));
    h.put('r2', statements[0]!);
    for (let k = 0; k < 10; k++) h.bus.publish('flow/t', JSON.stringify({ n: k }));
    h.engine.forget('r2');
    h.put('r2', statements[0]!);
    for (let k = 0; k < 5; k++) h.bus.publish('flow/t', JSON.stringify({ n: k }));
    await h.engine.idle();
    assert.deepEqual(h.counts().r2, [5, 5, 0]);
    assert.deepEqual(h.counts().steady, [426, 144, 0]);
  });
});

test('overflow: what the worker cannot take is evaluated here; drops only beyond the main thread\'s own bound', async () => {
  await withHarness(
    true,
    async (h) => {
      h.put('o', "SELECT n FROM 'burst/t' WHERE n >= 0");
      // Let the worker take the rule first (nothing pending yet).
      await h.engine.idle();
      // 12 messages in one callback: the worker takes 5 (maxQueue), the main thread queues 5, 2 are dropped.
      for (let n = 0; n < 12; n++) h.bus.publish('burst/t', JSON.stringify({ n }));
      let m = h.engine.metrics();
      assert.equal(m.workerRefused, 7);
      assert.equal(m.queueDropped, 2);
      assert.equal(m.queueDepth, 10);
      await h.engine.idle();
      m = h.engine.metrics();
      assert.equal(m.queueDepth, 0);
      assert.deepEqual(h.counts().o, [10, 10, 0]);
      assert.equal(h.mainEvals.o, 5, 'five on the main thread');
      assert.deepEqual((await h.engine.traces('o')).map((t) => (t.output as { n: number }).n).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      // Ten in one callback: nothing lost.
      for (let n = 0; n < 10; n++) h.bus.publish('burst/t', JSON.stringify({ n }));
      assert.equal(h.engine.metrics().queueDepth, 10);
      await h.engine.idle();
      m = h.engine.metrics();
      assert.deepEqual([m.workerRefused, m.queueDropped, m.queueDepth], [12, 2, 0]);
      assert.deepEqual(h.counts().o, [20, 20, 0]);
      assert.equal(h.mainEvals.o, 10);
      // Once it has caught up the worker takes messages again.
      for (let n = 0; n < 5; n++) {
        h.bus.publish('burst/t', JSON.stringify({ n }));
        await h.engine.idle();
      }
      m = h.engine.metrics();
      assert.deepEqual([m.workerRefused, m.queueDropped, m.queueDepth], [12, 2, 0]);
      assert.deepEqual(h.counts().o, [25, 25, 0]);
      assert.equal(h.mainEvals.o, 10);
    },
    5,
  );
});

test('overflow with two rules on a filter: refusals count messages, drops count evaluations', async () => {
  await withHarness(
    true,
    async (h) => {
      h.put('x', "SELECT n FROM 'two/t'");
      h.put('y', "SELECT n FROM 'two/t' WHERE n > 0");
      await h.engine.idle();
      // 2 evaluations a message, a bound of 5: 2 messages to the worker, 2 here, 1 dropped (2 evaluations).
      for (let n = 0; n < 5; n++) h.bus.publish('two/t', JSON.stringify({ n }));
      assert.equal(h.engine.metrics().queueDepth, 8);
      await h.engine.idle();
      const m = h.engine.metrics();
      assert.deepEqual([m.workerRefused, m.queueDropped, m.queueDepth], [3, 2, 0]);
      assert.deepEqual(h.counts(), { x: [4, 4, 0], y: [4, 3, 0] });
      assert.deepEqual(h.mainEvals, { x: 2, y: 2 });
    },
    5,
  );
});

test('traces (with their action results) are kept across a replace and a remove, as on the main thread', async () => {
  const seen: unknown[][] = [];
  for (const worker of [false, true]) {
    await withHarness(worker, async (h) => {
      const act = recorder();
      h.put('keep', "SELECT n FROM 'keep/t'", { actions: [act] });
      for (let n = 0; n < 3; n++) h.bus.publish('keep/t', JSON.stringify({ n }));
      await h.engine.idle();
      h.put('keep', "SELECT n FROM 'keep/t' WHERE n > 1", { actions: [act] });
      h.bus.publish('keep/t', '{"n": 1}');
      h.bus.publish('keep/t', '{"n": 5}');
      await h.engine.idle();
      // Removed (as a disabled rule is) and put back (enabled).
      h.engine.remove('keep');
      await h.engine.idle();
      h.put('keep', "SELECT n FROM 'keep/t'");
      h.bus.publish('keep/t', '{"n": 6}');
      await h.engine.idle();
      seen.push((await h.engine.traces('keep')).map((t) => [t.output ?? null, t.actions.length]));
      if (worker) assert.deepEqual(h.mainEvals, {});
    });
  }
  assert.deepEqual(seen[0], [[{ n: 0 }, 1], [{ n: 1 }, 1], [{ n: 2 }, 1], [null, 0], [{ n: 5 }, 1], [{ n: 6 }, 0]]);
  assert.deepEqual(seen[1], seen[0]);
});

test('binary outputs nested in objects and arrays keep their bytes in the worker\'s traces after the ring is reused', async () => {
  await withHarness(true, async (h) => {
    h.put('nest', "SELECT VALUE {'raw': *} FROM 'nest/t'");
    // The same statement: it takes the first one's evaluation.
    h.put('nest2', "SELECT VALUE {'raw': *} FROM 'nest/t'");
    h.put('arr', "SELECT [*, 1] AS arr FROM 'nest/t'");
    h.put('top', "SELECT VALUE * FROM 'nest/t'");
    h.put('fill', "SELECT topic() AS t FROM 'fill/t'");
    const bytes = Buffer.from(Array.from({ length: 16 }, (_, i) => i + 1));
    h.bus.publish('nest/t', bytes);
    await h.engine.idle();
    // More than the ring's 4 MiB through it, in batches it can hold.
    const big = Buffer.alloc(64 * 1024, 0xaa);
    for (let b = 0; b < 10; b++) {
      for (let k = 0; k < 8; k++) h.bus.publish('fill/t', big);
      await h.engine.idle();
    }
    assert.equal(h.engine.metrics().workerRefused, 0);
    assert.deepEqual(h.counts().fill, [80, 80, 0]);
    assert.deepEqual((await h.engine.traces('top'))[0]!.output, { base64: bytes.toString('base64') });
    for (const name of ['nest', 'nest2']) {
      const nested = (await h.engine.traces(name))[0]!.output as { raw: Buffer };
      assert.ok(Buffer.isBuffer(nested.raw), name);
      assert.deepEqual([...nested.raw], [...bytes], name);
    }
    const arr = (await h.engine.traces('arr'))[0]!.output as { arr: [Buffer, number] };
    assert.deepEqual([[...arr.arr[0]], arr.arr[1]], [[...bytes], 1]);
    assert.deepEqual(h.mainEvals, {});
  });
});

test('a JSON payload\'s own "__proto__" key reaches the actions as on the main thread', async () => {
  const outputs: string[] = [];
  for (const worker of [false, true]) {
    await withHarness(worker, async (h) => {
      const got = recorder();
      h.put('p', "SELECT * FROM 'proto/t'", { actions: [got] });
      h.bus.publish('proto/t', '{"__proto__": {"x": 1}, "a": 1}');
      await h.engine.idle();
      outputs.push(toJsonText(got.got[0]!.output));
    });
  }
  assert.equal(outputs[0], '{"__proto__":{"x":1},"a":1}');
  assert.equal(outputs[1], outputs[0]);
});

test('the worker thread runs at a lower scheduling priority (nice +10), the rest of the process does not', { skip: process.platform !== 'linux' ? 'thread priorities are read from /proc (Linux)' : false }, async () => {
  const { readdirSync, readFileSync } = await import('node:fs');
  // Field 19 of /proc/self/task/<tid>/stat is the thread's nice value.
  const nices = (): Map<string, number> =>
    new Map(
      readdirSync('/proc/self/task').flatMap((t) => {
        try {
          const fields = readFileSync(`/proc/self/task/${t}/stat`, 'utf8').split(') ')[1]!.split(' ');
          return [[t, Number(fields[16])] as [string, number]];
        } catch {
          return [];
        }
      }),
    );
  const before = nices();
  await withHarness(true, async (h) => {
    // The worker is up once it has answered a sync.
    await h.engine.idle();
    const lowered = [...nices()].filter(([tid, nice]) => !before.has(tid) && nice === 10);
    assert.equal(lowered.length, 1, 'one new thread at nice 10: the evaluation worker');
    assert.equal(nices().get(String(process.pid)), 0, 'the main thread keeps its priority');
  });
});

test('a deeply nested payload neither stops the worker nor loses the messages around it; its actions still run', async () => {
  await withHarness(true, async (h) => {
    const act = recorder();
    h.put('deep', "SELECT * FROM 'deep/t'", { actions: [act] });
    h.put('plain', "SELECT * FROM 'deep/t'");
    h.put('other', "SELECT n FROM 'deep/u'");
    // 6,000 levels cross no thread as such: the worker hands the message back to be evaluated
    // here; 60,000 levels are beyond what JSON.parse reads (a non-JSON payload: `*` is the bytes).
    const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n);
    h.bus.publish('deep/t', '{"n":1}');
    h.bus.publish('deep/t', deep(6_000));
    h.bus.publish('deep/t', '{"n":2}');
    h.bus.publish('deep/t', deep(60_000));
    for (let i = 0; i < 5; i++) h.bus.publish('deep/u', `{"n":${i}}`);
    await h.engine.idle();
    assert.equal(act.got.length, 4, 'every message reached the action');
    assert.deepEqual(act.got[0]!.output, { n: 1 });
    assert.deepEqual(act.got[2]!.output, { n: 2 });
    let depth = 0;
    for (let v = act.got[1]!.output; Array.isArray(v); v = v[0]) depth++;
    assert.equal(depth, 6_000, 'the deep output, evaluated again on the main thread');
    const counts = h.counts();
    assert.deepEqual(counts['deep'], [4, 4, 0]);
    assert.deepEqual(counts['plain'], [4, 4, 0]);
    assert.deepEqual(counts['other'], [5, 5, 0], 'the worker went on');
    assert.equal(h.engine.metrics().workerRefused, 0);
    // Trace reads answer; an output too deep to show says so.
    const traces = await h.engine.traces('plain');
    assert.equal(traces.length, 4);
    assert.match(String(traces[1]!.output), /not shown/);
    assert.deepEqual(traces[2]!.output, { n: 2 });
  });
});

test('a rule whose statement is too long for the ring runs on the main thread; the worker and idle() are not held up', async () => {
  await withHarness(true, async (h) => {
    // Over a quarter of the 4 MiB ring as JSON: its definition could never be sure of room.
    const long = `SELECT n FROM 'long/t' WHERE s <> '${'x'.repeat(1_100_000)}'`;
    h.put('long', long);
    h.put('short', "SELECT n FROM 'short/t'");
    h.bus.publish('long/t', '{"n":1,"s":"y"}');
    h.bus.publish('short/t', '{"n":2}');
    await h.engine.idle();
    assert.deepEqual(h.mainEvals, { long: 1 }, 'the long statement on the main thread, the short one in the worker');
    assert.deepEqual(h.counts(), { long: [1, 1, 0], short: [1, 1, 0] });
    assert.equal(h.engine.metrics().workerRefused, 0);
  });
});

test('timestamp() and the trace time in the worker are the arrival time from the engine\'s clock', async () => {
  const bus = new Bus();
  let clock = 1_700_000_000_000;
  const engine = new RuleEngine({ messaging: bus, accountId: ACCOUNT, logger, maxQueue: 1000, worker: true, now: () => clock });
  engine.start();
  try {
    const act = recorder();
    engine.put({ name: 'ts', sql: compileSql("SELECT timestamp() AS t FROM 'ts/t'"), actions: [act], errorAction: null });
    // Messages of one callback (one socket read) share one clock read, as on the main thread.
    bus.publish('ts/t', '{}');
    clock += 1;
    bus.publish('ts/t', '{}');
    await turn();
    clock += 5_000;
    bus.publish('ts/t', '{}');
    await engine.idle();
    assert.deepEqual(
      act.got.map((g) => g.output),
      [{ t: 1_700_000_000_000 }, { t: 1_700_000_000_000 }, { t: 1_700_000_005_001 }],
    );
    assert.deepEqual(
      (await engine.traces('ts')).map((t) => t.at),
      [1_700_000_000_000, 1_700_000_000_000, 1_700_000_005_001],
    );
  } finally {
    engine.stop();
    await engine.close();
  }
});

test('a worker that dies: what it had queued is counted as dropped, later messages are evaluated on the main thread', async () => {
  await withHarness(true, async (h) => {
    h.put('w', "SELECT n FROM 'w/t'");
    await h.engine.idle();
    const worker = (h.engine as unknown as { offload: { worker: { terminate(): Promise<number> } } }).offload.worker;
    for (let i = 0; i < 2000; i++) h.bus.publish('w/t', `{"n":${i}}`);
    // The worker's 'exit' is handled before terminate() resolves.
    await worker.terminate();
    for (let i = 0; i < 10; i++) h.bus.publish('w/t', `{"n":${i}}`);
    await h.engine.idle();
    const m = h.engine.metrics();
    const evaluated = m.rules[0]!.evaluated;
    assert.equal(evaluated + m.queueDropped, 2010, 'every message evaluated or counted as dropped');
    assert.ok(evaluated >= 10);
    assert.equal(m.workerRefused, 10, 'after it died, the main thread takes every message');
    assert.equal(m.queueDepth, 0);
    assert.deepEqual(await h.engine.traces('w').then((t) => t.length > 0), true);
  });
});
