/**
 * Scenario r-eval: the rules engine's evaluation speed, in one process on one JavaScript thread
 * (so one core, by construction; the process CPU is reported to show it).
 *
 *   node bench/gen/rule-eval.mjs --root DIR [--runs 5] [--seconds 2] [--warmup 1]
 *
 * `DIR` is a Thingport checkout or build snapshot with `dist/`. Prints one JSON line.
 *
 * - sql: the compiled rule's `evaluate(ctx)` (JSON.parse of the payload, WHERE, SELECT) over
 *   pre-built message contexts: 4,096 distinct JSON payloads and device topics, half of them
 *   with temp > 30. Nothing else runs per evaluation. This is the number.
 * - engine1 / engine10: the same SQL through the rules engine itself (createRules on an in-memory
 *   database, messages handed to its subscription as the broker does, then `idle()`): with 1 and
 *   with 10 such rules (each with its own alias, so that none shares another's evaluation),
 *   counting rule evaluations. This adds what a live server adds per message
 *   and rule (queue, context, trace id, trace), but no MQTT.
 *
 * Each figure is the median of `runs` timed runs after a warm-up; every run checks that exactly
 * half of the messages matched and that the engine counted every evaluation.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export const RULE_SQL = "SELECT temp, topic(2) AS device FROM 'sensors/+/data' WHERE temp > 30";
const CONTEXTS = 4096;

function parseArgs(argv) {
  const o = { root: process.cwd(), runs: 5, seconds: 2, warmup: 1 };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    if (argv[i] === '--root') o.root = path.resolve(v);
    else if (argv[i] === '--runs') o.runs = Number(v);
    else if (argv[i] === '--seconds') o.seconds = Number(v);
    else if (argv[i] === '--warmup') o.warmup = Number(v);
    else continue;
    i++;
  }
  return o;
}

const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};

/** Temperatures: even i cool (0..30), odd i hot (31..99), spread so WHERE sees varied values. */
function tempOf(i) {
  return i % 2 === 0 ? (i * 7) % 31 : 31 + ((i * 13) % 69);
}

function payloadOf(i) {
  // A little variety in shape and size, as devices send: extra fields on some messages.
  const doc = { temp: tempOf(i), humidity: 40 + (i % 20) };
  if (i % 3 === 0) doc.battery = 3.3 - (i % 10) / 100;
  if (i % 5 === 0) doc.fw = `1.${i % 9}.0`;
  return Buffer.from(JSON.stringify(doc));
}

/** Runs `fn(n)` (which does n evaluations and returns how many matched) for `seconds`; evaluations/s and CPU. */
async function timed(seconds, fn, chunk) {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const until = t0 + BigInt(Math.round(seconds * 1e9));
  let n = 0;
  let matched = 0;
  while (process.hrtime.bigint() < until) {
    matched += await fn(chunk);
    n += chunk;
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(c0);
  return { rate: n / wall, n, matched, cpuPercent: ((cpu.user + cpu.system) / 1e6 / wall) * 100 };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const dist = (p) => pathToFileURL(path.join(o.root, 'dist/src', p)).href;
  const { compileSql, createRules } = await import(dist('rules/index.js'));
  const { openDatabase } = await import(dist('core/index.js'));
  const { createLogger } = await import(dist('lib/index.js'));

  // --- sql: the compiled rule alone
  const sql = compileSql(RULE_SQL);
  const ctxs = [];
  const messages = [];
  for (let i = 0; i < CONTEXTS; i++) {
    const topic = `sensors/dev-${i % 1000}/data`;
    const payload = payloadOf(i);
    ctxs.push({ topic, payload, clientId: `dev-${i % 1000}`, principal: null, sourceIp: null, traceId: '00000000-0000-4000-8000-000000000000', timestamp: 0, accountId: '000000000000', sqlVersion: sql.sqlVersion, properties: null });
    messages.push({ topic, payload, qos: 0, retain: false, properties: null });
  }
  const sample = sql.evaluate(ctxs[1]);
  if (sample?.temp !== tempOf(1) || sample?.device !== 'dev-1') throw new Error(`unexpected output ${JSON.stringify(sample)}`);
  let k = 0;
  const evalChunk = (n) => {
    let m = 0;
    for (let i = 0; i < n; i++) {
      if (sql.evaluate(ctxs[k]) !== undefined) m++;
      k = (k + 1) & (CONTEXTS - 1);
    }
    return m;
  };
  const problems = [];
  const runSet = async (name, fn, chunk, perCall) => {
    await timed(o.warmup, fn, chunk);
    const runs = [];
    for (let r = 0; r < o.runs; r++) {
      const res = await timed(o.seconds, fn, chunk);
      // chunk is a multiple of CONTEXTS: exactly half matched.
      if (res.matched * 2 !== res.n * perCall) problems.push(`${name} run ${r + 1}: ${res.matched} of ${res.n * perCall} matched, expected half`);
      runs.push({ rate: res.rate * perCall, cpuPercent: res.cpuPercent });
    }
    return { rate: median(runs.map((x) => x.rate)), min: Math.min(...runs.map((x) => x.rate)), max: Math.max(...runs.map((x) => x.rate)), cpuPercent: median(runs.map((x) => x.cpuPercent)), runs };
  };
  const sqlResult = await runSet('sql', evalChunk, CONTEXTS * 16, 1);

  // --- engine: the same rule(s) through createRules, fed as the broker feeds it
  const engine = async (count) => {
    const db = openDatabase(':memory:');
    const handlers = [];
    const rules = createRules({
      db,
      messaging: { subscribe: (_f, h) => (handlers.push(h), () => {}), publish: async () => {} },
      region: 'us-east-1',
      accountId: '000000000000',
      logger: createLogger('silent'),
      config: { maxQueue: 10_000_000 },
    });
    // Each rule with its own alias: identical statements would be evaluated once for all of them.
    for (let r = 0; r < count; r++) rules.service.createRule(`hot${r}`, { sql: count === 1 ? RULE_SQL : RULE_SQL.replace(' AS device ', ` AS device_${r} `), actions: [] });
    const client = { clientId: 'bench', principal: null, remoteAddress: '127.0.0.1' };
    let j = 0;
    const feed = async (n) => {
      for (let i = 0; i < n; i++) {
        const m = messages[j];
        for (const h of handlers) h(m, client);
        j = (j + 1) & (CONTEXTS - 1);
      }
      await rules.idle();
      return 0;
    };
    const before = () => rules.metrics().rules.reduce((a, r) => [a[0] + r.evaluated, a[1] + r.matched], [0, 0]);
    const chunk = CONTEXTS;
    await timed(o.warmup, feed, chunk);
    const runs = [];
    for (let r = 0; r < o.runs; r++) {
      const [e0, m0] = before();
      const res = await timed(o.seconds, feed, chunk);
      const [e1, m1] = before();
      if (e1 - e0 !== res.n * count) problems.push(`engine${count} run ${r + 1}: ${e1 - e0} evaluations counted for ${res.n * count}`);
      if ((m1 - m0) * 2 !== res.n * count) problems.push(`engine${count} run ${r + 1}: ${m1 - m0} matched of ${res.n * count}, expected half`);
      runs.push({ rate: res.rate * count, cpuPercent: res.cpuPercent });
    }
    const dropped = rules.metrics().queueDropped;
    if (dropped > 0) problems.push(`engine${count}: ${dropped} dropped`);
    rules.stop();
    db.close();
    return { rate: median(runs.map((x) => x.rate)), min: Math.min(...runs.map((x) => x.rate)), max: Math.max(...runs.map((x) => x.rate)), cpuPercent: median(runs.map((x) => x.cpuPercent)), runs };
  };
  const engine1 = await engine(1);
  const engine10 = await engine(10);
  const cpu = process.cpuUsage();
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  process.stdout.write(`${JSON.stringify({ ok: problems.length === 0, problems, sql: sqlResult, engine1, engine10, contexts: CONTEXTS, runs: o.runs, seconds: o.seconds, warmup: o.warmup, cpuSeconds })}\n`);
}

main().catch((err) => {
  process.stdout.write(`${JSON.stringify({ ok: false, problems: [err.stack ?? String(err)] })}\n`);
  process.exit(1);
});
