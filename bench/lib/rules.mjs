/**
 * The rules scenarios (Thingport only), run by bench/run.mjs after the broker scenarios:
 *
 * - r-eval: the rule micro-benchmark in its own process (bench/gen/rule-eval.mjs).
 * - r-qos0: pairwise QoS 0 throughput (scenario c's generator, JSON payloads on
 *   `sensors/<n>/data`) against a Thingport with 0 rules and with 10 rules
 *   `SELECT temp, topic(2) AS device FROM 'sensors/+/data' WHERE temp > 30` (no actions), created
 *   through the AWS IoT API with the admin key of the data directory. The two take turns run by
 *   run. After each run with rules, the rule counters on /metrics must show every published
 *   message evaluated by every rule, half of them matched, and no queue drops.
 *
 * Results go to bench/results/rules.json and to the "## Rules" section of latest.md, which is
 * replaced on its own (the broker results around it stay as they are).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT } from './brokers.mjs';

export const RULE_SQL = "SELECT temp, topic(2) AS device FROM 'sensors/+/data' WHERE temp > 30";
/** The issue's targets. */
export const EVAL_TARGET = 200_000;
export const RATIO_TARGET = 0.8;
const RULES_HEADING = '## Rules';
/** Publishers of the pairwise shape r-qos0 uses. */
const PUBLISHERS = 100;

/** "10 rules", "10 different rules": a configuration as the Rules table names it. */
export function ruleLabel(cfg) {
  return `${cfg.rules}${cfg.distinct ? ' different' : ''} rules`;
}

/** The statement of rule `i`: the issue's rule, or with its own alias when the rules must all differ. */
function ruleSql(i, distinct) {
  return distinct ? RULE_SQL.replace(' AS device ', ` AS device_${i} `) : RULE_SQL;
}

/** r-qos0's configurations (0 rules, 10 rules, 10 different rules), taking turns run by run. */
export function qos0Variant(base, { rules, distinct = false }) {
  return {
    ...base,
    key: `${base.key}-${rules}${distinct ? 'd' : ''}`,
    title: `${base.title}, ${ruleLabel({ rules, distinct })}`,
    rules,
    distinct,
    afterStart: async (handle) => {
      const ep = await endpointsOf(handle);
      handle.api = ep.http;
      if (rules > 0) await createRules(ep, handle.dataDir, rules, distinct);
    },
    beforeStop: async (handle, record) => {
      if (rules === 0) return;
      // The engine drains off the publish path: wait until its queue is empty and every rule has
      // seen every message published (warm-up included), at most 10 s.
      const sent = record.totals?.sent ?? 0;
      const deadline = Date.now() + 10_000;
      let m;
      for (;;) {
        m = ruleCounters(await (await fetch(`${handle.api}/metrics`)).text());
        const seen = m.evaluated.reduce((a, b) => a + b, 0) + m.dropped;
        if ((m.depth === 0 && m.evaluated.length === rules && seen >= sent * rules) || Date.now() > deadline) break;
        await sleep(100);
      }
      record.rulesCheck = { sent, evaluatedMin: Math.min(...m.evaluated), evaluatedMax: Math.max(...m.evaluated), matchedMin: Math.min(...m.matched), matchedMax: Math.max(...m.matched), queueDropped: m.dropped, workerRefused: m.refused, rules: m.evaluated.length };
      if (m.evaluated.length !== rules) record.problems.push(`${m.evaluated.length} rules on /metrics, expected ${rules}`);
      else if (m.dropped > 0) record.rulesNote = `rules queue dropped ${m.dropped.toLocaleString('en-US')} evaluations (${((m.dropped / (sent * rules)) * 100).toFixed(1)}%)`;
      else if (m.evaluated.some((e) => e !== sent)) record.problems.push(`rules evaluated ${record.rulesCheck.evaluatedMin}..${record.rulesCheck.evaluatedMax} messages of ${sent} published`);
      // Each publisher's temps alternate cool/hot, so half match, give or take one per publisher.
      else if (m.matched.some((x) => Math.abs(x * 2 - sent) > 2 * PUBLISHERS)) record.problems.push(`rules matched ${record.rulesCheck.matchedMin}..${record.rulesCheck.matchedMax} of ${sent}, expected half`);
    },
  };
}

async function endpointsOf(handle) {
  const file = path.join(handle.dataDir, 'endpoints.json');
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const ep = JSON.parse(readFileSync(file, 'utf8'));
      if (ep.pid === handle.pid && ep.http) return ep;
    } catch {
      // not written yet
    }
    if (Date.now() > deadline) throw new Error(`Thingport did not write ${file}`);
    await sleep(50);
  }
}

/** The admin key of `<dataDir>/aws-credentials` ([thingport] profile). */
function adminKey(dataDir, profile) {
  const text = readFileSync(path.join(dataDir, 'aws-credentials'), 'utf8');
  const section = text.split(/^\[/m).find((s) => s.startsWith(`${profile}]`)) ?? '';
  const get = (k) => new RegExp(`^${k}\\s*=\\s*(\\S+)`, 'm').exec(section)?.[1];
  return { accessKeyId: get('aws_access_key_id'), secretAccessKey: get('aws_secret_access_key') };
}

async function createRules(ep, dataDir, count, distinct) {
  const { IoTClient, CreateTopicRuleCommand } = await import('@aws-sdk/client-iot');
  const iot = new IoTClient({ endpoint: ep.http, region: ep.region, credentials: adminKey(dataDir, ep.profile), maxAttempts: 1 });
  try {
    for (let i = 0; i < count; i++) {
      await iot.send(new CreateTopicRuleCommand({ ruleName: `bench_hot_${i}`, topicRulePayload: { sql: ruleSql(i, distinct), actions: [], ruleDisabled: false } }));
    }
  } finally {
    iot.destroy();
  }
}

/** Per-rule evaluated/matched, queue drops and depth from /metrics text. */
function ruleCounters(text) {
  const per = (name) => [...text.matchAll(new RegExp(`^${name}\\{rule="[^"]*"\\} (\\S+)$`, 'gm'))].map((m) => Number(m[1]));
  const one = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  const evaluated = per('thingport_rule_messages_evaluated_total');
  return { evaluated, matched: per('thingport_rule_messages_matched_total'), dropped: one('thingport_rules_queue_dropped_total'), depth: one('thingport_rules_queue_depth'), refused: one('thingport_rules_worker_refused_total') };
}

/** Runs bench/gen/rule-eval.mjs on the build at `root`; resolves with its result record. */
export function runRuleEval(root, opts) {
  const runs = Math.max(3, opts.runs);
  const args = [path.join(ROOT, 'bench/gen/rule-eval.mjs'), '--root', root, '--runs', String(runs), '--seconds', String(Math.min(3, opts.duration)), '--warmup', String(Math.max(1, opts.warmup))];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s) => (out += s));
    child.on('exit', (code) => {
      try {
        resolve({ variant: 'r-eval', ...JSON.parse(out.trim().split('\n').pop()) });
      } catch {
        resolve({ variant: 'r-eval', ok: false, problems: [`rule-eval exited with ${code} without a result`] });
      }
    });
  });
}

const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const fmtInt = (n) => (n === null || n === undefined ? '–' : Math.round(n).toLocaleString('en-US'));
const fmtRange = (a, b) => `${fmtInt(a)} – ${fmtInt(b)}`;
/** Evaluations per second of the process's CPU time (what a full core would do), from a r-eval figure. */
const perCpu = (x) => (x.cpuPercent > 0 ? (x.rate * 100) / x.cpuPercent : null);

/** The "## Rules" section of latest.md for a rules result ({ date, machine, eval, qos0 }). */
export function renderRulesSection(result) {
  const lines = [RULES_HEADING, ''];
  const git = result.thingportGit ? `, commit ${result.thingportGit.commit}${result.thingportGit.dirty ? ' with uncommitted changes in src/' : ''}` : '';
  lines.push(
    `Thingport only, measured by \`npm run bench -- --scenario r\` on ${result.date}${git} (${result.machine.cores} cores, ${result.machine.cpuModel}, Node ${result.machine.node}). ` +
      `Rule: \`${RULE_SQL}\`, no actions (republish off); "different rules" give each rule its own alias (\`device_N\`). How it is measured: [bench/README.md](../README.md#rules-scenarios).`,
  );
  if (result.note) lines.push('', `**Note:** ${result.note}`);
  lines.push('', '| Scenario | Median | Min – max | Runs | CPU % | Target | Notes |', '|---|---|---|---|---|---|---|');
  const ev = result.eval;
  if (ev) {
    if (!ev.ok && !ev.sql) lines.push(`| r-eval | **FAILED** | | | | | ${ev.problems.join('; ')} |`);
    else {
      const met = ev.sql.rate >= EVAL_TARGET ? 'met' : '**missed**';
      const n = ev.sql.runs.length;
      const probs = ev.problems?.length ? ` **Problems:** ${ev.problems.join('; ')}` : '';
      lines.push(`| r-eval: compiled rule, \`evaluate()\` (parse + WHERE + SELECT), evaluations/s | ${fmtInt(ev.sql.rate)} | ${fmtRange(ev.sql.min, ev.sql.max)} | ${n} | ${ev.sql.cpuPercent.toFixed(0)} | ≥ ${fmtInt(EVAL_TARGET)}/s on one core: ${met} | one thread; ${ev.contexts.toLocaleString('en-US')} JSON payloads, half match; ${fmtInt(perCpu(ev.sql))} per CPU-second${probs} |`);
      lines.push(`| r-eval: through the engine, 1 rule, evaluations/s | ${fmtInt(ev.engine1.rate)} | ${fmtRange(ev.engine1.min, ev.engine1.max)} | ${n} | ${ev.engine1.cpuPercent.toFixed(0)} | | queue, context, trace; no MQTT; ${fmtInt(perCpu(ev.engine1))} per CPU-second |`);
      lines.push(`| r-eval: through the engine, 10 rules, evaluations/s | ${fmtInt(ev.engine10.rate)} | ${fmtRange(ev.engine10.min, ev.engine10.max)} | ${n} | ${ev.engine10.cpuPercent.toFixed(0)} | | 10 different rules (own aliases), 10 evaluations per message, one JSON.parse; ${fmtInt(perCpu(ev.engine10))} per CPU-second |`);
    }
  }
  const q = result.qos0;
  if (q) {
    const rows = [];
    for (const cfg of q.configs) {
      const recs = q.records.filter((r) => r.variant === cfg.key);
      const ok = recs.filter((r) => r.ok);
      const vals = ok.map((r) => r.value);
      const notes = [...new Set(recs.flatMap((r) => [...(r.problems ?? []), ...(r.rulesNote ? [r.rulesNote] : [])]))];
      const other = Math.max(...recs.map((r) => r.otherCpu ?? 0));
      if (other > 25) notes.push(`other processes used up to ${other.toFixed(0)}% of a core`);
      if (cfg.rules > 0 && ok.length) {
        const c = ok.map((r) => r.rulesCheck).filter(Boolean);
        const kept = c.filter((x) => x.queueDropped === 0 && x.evaluatedMin === x.sent).length;
        // Messages the evaluation worker could not take (it was behind) were evaluated on the broker's thread.
        const refused = c.map((x) => (x.sent > 0 && Number.isFinite(x.workerRefused) ? x.workerRefused / x.sent : NaN)).filter(Number.isFinite);
        const onMain = refused.length ? `; on the broker thread (worker behind): ${(median(refused) * 100).toFixed(1)}% of messages` : '';
        notes.unshift(`every rule evaluated every published message in ${kept}/${c.length} runs (e.g. ${fmtInt(c[0]?.sent)} published, ${fmtInt(c[0]?.evaluatedMin)} evaluated per rule, ${fmtInt(c[0]?.queueDropped)} dropped${onMain})`);
      }
      // Broker CPU time per delivered message: what rules cost, whatever else ran on the machine.
      const usPerMsg = median(ok.filter((r) => r.brokerCpu > 0 && r.value > 0).map((r) => (r.brokerCpu / 100 / r.value) * 1e6));
      rows.push({ cfg, median: median(vals), min: vals.length ? Math.min(...vals) : null, max: vals.length ? Math.max(...vals) : null, runs: `${ok.length}/${recs.length}`, cpu: median(ok.map((r) => r.brokerCpu)), usPerMsg, notes, drops: ok.some((r) => (r.rulesCheck?.queueDropped ?? 0) > 0) });
    }
    for (const r of rows) {
      const us = r.usPerMsg === null ? '' : `broker CPU ${r.usPerMsg.toFixed(2)} µs per message`;
      lines.push(`| r-qos0: pairwise 100, QoS 0, JSON payloads, ${ruleLabel(r.cfg)}, msg/s | ${fmtInt(r.median)} | ${r.min === null ? '–' : fmtRange(r.min, r.max)} | ${r.runs} | ${r.cpu === null ? '–' : r.cpu.toFixed(0)} | | ${[us, ...r.notes].filter(Boolean).join('; ')} |`);
    }
    const base = rows.find((r) => r.cfg.rules === 0);
    for (const withRules of rows.filter((r) => r.cfg.rules > 0)) {
      if (!base?.median || !withRules.median) continue;
      const ratio = withRules.median / base.median;
      const met = ratio >= RATIO_TARGET && !withRules.drops ? 'met' : `**missed**${withRules.drops ? ' (queue drops)' : ''}`;
      const n = withRules.cfg.rules;
      const cpuRatio = base.usPerMsg && withRules.usPerMsg ? `by broker CPU per message: ${(base.usPerMsg / withRules.usPerMsg).toFixed(2)}x (${n} rules add ${(withRules.usPerMsg - base.usPerMsg).toFixed(2)} µs per message, ${(((withRules.usPerMsg - base.usPerMsg) / n) * 1000).toFixed(0)} ns per rule)` : '';
      const how = withRules.cfg.distinct ? 'no two statements alike: every rule evaluated on its own' : 'the same statement: evaluated once per message, its output shared by the 10 rules';
      // Each run with rules against the rule-free run of the same turn: steadier than the ratio of
      // medians when the machine's speed drifts during the session.
      const paired = pairedRatios(q.records, base.cfg.key, withRules.cfg.key);
      const pairedNote = paired.length ? `median of the per-turn ratios ${median(paired).toFixed(2)}x (${paired.map((x) => x.toFixed(2)).join(', ')})` : '';
      lines.push(`| r-qos0: ${ruleLabel(withRules.cfg)} vs 0 rules (msg/s) | ${ratio.toFixed(2)}x | | | | ≥ ${RATIO_TARGET.toFixed(2)}x: ${met} | ${[how, pairedNote, cpuRatio].filter(Boolean).join('; ')} |`);
    }
  }
  lines.push('', '"CPU %" is the benchmark process (r-eval) or the broker process (r-qos0), in % of one core.', '');
  return lines.join('\n');
}

/** Per turn: the msg/s of the `withKey` run over that of the `baseKey` run (turns where both succeeded). */
function pairedRatios(records, baseKey, withKey) {
  const out = [];
  for (const r of records) {
    if (r.variant !== withKey || !r.ok || typeof r.run !== 'number') continue;
    const b = records.find((x) => x.variant === baseKey && x.ok && x.run === r.run);
    if (b?.value > 0) out.push(r.value / b.value);
  }
  return out;
}

/** latest.md's text with its Rules section replaced by `section` (appended when absent). */
export function replaceRulesSection(text, section) {
  const start = text.indexOf(`\n${RULES_HEADING}\n`);
  if (start < 0) return `${text.trimEnd()}\n\n${section}`;
  const next = text.indexOf('\n## ', start + RULES_HEADING.length + 2);
  return `${text.slice(0, start + 1)}${section}${next < 0 ? '' : `\n${text.slice(next + 1)}`}`;
}

/** The Rules section of an existing latest.md ('' when none), to keep when the broker tables are rewritten. */
export function rulesSectionOf(file) {
  if (!existsSync(file)) return '';
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf(`\n${RULES_HEADING}\n`);
  if (start < 0) return '';
  const next = text.indexOf('\n## ', start + RULES_HEADING.length + 2);
  return text.slice(start + 1, next < 0 ? undefined : next + 1);
}

/** Writes rules.json and the Rules section of latest.md in `outDir`. */
export function writeRulesResults(outDir, result) {
  writeFileSync(path.join(outDir, 'rules.json'), `${JSON.stringify(result, null, 2)}\n`);
  const md = path.join(outDir, 'latest.md');
  const section = renderRulesSection(result);
  writeFileSync(md, replaceRulesSection(existsSync(md) ? readFileSync(md, 'utf8') : '# Thingport benchmark: latest results\n', section));
  return section;
}
