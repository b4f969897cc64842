#!/usr/bin/env node
/**
 * Thingport broker benchmark: the same scenarios against Thingport, Mosquitto and Aedes, each
 * started in turn on a free loopback port, with a forked load generator (bench/gen/worker.mjs).
 *
 *   npm run bench                                  # everything, 3 runs each (~14 min)
 *   npm run bench -- --scenario a --runs 1 --duration 3
 *   npm run bench -- --scenario c-qos1,f --brokers thingport,mosquitto
 *
 * Writes bench/results/latest.md and bench/results/latest.json (see bench/README.md).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { detectBrokers, startBroker, freePort, makeDataDir, removeDataDir, fdLimits, tail, snapshotThingport, ROOT } from './lib/brokers.mjs';
import { selectVariants, brokerVariants } from './lib/scenarios.mjs';
import { qos0Variant, ruleLabel, runRuleEval, rulesSectionOf, writeRulesResults } from './lib/rules.mjs';
import { memoryKb, machineBusySeconds } from './lib/proc.mjs';
import { machineInfo, renderMarkdown, summarize, gitState, timeLost } from './lib/report.mjs';

const HELP = `usage: node bench/run.mjs [options]
  --scenario LIST   scenarios or variants, comma-separated (a,b,c,d,e,f,g,r or a-qos0, f-crash, r-eval,
                    r-qos0, ...); default all. r (rules) is Thingport only, in its own section
  --brokers LIST    thingport,mosquitto,aedes (default all three)
  --runs N          runs per scenario and broker (default 3)
  --crash-runs N    runs of the kill -9 check per broker (default 1)
  --duration S      measured seconds per timed run (default 6)
  --warmup S        warm-up seconds before measuring (default 1.5)
  --out DIR         where latest.md / latest.json go (default bench/results)
  --update          re-run the selected scenarios and brokers and replace only their runs in the
                    existing latest.json (e.g. one disturbed by other work), then re-render
  --render FILE     only re-render latest.md next to FILE from a saved latest.json
  --param K=V       override a generator parameter for every selected scenario (repeatable),
                    e.g. --param outstanding=200 --param window=20
  --retry-noisy N   repeat a run up to N times when other processes used over 25% of a core
                    during its measured window (default 2; the discarded runs stay in latest.json)
  --no-wait-quiet   do not wait (up to 60 s) for other processes to go quiet before each run
  --keep            keep broker data directories of failed runs (default: removed)
  --cpu-prof DIR    run Thingport with node --cpu-prof, one .cpuprofile per broker process in DIR`;

function parseArgs(argv) {
  const opts = { scenario: null, brokers: ['thingport', 'mosquitto', 'aedes'], runs: 3, crashRuns: 1, duration: 6, warmup: 1.5, out: path.join(ROOT, 'bench/results'), keep: false, param: {}, waitQuiet: true, retryNoisy: 2 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--scenario' || a === '--scenarios') opts.scenario = val().split(',').map((s) => s.trim()).filter(Boolean);
    else if (a === '--brokers' || a === '--broker') opts.brokers = val().split(',').map((s) => s.trim()).filter(Boolean);
    else if (a === '--runs') opts.runs = Number(val());
    else if (a === '--crash-runs') opts.crashRuns = Number(val());
    else if (a === '--duration') opts.duration = Number(val());
    else if (a === '--warmup') opts.warmup = Number(val());
    else if (a === '--out') opts.out = path.resolve(val());
    else if (a === '--keep') opts.keep = true;
    else if (a === '--no-wait-quiet') opts.waitQuiet = false;
    else if (a === '--retry-noisy') opts.retryNoisy = Number(val());
    else if (a === '--render') opts.render = path.resolve(val());
    else if (a === '--cpu-prof') opts.cpuProf = path.resolve(val());
    else if (a === '--update') opts.update = true;
    else if (a === '--param') {
      const [k, ...rest] = val().split('=');
      const v = rest.join('=');
      opts.param[k] = v === 'true' ? true : v === 'false' ? false : Number.isNaN(Number(v)) ? v : Number(v);
    }
    else if (a === '--help' || a === '-h') {
      console.log(HELP);
      process.exit(0);
    } else throw new Error(`unknown option ${a}\n${HELP}`);
  }
  if (!(opts.runs >= 1) || !(opts.duration > 0) || !(opts.warmup >= 0)) throw new Error('--runs, --duration and --warmup must be positive numbers');
  return opts;
}

const log = (msg) => process.stdout.write(`${msg}\n`);

/** What is running right now, so an interrupted benchmark leaves no broker behind. */
const live = { handle: null, worker: null, dataDir: null };
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (live.worker && live.worker.exitCode === null) live.worker.kill('SIGKILL');
    if (live.handle) live.handle.proc.kill('SIGKILL');
    if (live.dataDir) removeDataDir(live.dataDir);
    process.exit(130);
  });
}

/** "Other CPU" above this (% of one core) in the measured window marks a disturbed run. */
const NOISY_CPU = 25;

/**
 * Waits until the machine is quiet (other processes using under 25% of a core over 0.3 s), at
 * most `maxS` seconds: a test suite running beside the benchmark skews every number.
 * Returns the seconds waited and the last busy reading.
 */
async function waitQuiet(maxS) {
  const t0 = Date.now();
  let busy = 0;
  for (;;) {
    const b0 = machineBusySeconds();
    await sleep(300);
    busy = ((machineBusySeconds() - b0) / 0.3) * 100;
    if (busy < 25 || Date.now() - t0 > maxS * 1000) break;
    if (Date.now() - t0 < 700) log(`   (machine busy: ${busy.toFixed(0)}% of a core used by others; waiting up to ${maxS} s)`);
  }
  return { waitedS: (Date.now() - t0) / 1000 - 0.3, busyBefore: busy };
}

/** Runs the generator for one (variant, broker, run); resolves with the result record. */
async function runOnce(variant, broker, runIndex, opts) {
  const record = { variant: variant.key, broker: broker.name, run: runIndex + 1, ok: false, problems: [] };
  if (opts.waitQuiet) Object.assign(record, await waitQuiet(60));
  const t0 = Date.now();
  const port = await freePort();
  const dataDir = makeDataDir(broker.name);
  // The rules scenarios also need Thingport's HTTP API (to create rules and read their counters).
  const brokerOptions = { ...variant.broker, ...(variant.broker.http ? { httpPort: await freePort() } : {}), ...(opts.cpuProf ? { cpuProfDir: opts.cpuProf } : {}) };
  let handle;
  try {
    live.dataDir = dataDir;
    handle = await startBroker(broker, { port, dataDir, options: brokerOptions });
    live.handle = handle;
    if (variant.afterStart) await variant.afterStart(handle, record);
  } catch (err) {
    record.problems.push(`broker did not start: ${err.message}`);
    if (handle) await handle.stop();
    removeDataDir(dataDir);
    return record;
  }
  record.brokerStartMs = handle.startMs;
  const params = {
    ...variant.params,
    ...opts.param,
    warmupMs: opts.warmup * 1000,
    durationMs: opts.duration * 1000,
    clientPrefix: `b${process.pid}r${runIndex}`,
  };
  const budgetMs = (variant.timed ? (opts.warmup + opts.duration) * 1000 : 0) + 150_000;
  // Forked through sh so that its soft open-files limit can be raised (scenario e).
  const worker = spawn('/bin/sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', process.execPath, path.join(ROOT, 'bench/gen/worker.mjs')], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  live.worker = worker;
  const outcome = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ type: 'error', message: `generator timed out after ${budgetMs / 1000} s` }), budgetMs);
    worker.on('message', async (msg) => {
      if (msg.type === 'kill-broker') {
        // Crash check: kill -9, restart on the same data directory and port.
        await handle.kill9();
        const t0 = Date.now();
        try {
          handle = await startBroker(broker, { port, dataDir, options: brokerOptions });
          live.handle = handle;
          worker.send({ cmd: 'broker-restarted', port, pid: handle.pid, restartMs: Date.now() - t0 });
        } catch (err) {
          worker.send({ cmd: 'restart-failed', message: err.message });
        }
        return;
      }
      clearTimeout(timer);
      resolve(msg);
    });
    worker.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ type: 'error', message: `generator exited with code ${code} before reporting` });
    });
    worker.send({ cmd: 'run', test: variant.test, port, brokerPid: handle.pid, params });
  });
  if (worker.exitCode === null) worker.kill('SIGKILL');

  const mem = memoryKb(handle.pid);
  if (outcome.type === 'result') {
    Object.assign(record, outcome.result);
    record.problems = [...(outcome.result.problems ?? [])];
  } else {
    record.problems.push(outcome.message);
  }
  // Scenario checks that need the live broker (the rules scenarios read its rule counters).
  if (outcome.type === 'result' && variant.beforeStop && !handle.unexpectedExit) {
    try {
      await variant.beforeStop(handle, record);
    } catch (err) {
      record.problems.push(err.message);
    }
  }
  if (mem) record.peakRssKb = mem.hwmKb;
  else if (record.brokerMem) record.peakRssKb = record.brokerMem.hwmKb;
  if (handle.unexpectedExit) {
    const { code, signal, log: logTail } = handle.unexpectedExit;
    record.problems.push(`broker exited unexpectedly (code ${code}, signal ${signal})`);
    record.brokerLog = logTail;
  }
  const s0 = Date.now();
  await handle.stop();
  record.stopMs = Date.now() - s0;
  record.wallMs = Date.now() - t0;
  // The broker's log helps when it refused or broke the run, not when a check counted losses.
  if (outcome.type !== 'result' && !record.brokerLog) record.brokerLog = tail(handle.logFile);
  record.ok = record.problems.length === 0;
  if (record.ok || !opts.keep) removeDataDir(dataDir);
  else record.dataDir = dataDir;
  live.handle = null;
  live.worker = null;
  live.dataDir = null;
  return record;
}

function describe(record) {
  if (!record.ok) return `FAILED: ${record.problems.join('; ')}`;
  const v = record.value;
  const val = typeof v === 'number' ? (Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(2)) : String(v);
  const cpu = typeof record.brokerCpu === 'number' ? `, broker CPU ${record.brokerCpu.toFixed(0)}%` : '';
  const gen = typeof record.genCpu === 'number' ? `, gen CPU ${record.genCpu.toFixed(0)}%` : '';
  const other = typeof record.otherCpu === 'number' ? `, other ${record.otherCpu.toFixed(0)}%` : '';
  return `${val} ${record.unit}${cpu}${gen}${other}`;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.render) {
    const saved = JSON.parse(readFileSync(opts.render, 'utf8'));
    const file = path.join(path.dirname(opts.render), 'latest.md');
    const md = renderMarkdown(saved, brokerVariants(selectVariants(null)).filter((v) => saved.records.some((r) => r.variant === v.key)));
    writeFileSync(file, joinRules(md, rulesSectionOf(file)));
    log(md);
    return;
  }
  const started = Date.now();
  const selected = selectVariants(opts.scenario);
  if (selected.length === 0) throw new Error(`no scenario matches ${opts.scenario}`);
  const variants = brokerVariants(selected);
  const ruleVariants = selected.filter((v) => v.family === 'rules');
  // One Thingport build for the whole benchmark, even if dist/ is rebuilt while it runs.
  const snapshot = opts.brokers.includes('thingport') ? snapshotThingport() : null;
  const thingportGit = gitState(); // the build being snapshotted, not the tree at the end
  const all = detectBrokers(log, { thingportRoot: snapshot ?? ROOT });
  const unknown = opts.brokers.filter((b) => !all[b]);
  if (unknown.length) throw new Error(`unknown broker(s): ${unknown.join(', ')}`);
  const brokers = opts.brokers.map((b) => all[b]);
  for (const b of brokers) if (b.missing) log(`!! ${b.name} is missing: ${b.missing} (reported in the table)`);
  const fds = fdLimits();
  const needFds = 10_500;
  if (variants.some((v) => v.test === 'idle') && fds.hard < needFds) {
    log(`!! the hard open-files limit is ${fds.hard}; scenario e needs about ${needFds} per process and will fail (raise it with ulimit -Hn as root)`);
  }

  if (variants.length > 0) await runBrokerScenarios(variants, brokers, all, opts, started, thingportGit);
  if (ruleVariants.length > 0) {
    if (!opts.brokers.includes('thingport') || all.thingport.missing) log(`!! the rules scenarios run Thingport only: ${all.thingport.missing ?? 'not among --brokers'}; skipped`);
    else await runRulesScenarios(ruleVariants, all, snapshot ?? ROOT, opts, thingportGit);
  }
  if (snapshot) removeDataDir(snapshot);
}

/** Runs a variant's runs for one broker, repeating disturbed runs; pushes to records/discarded. */
async function runWithRetries(variant, broker, r, runs, opts, records, discarded, label = broker.name) {
  let rec = await runOnce(variant, broker, r, opts);
  for (let retry = 0; retry < opts.retryNoisy && typeof rec.otherCpu === 'number' && rec.otherCpu > NOISY_CPU; retry++) {
    log(`   run ${r + 1}/${runs} ${label.padEnd(9)} disturbed (other processes ${rec.otherCpu.toFixed(0)}% of a core): repeating`);
    discarded.push({ ...rec, discarded: true });
    rec = await runOnce(variant, broker, r, opts);
  }
  records.push(rec);
  log(`   run ${r + 1}/${runs} ${label.padEnd(9)} ${describe(rec)}${rec.rulesNote ? ` (${rec.rulesNote})` : ''}`);
  return rec;
}

/** The broker comparison: every selected broker per variant; writes latest.json and latest.md (keeping its Rules section). */
async function runBrokerScenarios(variants, brokers, all, opts, started, thingportGit) {
  const records = [];
  const discarded = [];
  for (const variant of variants) {
    const runs = variant.runsKey === 'crashRuns' ? opts.crashRuns : opts.runs;
    log(`\n== ${variant.title}`);
    for (let r = 0; r < runs; r++) {
      for (const broker of brokers) {
        if (broker.missing) continue;
        await runWithRetries(variant, broker, r, runs, opts, records, discarded);
        await sleep(100); // let sockets close before the next broker starts
      }
    }
  }

  const machine = { ...machineInfo(all), thingportGit: opts.brokers.includes('thingport') ? thingportGit : null };
  const elapsedS = (Date.now() - started) / 1000;
  let result;
  let shown = variants;
  if (opts.update) {
    // Replace the re-run (variant, broker) pairs in the saved results, keep everything else.
    const prev = JSON.parse(readFileSync(path.join(opts.out, 'latest.json'), 'utf8'));
    const keys = new Set(variants.map((v) => v.key));
    const names = new Set(brokers.map((b) => b.name));
    const keep = (r) => !(keys.has(r.variant) && names.has(r.broker));
    const allRecords = [...prev.records.filter(keep), ...records];
    const allDiscarded = [...(prev.discarded ?? []).filter(keep), ...discarded];
    shown = brokerVariants(selectVariants(null)).filter((v) => allRecords.some((r) => r.variant === v.key));
    const update = { date: new Date().toISOString(), elapsedS, variants: [...keys], brokers: [...names], thingportGit: machine.thingportGit };
    result = { ...prev, summary: summarize(shown, prev.brokers, allRecords), records: allRecords, discarded: allDiscarded, updates: [...(prev.updates ?? []), update] };
  } else {
    const summary = summarize(variants, brokers, records, opts);
    result = { date: new Date().toISOString(), elapsedS, time: timeLost(records, discarded), options: { ...opts, out: undefined }, machine, brokers: brokers.map((b) => ({ name: b.name, version: b.version, missing: b.missing })), summary, records, discarded };
  }
  if (!existsSync(opts.out)) mkdirSync(opts.out, { recursive: true });
  writeFileSync(path.join(opts.out, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
  const md = renderMarkdown(result, shown);
  const file = path.join(opts.out, 'latest.md');
  writeFileSync(file, joinRules(md, rulesSectionOf(file)));
  log(`\n${md}`);
  log(`wrote ${path.relative(process.cwd(), file)} and latest.json in ${elapsedS.toFixed(0)} s`);
}

/** The broker tables plus the Rules section kept from the previous latest.md. */
function joinRules(md, rulesSection) {
  return rulesSection === '' ? md : `${md.trimEnd()}\n\n${rulesSection}`;
}

/**
 * The rules scenarios (Thingport only, bench/lib/rules.mjs): r-eval in its own process, r-qos0 with
 * 0 and 10 rules taking turns run by run. Writes rules.json and the Rules section of latest.md.
 */
async function runRulesScenarios(variants, all, root, opts, thingportGit) {
  const started = Date.now();
  const result = { date: new Date().toISOString(), thingportGit, machine: machineInfo(all), options: { ...opts, out: undefined } };
  let maxOther = 0;
  for (const variant of variants) {
    log(`\n== ${variant.title}`);
    if (variant.test === 'rule-eval') {
      let quiet = null;
      if (opts.waitQuiet) quiet = await waitQuiet(60);
      const b0 = machineBusySeconds();
      const t0 = Date.now();
      result.eval = await runRuleEval(root, opts);
      // Everything but the benchmark process: the machine's busy CPU over the run minus that process's CPU.
      result.eval.otherCpu = Math.max(0, ((machineBusySeconds() - b0 - (result.eval.cpuSeconds ?? 0)) / ((Date.now() - t0) / 1000)) * 100);
      result.eval.quiet = quiet;
      maxOther = Math.max(maxOther, result.eval.otherCpu);
      const e = result.eval;
      log(e.sql ? `   compiled rule ${Math.round(e.sql.rate).toLocaleString('en-US')} evaluations/s; engine, 1 rule ${Math.round(e.engine1.rate).toLocaleString('en-US')}/s; 10 rules ${Math.round(e.engine10.rate).toLocaleString('en-US')}/s${e.ok ? '' : ` — ${e.problems.join('; ')}`}` : `   FAILED: ${e.problems.join('; ')}`);
      continue;
    }
    const configs = variant.ruleConfigs.map((c) => qos0Variant(variant, c));
    const records = [];
    const discarded = [];
    for (let r = 0; r < opts.runs; r++) {
      for (const cfg of configs) {
        const rec = await runWithRetries(cfg, all.thingport, r, opts.runs, opts, records, discarded, ruleLabel(cfg));
        if (typeof rec.otherCpu === 'number') maxOther = Math.max(maxOther, rec.otherCpu);
        await sleep(100);
      }
    }
    result.qos0 = { configs: configs.map((c) => ({ key: c.key, rules: c.rules, distinct: c.distinct })), records, discarded };
  }
  result.elapsedS = (Date.now() - started) / 1000;
  if (maxOther > NOISY_CPU) result.note = `other processes used up to ${maxOther.toFixed(0)}% of a core while these numbers were measured (see "Other CPU" in rules.json); treat them as lower bounds.`;
  if (!existsSync(opts.out)) mkdirSync(opts.out, { recursive: true });
  const section = writeRulesResults(opts.out, result);
  log(`\n${section}`);
  log(`wrote the Rules section of ${path.relative(process.cwd(), path.join(opts.out, 'latest.md'))} and rules.json in ${result.elapsedS.toFixed(0)} s`);
}

main().catch((err) => {
  console.error(err.stack ?? String(err));
  process.exit(1);
});
