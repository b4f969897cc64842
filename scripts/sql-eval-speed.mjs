#!/usr/bin/env node
// Evaluations per second of one rule's SQL on one core: payload parse + WHERE + SELECT, the work
// the rules engine does per message and rule. Not a test and not part of `npm run bench`; run after
// `npm run build`:
//   node scripts/sql-eval-speed.mjs [rounds] [path/to/dist/src/rules/sql/index.js]
// It prints the best and median of the rounds (1 s each, rates per CPU second) for ordinary payloads, and for payloads
// with numbers written as whole Decimals (`7.0`, `1e3`), which take the slower decimal-aware read.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

const rounds = Number(process.argv[2] ?? 5);
const modulePath = process.argv[3] ?? new URL('../dist/src/rules/sql/index.js', import.meta.url).pathname;
const { compileSql } = await import(pathToFileURL(resolve(modulePath)).href);

const SQL = "SELECT temp, topic(2) AS device FROM 'sensors/+/data' WHERE temp > 30";
const rule = compileSql(SQL);
const sets = {
  ordinary: [
    '{"temp":31,"humidity":40.5,"status":"ok"}',
    '{"temp":28.25,"humidity":41,"status":"ok"}',
    '{"temp":35.5,"humidity":39.75,"status":"warm"}',
    '{"temp":22,"humidity":55,"status":"ok"}',
  ],
  'whole decimals': [
    '{"temp":31.0,"humidity":40.5,"status":"ok"}',
    '{"temp":28.25,"humidity":41.0,"status":"ok"}',
    '{"temp":3.55e1,"humidity":39.75,"status":"warm"}',
    '{"temp":22.0,"humidity":55,"status":"ok"}',
  ],
};
const base = { topic: 'sensors/d1/data', clientId: 'c1', principal: null, sourceIp: null, traceId: 't', timestamp: 0, accountId: '000000000000', sqlVersion: rule.sqlVersion, properties: null };

function rate(payloads, ms) {
  let n = 0;
  let matched = 0;
  // CPU time, not wall time: the machine is shared, and the question is what one core does.
  const c0 = process.cpuUsage();
  const end = performance.now() + ms;
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) {
      const payload = payloads[i & 3];
      const ctx = { ...base, payload };
      if (rule.evaluateParsed(ctx, rule.parsePayload(payload)) !== undefined) matched++;
    }
    n += 1000;
  }
  if (matched === 0) throw new Error('nothing matched');
  const c = process.cpuUsage(c0);
  return n / ((c.user + c.system) / 1e6);
}

console.log(`${SQL}  (${modulePath})`);
for (const [name, texts] of Object.entries(sets)) {
  const payloads = texts.map((t) => Buffer.from(t));
  rate(payloads, 300); // warm-up
  const r = Array.from({ length: rounds }, () => rate(payloads, 1000)).sort((a, b) => a - b);
  const fmt = (x) => Math.round(x).toLocaleString('en-US');
  console.log(`  ${name.padEnd(15)} best ${fmt(r[r.length - 1])}/s  median ${fmt(r[Math.floor(r.length / 2)])}/s  (${rounds} rounds of 1 s)`);
}
