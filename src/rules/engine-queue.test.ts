// The rules engine's queue on a real (listener-less) broker: what one message costs the rules it
// reaches, and what happens when the queue is full.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Broker } from '../broker/index.js';
import { mqttConfigSchema } from '../core/index.js';
import { createLogger } from '../lib/index.js';
import { RuleEngine, type RuntimeRule } from './engine.js';
import { compileSql } from './sql/index.js';

const SQL = "SELECT temp, topic(2) AS device FROM 'sensors/+/data' WHERE temp > 30";
let broker: Broker;
const logger = createLogger('silent');

before(() => {
  broker = new Broker({ config: mqttConfigSchema.parse({}), logger, hooks: {} });
});
after(async () => {
  await broker.close();
});

/** A rule with the given SQL whose payload parser is `parse` (shared by rules given the same one). */
function rule(name: string, parse: (payload: Buffer) => unknown, sql = SQL): RuntimeRule {
  return { name, sql: { ...compileSql(sql), parsePayload: parse }, actions: [], errorAction: null };
}

test('a message reaching several rules is parsed once, and each rule evaluates it', async () => {
  const engine = new RuleEngine({ messaging: broker, accountId: '000000000000', logger, maxQueue: 1000 });
  let parses = 0;
  const base = compileSql(SQL).parsePayload;
  const parse = (p: Buffer): unknown => {
    parses++;
    return base(p);
  };
  for (const n of ['r1', 'r2', 'r3']) engine.put(rule(n, parse));
  // A rule with its own parser (and its own statement, so that it shares no evaluation) parses for itself.
  let ownParses = 0;
  engine.put(rule('own', (p) => (ownParses++, base(p)), SQL.replace('AS device', 'AS dev')));
  for (let i = 0; i < 10; i++) await broker.publish({ topic: `sensors/d${i}/data`, payload: JSON.stringify({ temp: 25 + i }) });
  await engine.idle();
  assert.equal(parses, 10);
  assert.equal(ownParses, 10);
  const m = engine.metrics();
  assert.deepEqual(
    m.rules.map((r) => [r.ruleName, r.evaluated, r.matched]),
    [['r1', 10, 4], ['r2', 10, 4], ['r3', 10, 4], ['own', 10, 4]],
  );
  assert.deepEqual((await engine.traces('r2')).at(-1)?.output, { temp: 34, device: 'd9' });
  engine.stop();
});

/** `rule()` whose statement counts its evaluations in `counts[name]` (and throws when `fail` says so). */
function counted(name: string, sql: string, counts: Record<string, number>, fail: (doc: unknown) => boolean = () => false): RuntimeRule {
  const c = compileSql(sql);
  const evaluateParsed: typeof c.evaluateParsed = (ctx, doc) => {
    counts[name] = (counts[name] ?? 0) + 1;
    if (fail(doc)) throw new Error('boom');
    return c.evaluateParsed(ctx, doc);
  };
  return { name, sql: { ...c, evaluateParsed }, actions: [], errorAction: null };
}

test('rules with the same statement share one evaluation per message; newuuid() statements do not', async () => {
  const engine = new RuleEngine({ messaging: broker, accountId: '000000000000', logger, maxQueue: 1000 });
  const counts: Record<string, number> = {};
  for (const n of ['s1', 's2', 's3']) engine.put(counted(n, "SELECT n FROM 'share/t' WHERE n > 0", counts));
  for (const n of ['u1', 'u2']) engine.put(counted(n, "SELECT newuuid() AS id FROM 'share/t'", counts));
  for (let n = 0; n < 4; n++) await broker.publish({ topic: 'share/t', payload: JSON.stringify({ n }) });
  await engine.idle();
  // The first of the identical rules evaluates; the others take its output (and count it).
  assert.deepEqual(counts, { s1: 4, u1: 4, u2: 4 });
  const m = new Map(engine.metrics().rules.map((r) => [r.ruleName, [r.evaluated, r.matched]]));
  for (const n of ['s1', 's2', 's3']) assert.deepEqual(m.get(n), [4, 3], n);
  assert.deepEqual((await engine.traces('s3')).map((t) => t.output), [undefined, { n: 1 }, { n: 2 }, { n: 3 }]);
  // newuuid() differs per evaluation, so each such rule evaluates for itself.
  const a = (await engine.traces('u1')).map((t) => (t.output as { id: string }).id);
  const b = (await engine.traces('u2')).map((t) => (t.output as { id: string }).id);
  assert.ok(a.every((id, i) => id !== b[i]));
  engine.stop();
});

test('a shared evaluation error counts for every rule of the statement; a leader replaced or removed hands over', async () => {
  const engine = new RuleEngine({ messaging: broker, accountId: '000000000000', logger, maxQueue: 1000 });
  const counts: Record<string, number> = {};
  const SQLX = "SELECT n FROM 'hand/t'";
  const failOn3 = (doc: unknown): boolean => (doc as { n: number }).n === 3;
  engine.put(counted('a', SQLX, counts, failOn3));
  engine.put(counted('b', SQLX, counts, failOn3));
  await broker.publish({ topic: 'hand/t', payload: '{"n": 3}' });
  await engine.idle();
  assert.deepEqual(counts, { a: 1 });
  assert.deepEqual(engine.metrics().rules.map((r) => [r.ruleName, r.evaluated, r.sqlErrors]), [['a', 1, 1], ['b', 1, 1]]);
  assert.equal((await engine.traces('b'))[0]?.error, 'boom');
  // a changes its statement: b evaluates on its own from then on.
  engine.put(counted('a', `${SQLX} WHERE n > 5`, counts));
  await broker.publish({ topic: 'hand/t', payload: '{"n": 4}' });
  await engine.idle();
  assert.deepEqual(counts, { a: 2, b: 1 });
  // c joins with b's statement and follows b; b removed: c evaluates.
  engine.put(counted('c', SQLX, counts));
  await broker.publish({ topic: 'hand/t', payload: '{"n": 5}' });
  engine.remove('b');
  await broker.publish({ topic: 'hand/t', payload: '{"n": 6}' });
  await engine.idle();
  assert.deepEqual(counts, { a: 4, b: 2, c: 1 });
  assert.deepEqual((await engine.traces('c')).map((t) => t.output), [{ n: 5 }, { n: 6 }]);
  engine.stop();
});

test('traceid() is the message\'s: every rule the message reaches sees the same id', async () => {
  const engine = new RuleEngine({ messaging: broker, accountId: '000000000000', logger, maxQueue: 1000 });
  const parse = compileSql(SQL).parsePayload;
  engine.put(rule('t1', parse, "SELECT traceid() AS id FROM 'tr/t'"));
  engine.put(rule('t2', parse, "SELECT traceid() AS id, n FROM 'tr/t'"));
  for (let n = 0; n < 3; n++) await broker.publish({ topic: 'tr/t', payload: JSON.stringify({ n }) });
  await engine.idle();
  const one = (await engine.traces('t1')).map((t) => (t.output as { id: string }).id);
  const two = (await engine.traces('t2')).map((t) => (t.output as { id: string }).id);
  assert.deepEqual(one, two);
  assert.equal(new Set(one).size, 3);
  assert.deepEqual((await engine.traces('t2')).map((t) => t.traceId), one);
  engine.stop();
});

test('an evaluation that settles after its trace slot was reused does not overwrite the newer trace', async () => {
  const engine = new RuleEngine({ messaging: broker, accountId: '000000000000', logger, maxQueue: 1000 });
  const c = compileSql("SELECT n FROM 'late/t'");
  const release: (() => void)[] = [];
  // An asynchronous statement (as with aws_lambda()) whose evaluations settle when released.
  const evaluateAsync: typeof c.evaluateAsync = (ctx, doc) => new Promise((resolve) => release.push(() => resolve(c.evaluateParsed(ctx, doc))));
  engine.put({ name: 'late', sql: { ...c, async: true, evaluateAsync }, actions: [], errorAction: null });
  for (let n = 0; n < 25; n++) await broker.publish({ topic: 'late/t', payload: JSON.stringify({ n }) });
  // Messages 0-4 settle after messages 20-24 took their slots in the 20-trace ring.
  for (const r of release.splice(5)) r();
  await new Promise((r) => setImmediate(r));
  for (const r of release.splice(0)) r();
  await engine.idle();
  assert.deepEqual((await engine.traces('late')).map((t) => (t.output as { n: number }).n), Array.from({ length: 20 }, (_, i) => i + 5));
  assert.equal(engine.metrics().rules[0]?.matched, 25);
  engine.stop();
});

test('evaluations beyond maxQueue are dropped and counted; the queue drains to depth 0', async () => {
  const engine = new RuleEngine({ messaging: broker, accountId: '000000000000', logger, maxQueue: 25 });
  const parse = compileSql(SQL).parsePayload;
  engine.put(rule('a', parse));
  engine.put(rule('b', parse));
  // 20 messages in one turn, 2 rules each: 40 evaluations for a queue of 25. A message is taken
  // for all the rules it reaches or for none: 12 fit (24), 8 are dropped (16 evaluations).
  for (let i = 0; i < 20; i++) void broker.publish({ topic: 'sensors/x/data', payload: '{"temp": 40}' });
  assert.equal(engine.metrics().queueDepth, 24);
  await engine.idle();
  const m = engine.metrics();
  assert.equal(m.queueDropped, 16);
  assert.equal(m.queueDepth, 0);
  assert.equal(m.rules.reduce((n, r) => n + r.evaluated, 0), 24);
  // The queue takes entries again once drained.
  void broker.publish({ topic: 'sensors/x/data', payload: '{"temp": 40}' });
  await engine.idle();
  assert.equal(engine.metrics().rules.reduce((n, r) => n + r.evaluated, 0), 26);
  engine.stop();
});

test('a burst far beyond one batch is evaluated in full within the queue bound', async () => {
  const engine = new RuleEngine({ messaging: broker, accountId: '000000000000', logger, maxQueue: 100_000 });
  const parse = compileSql(SQL).parsePayload;
  for (let r = 0; r < 10; r++) engine.put(rule(`r${r}`, parse));
  for (let i = 0; i < 5000; i++) void broker.publish({ topic: `sensors/d${i % 7}/data`, payload: JSON.stringify({ temp: i % 2 === 0 ? 20 : 40 }) });
  assert.equal(engine.metrics().queueDepth, 50_000);
  await engine.idle();
  const m = engine.metrics();
  assert.equal(m.queueDropped, 0);
  for (const r of m.rules) {
    assert.equal(r.evaluated, 5000, r.ruleName);
    assert.equal(r.matched, 2500, r.ruleName);
  }
  engine.stop();
});

test('traces keep the last 20 evaluations, oldest first, and the trace id is the one traceid() returned', async () => {
  const engine = new RuleEngine({ messaging: broker, accountId: '000000000000', logger, maxQueue: 1000 });
  const parse = compileSql(SQL).parsePayload;
  engine.put(rule('ids', parse, "SELECT traceid() AS id, n FROM 'ids/t'"));
  engine.put(rule('plain', parse, "SELECT n FROM 'ids/t' WHERE n > 100"));
  for (let n = 0; n < 25; n++) await broker.publish({ topic: 'ids/t', payload: JSON.stringify({ n }) });
  await engine.idle();
  const ids = (await engine.traces('ids'));
  assert.deepEqual(ids.map((t) => (t.output as { n: number }).n), Array.from({ length: 20 }, (_, i) => i + 5));
  for (const t of ids) assert.equal(t.traceId, (t.output as { id: string }).id);
  // Ids made for the traces alone are UUIDs too, distinct, and stable from one read to the next.
  const plain = (await engine.traces('plain'));
  assert.equal(plain.length, 20);
  assert.ok(plain.every((t) => !t.matched && /^[0-9a-f-]{36}$/.test(t.traceId)));
  assert.equal(new Set(plain.map((t) => t.traceId)).size, 20);
  assert.deepEqual((await engine.traces('plain')).map((t) => t.traceId), plain.map((t) => t.traceId));
  engine.stop();
});

test('replacing or removing a rule keeps the other rules on its FROM filter running', async () => {
  const engine = new RuleEngine({ messaging: broker, accountId: '000000000000', logger, maxQueue: 1000 });
  const parse = compileSql(SQL).parsePayload;
  engine.put(rule('a', parse, "SELECT n FROM 'g/t'"));
  engine.put(rule('b', parse, "SELECT n FROM 'g/t'"));
  await broker.publish({ topic: 'g/t', payload: '{"n": 1}' });
  engine.put(rule('a', parse, "SELECT n FROM 'g/t' WHERE n > 1"));
  await broker.publish({ topic: 'g/t', payload: '{"n": 1}' });
  engine.remove('b');
  await broker.publish({ topic: 'g/t', payload: '{"n": 2}' });
  engine.remove('a');
  await broker.publish({ topic: 'g/t', payload: '{"n": 3}' });
  await engine.idle();
  const m = new Map(engine.metrics().rules.map((r) => [r.ruleName, [r.evaluated, r.matched]]));
  assert.deepEqual(m.get('a'), [3, 2]);
  assert.deepEqual(m.get('b'), [2, 2]);
  engine.stop();
});
