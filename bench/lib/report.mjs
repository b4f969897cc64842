/**
 * Turns run records into the summary (medians of passing runs, min–max, CPU, peak RSS) and
 * renders bench/results/latest.md.
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { ROOT } from './brokers.mjs';
import os from 'node:os';

/** The checkout's commit and whether src/ differs from it (read-only git calls). */
export function gitState() {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return { commit, dirty };
  } catch {
    return null;
  }
}

export function machineInfo(brokers) {
  let cpuModel = 'unknown';
  try {
    const m = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpuModel = m[1].trim();
  } catch {
    // not Linux
  }
  let osName = `${os.type()} ${os.release()}`;
  try {
    const m = /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'));
    if (m) osName = `${m[1]}, kernel ${os.release()}`;
  } catch {
    // keep uname
  }
  return {
    cores: os.cpus().length,
    cpuModel,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: osName,
    node: process.version,
    thingport: brokers.thingport?.version ?? null,
    thingportGit: gitState(),
    mosquitto: brokers.mosquitto?.version ?? null,
    mosquittoMissing: brokers.mosquitto?.missing ?? null,
    aedes: brokers.aedes?.version ?? null,
    aedesPersistence: brokers.aedes?.persistenceVersion ?? null,
    aedesMissing: brokers.aedes?.missing ?? null,
  };
}

function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

function extreme(xs, fn) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x));
  return v.length ? fn(...v) : null;
}

/** One summary row per (variant, broker). */
export function summarize(variants, brokers, records) {
  const rows = [];
  for (const v of variants) {
    for (const b of brokers) {
      const recs = records.filter((r) => r.variant === v.key && r.broker === b.name);
      const ok = recs.filter((r) => r.ok);
      const row = {
        variant: v.key,
        title: v.title,
        broker: b.name,
        better: v.better,
        missing: b.missing ?? null,
        runs: recs.length,
        okRuns: ok.length,
        unit: recs[0]?.unit ?? null,
        median: median(ok.map((r) => r.value)),
        min: extreme(ok.map((r) => r.value), Math.min),
        max: extreme(ok.map((r) => r.value), Math.max),
        brokerCpu: median(ok.map((r) => r.brokerCpu)),
        genCpu: median(ok.map((r) => r.genCpu)),
        otherCpu: extreme(recs.map((r) => r.otherCpu), Math.max),
        peakRssKb: extreme(recs.map((r) => r.peakRssKb), Math.max),
        problems: [...new Set(recs.flatMap((r) => r.problems ?? []))],
      };
      if (v.test === 'latency') {
        row.latency = {
          p50: median(ok.map((r) => r.latency?.p50)),
          p90: median(ok.map((r) => r.latency?.p90)),
          p99: median(ok.map((r) => r.latency?.p99)),
          p999: median(ok.map((r) => r.latency?.p999)),
          max: extreme(ok.map((r) => r.latency?.max), Math.max),
          maxMedian: median(ok.map((r) => r.latency?.max)),
          lagP99: median(ok.map((r) => r.sendLag?.p99)),
          lagMax: extreme(ok.map((r) => r.sendLag?.max), Math.max),
          rate: median(ok.map((r) => r.deliveredPerSecond)),
        };
      }
      if (v.test === 'idle') {
        row.idle = {
          connectRate: median(ok.map((r) => r.connectRate)),
          readyRate: median(ok.map((r) => r.readyRate)),
          rssBeforeKb: median(ok.map((r) => r.rssBeforeKb)),
          rssAfterKb: median(ok.map((r) => r.rssAfterKb)),
        };
      }
      if (v.test === 'retained') {
        row.retained = { publishMs: median(ok.map((r) => r.publishMs)), deliverRate: median(ok.map((r) => r.deliverRate)) };
      }
      if (v.test === 'crash-check') {
        row.crash = recs.map((r) => ({
          lost: r.lost ?? null,
          published: r.published ?? null,
          acked: r.acked ?? null,
          receivedBeforeKill: r.receivedBeforeKill ?? null,
          receivedAfterRestart: r.receivedAfterRestart ?? null,
          duplicates: r.duplicates ?? null,
          sessionPresent: r.sessionPresent ?? null,
          restartMs: r.restartMs ?? null,
          problems: r.problems ?? [],
        }));
      }
      rows.push(row);
    }
  }
  return rows;
}

/** "Other CPU %" above this (of one core) marks a run as measured on a busy machine. */
const NOISY_CPU = 25;

const fmtInt = (n) => (n === null || n === undefined ? '–' : Math.round(n).toLocaleString('en-US'));
const fmt2 = (n) => (n === null || n === undefined ? '–' : n.toFixed(2));
const fmt1 = (n) => (n === null || n === undefined ? '–' : n.toFixed(1));
const fmtMb = (kb) => (kb === null || kb === undefined ? '–' : (kb / 1024).toFixed(1));

function fmtValue(row, n) {
  if (n === null || n === undefined) return '–';
  if (row.unit === 'msg/s') return fmtInt(n);
  if (row.unit === 'ms' || row.unit === 'ms p99') return fmt2(n);
  if (row.unit === 'KB/conn') return fmt2(n);
  return String(n);
}

/** The headline cell for a row: median, or why there is none. */
function cell(row) {
  if (!row) return '–';
  if (row.missing) return 'missing';
  if (row.okRuns === 0) return `**FAILED** (0/${row.runs})`;
  const v = fmtValue(row, row.median);
  return row.okRuns < row.runs ? `${v} (**${row.runs - row.okRuns}/${row.runs} FAILED**)` : v;
}

/** Ratio of Thingport to the better peer, in the direction where > 1 means Thingport wins. */
function ratio(rows, variant) {
  const tp = rows.find((r) => r.variant === variant && r.broker === 'thingport');
  const peers = rows.filter((r) => r.variant === variant && r.broker !== 'thingport' && r.okRuns > 0 && r.median !== null);
  if (!tp || tp.okRuns === 0 || tp.median === null || peers.length === 0) return null;
  if (tp.better === 'higher') {
    const best = peers.reduce((a, b) => (b.median > a.median ? b : a));
    return { value: tp.median / best.median, best: best.broker };
  }
  const best = peers.reduce((a, b) => (b.median < a.median ? b : a));
  return { value: tp.median > 0 ? best.median / tp.median : null, best: best.broker };
}

/** The issue's target for a variant, and whether the summary meets it. */
function target(rows, variant) {
  const tp = rows.find((r) => r.variant === variant && r.broker === 'thingport');
  if (!tp || tp.okRuns === 0) return { text: '', met: null };
  if (/^[abc]-/.test(variant)) {
    const r = ratio(rows, variant);
    return { text: '≥ 1.5x best peer', met: r ? r.value >= 1.5 : null };
  }
  if (variant === 'd') {
    const mq = rows.find((r) => r.variant === 'd' && r.broker === 'mosquitto');
    const p99ok = mq && mq.okRuns > 0 ? tp.latency.p99 <= mq.latency.p99 : null;
    const maxOk = tp.latency.max !== null ? tp.latency.max < 20 : null;
    return { text: 'p99 ≤ Mosquitto, max < 20 ms', met: p99ok === null ? maxOk : p99ok && maxOk };
  }
  if (variant === 'e-conn' || variant === 'e-sub') {
    return { text: '≤ 4 KB/conn, ≥ 10,000 conn/s', met: tp.median <= 4 && tp.idle.connectRate >= 10_000 };
  }
  if (variant === 'f-durable') {
    const c = rows.find((r) => r.variant === 'c-qos1' && r.broker === 'thingport');
    if (!c || c.okRuns === 0) return { text: '≥ 50% of c QoS 1', met: null };
    return { text: `≥ 50% of c QoS 1 (${fmtInt(c.median)})`, met: tp.median >= 0.5 * c.median };
  }
  if (variant === 'f-crash') return { text: '0 lost', met: tp.okRuns === tp.runs && tp.median === 0 };
  return { text: '', met: null };
}

function table(header, rows) {
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const r of rows) lines.push(`| ${r.map((c) => String(c ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ')).join(' | ')} |`);
  return lines.join('\n');
}

export function renderMarkdown(result, variants) {
  const { machine, summary: rows, options: o } = result;
  const brokerNames = result.brokers.map((b) => b.name);
  const get = (variant, broker) => rows.find((r) => r.variant === variant && r.broker === broker);
  const out = [];
  out.push('# Thingport broker benchmark: latest results', '');
  out.push(`Generated by \`npm run bench\` (bench/run.mjs) on ${result.date}, in ${Math.round(result.elapsedS)} s. How to run it and what each column means: [bench/README.md](../README.md).`, '');
  out.push(`- **Machine:** ${machine.cores} cores, ${machine.cpuModel}, ${machine.memoryGiB} GiB RAM, ${machine.os}`);
  out.push(`- **Node:** ${machine.node}`);
  const git = machine.thingportGit ? `, commit ${machine.thingportGit.commit}${machine.thingportGit.dirty ? ' with uncommitted changes in src/' : ''}` : '';
  out.push(`- **Thingport:** ${machine.thingport} (this checkout's \`dist/\`${git}), durability always on (SQLite)`);
  out.push(`- **Mosquitto:** ${machine.mosquittoMissing ? `MISSING: ${machine.mosquittoMissing}` : `${machine.mosquitto} (Debian package), own config per run: anonymous, \`persistence false\`, \`max_queued_messages 0\` (f: \`persistence true\`, \`autosave_interval 1\`)`}`);
  out.push(`- **Aedes:** ${machine.aedesMissing ? `MISSING: ${machine.aedesMissing}` : `${machine.aedes} with aedes-persistence ${machine.aedesPersistence} (in memory: nothing survives a restart)`}`);
  out.push(`- **Settings:** ${o.runs} run(s) per scenario and broker (crash check: ${o.crashRuns}), ${o.warmup} s warm-up + ${o.duration} s measured per timed run, a fresh broker and generator process per run, MQTT 3.1.1, 64-byte payloads, loopback TCP`);
  const { waitedS: waited, repeatedS } = result.time ?? timeLost(result.records, result.discarded);
  if (waited > 5 || repeatedS > 0) {
    out.push(`- **Time:** ${Math.round(result.elapsedS)} s in all, of which ${Math.round(waited)} s waiting for other processes to go quiet and ${Math.round(repeatedS)} s in disturbed runs that were repeated`);
  }
  for (const u of result.updates ?? []) {
    const git = u.thingportGit ? ` (Thingport commit ${u.thingportGit.commit}${u.thingportGit.dirty ? ' with uncommitted changes in src/' : ''})` : '';
    out.push(`- **Updated** ${u.date}: re-ran ${u.variants.join(', ')} for ${u.brokers.join(', ')} with \`--update\`${git}, in ${Math.round(u.elapsedS)} s`);
  }
  const repeatedRuns = result.time?.repeatedRuns ?? result.discarded?.length ?? 0;
  if (repeatedRuns > 0) {
    out.push(`- **Repeated:** ${repeatedRuns} run(s) were disturbed by other processes (over ${NOISY_CPU}% of a core during the measured window) and run again; the discarded ones are in latest.json`);
  }
  out.push('');
  out.push('Medians are over passing runs only; a run with a missing, duplicated (QoS 0) or misrouted message, or a broker crash, is FAILED and not averaged in.', '');

  out.push('## Summary', '');
  const sumRows = [];
  for (const v of variants) {
    const r = ratio(rows, v.key);
    const t = target(rows, v.key);
    const unit = get(v.key, brokerNames[0])?.unit ?? '';
    sumRows.push([
      v.title,
      unit,
      ...brokerNames.map((b) => cell(get(v.key, b))),
      r && r.value !== null ? `${r.value.toFixed(2)}x (vs ${r.best})` : '–',
      t.text ? `${t.text}: ${t.met === null ? '?' : t.met ? 'met' : '**missed**'}` : '',
    ]);
  }
  out.push(table(['Scenario', 'Unit', ...brokerNames.map(cap), 'Thingport vs best peer', 'Target'], sumRows), '');
  out.push('"Thingport vs best peer" is > 1 when Thingport is better (higher throughput, or lower latency / memory / time).', '');

  out.push('## All results', '');
  const detail = [];
  for (const v of variants) {
    for (const b of brokerNames) {
      const r = get(v.key, b);
      if (!r) continue;
      if (r.missing) {
        detail.push([v.title, cap(b), 'missing', '', '', '', '', '', '', r.missing]);
        continue;
      }
      detail.push([
        v.title,
        cap(b),
        cell(r),
        r.okRuns ? `${fmtValue(r, r.min)} – ${fmtValue(r, r.max)}` : '–',
        `${r.okRuns}/${r.runs}`,
        fmt1(r.brokerCpu),
        fmtMb(r.peakRssKb),
        fmt1(r.genCpu),
        fmt1(r.otherCpu),
        [...r.problems, ...limitNotes(r)].join('; '),
      ]);
    }
  }
  out.push(table(['Scenario', 'Broker', 'Median', 'Min – max', 'OK runs', 'Broker CPU %', 'Peak RSS MB', 'Gen CPU %', 'Other CPU % (max)', 'Failures / notes'], detail), '');
  const noisy = result.records.filter((r) => typeof r.otherCpu === 'number' && r.otherCpu > NOISY_CPU);
  if (noisy.length) {
    out.push(`**Warning:** in ${noisy.length} run(s) other processes or kernel work used more than ${NOISY_CPU}% of a core during the measured window (column "Other CPU"); those numbers may be low. Re-run on a quiet machine.`, '');
  }

  if (variants.some((v) => v.key === 'd')) {
    out.push('## d. Latency (QoS 1, 10,000 msg/s, 10 publisher/subscriber pairs)', '');
    out.push('Measured from each message\'s intended send time (its slot in the fixed-rate schedule) to its arrival, so a stall counts against every message queued behind it. Send lag is how late the generator itself was against that schedule (timer granularity); it is included in the latency.', '');
    const lr = brokerNames.map((b) => get('d', b)).filter((r) => r && !r.missing && r.latency);
    out.push(table(['Broker', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms (worst run)', 'delivered msg/s', 'gen send lag p99 / max ms'],
      lr.map((r) => [cap(r.broker), fmt2(r.latency.p50), fmt2(r.latency.p90), fmt2(r.latency.p99), fmt2(r.latency.p999), fmt2(r.latency.max), fmtInt(r.latency.rate), `${fmt2(r.latency.lagP99)} / ${fmt2(r.latency.lagMax)}`])), '');
  }

  const idleRows = ['e-conn', 'e-sub'].flatMap((k) => brokerNames.map((b) => get(k, b))).filter((r) => r && !r.missing && r.idle);
  if (idleRows.length) {
    out.push('## e. Idle connections (10,000)', '');
    out.push('RSS per connection = (broker RSS 1.5 s after the last connection is up − RSS before the first) / 10,000. Connect rate = 10,000 / time from the first connect to the last CONNACK (64 handshakes in flight); ready rate also waits for the last SUBACK.', '');
    out.push(table(['Scenario', 'Broker', 'KB / connection', 'connect rate /s', 'ready rate /s', 'RSS before MB', 'RSS after MB', 'peak RSS MB'],
      idleRows.map((r) => [r.title, cap(r.broker), r.okRuns ? fmt2(r.median) : cell(r), fmtInt(r.idle.connectRate), fmtInt(r.idle.readyRate), fmtMb(r.idle.rssBeforeKb), fmtMb(r.idle.rssAfterKb), fmtMb(r.peakRssKb)])), '');
  }

  const crashRows = brokerNames.map((b) => get('f-crash', b)).filter((r) => r && !r.missing && r.crash);
  if (variants.some((v) => v.scenario === 'f')) {
    out.push('## f. Durability', '');
    const fd = brokerNames.map((b) => get('f-durable', b)).filter((r) => r && !r.missing);
    if (fd.length) {
      out.push('Pairwise QoS 1 with the subscribers on persistent sessions (clean session 0) and each broker\'s durability on: Thingport always (SQLite, acks wait for the commit); Mosquitto `persistence true`, `autosave_interval 1` (a snapshot of its in-memory state every second, no per-message log); Aedes has only its in-memory persistence.', '');
      out.push(table(['Broker', 'durable msg/s', 'vs its own c QoS 1', 'Broker CPU %', 'Peak RSS MB'], fd.map((r) => {
        const c = get('c-qos1', r.broker);
        const rel = c && c.okRuns && r.okRuns ? `${((r.median / c.median) * 100).toFixed(0)}%` : '–';
        return [cap(r.broker), cell(r), rel, fmt1(r.brokerCpu), fmtMb(r.peakRssKb)];
      })), '');
    }
    if (crashRows.length) {
      out.push('Crash check: one publisher sends QoS 1 (100 in flight) to a persistent session; the subscriber is online for 1 s, then offline (session kept); at 2 s the broker gets `kill -9`, is restarted on the same data directory and port, and the subscriber reconnects with the same client id (without subscribing again). Lost = messages whose PUBACK the publisher received that never reached the subscriber.', '');
      const cr = [];
      for (const r of crashRows) {
        r.crash.forEach((c, i) => cr.push([cap(r.broker), i + 1, fmtInt(c.published), fmtInt(c.acked), fmtInt(c.receivedBeforeKill), fmtInt(c.receivedAfterRestart), fmtInt(c.duplicates), c.sessionPresent === null ? '–' : c.sessionPresent ? 'yes' : 'no', c.lost === null ? '–' : c.lost === 0 ? '**0**' : `**${fmtInt(c.lost)}**`, c.problems.join('; ')]));
      }
      out.push(table(['Broker', 'Run', 'Published', 'PUBACKed', 'Received before kill', 'Received after restart', 'Duplicates', 'Session present', 'Lost (acked)', 'Notes'], cr), '');
    }
  }

  const gRows = brokerNames.map((b) => get('g', b)).filter((r) => r && !r.missing);
  if (gRows.length) {
    out.push("## g. Retained storm", '');
    out.push("10,000 retained messages on distinct topics (QoS 1, publisher waits for every PUBACK), then a fresh client subscribes to `#` at QoS 1. Time = SUBSCRIBE sent to the last of the 10,000 arriving. Queue limits are raised to 20,000 on Mosquitto and Thingport for this scenario, since the whole retained set passes through one client's queue.", '');
    out.push(table(['Broker', 'time to all ms', 'min – max', 'delivery msg/s', 'publish phase ms', 'Peak RSS MB'], gRows.map((r) => [cap(r.broker), cell(r), r.okRuns ? `${fmt2(r.min)} – ${fmt2(r.max)}` : '–', fmtInt(r.retained?.deliverRate), fmt2(r.retained?.publishMs), fmtMb(r.peakRssKb)])), '');
  }

  const head = headroom(rows, variants);
  if (head.length) {
    out.push('## Generator headroom', '');
    out.push('The load generator is one Node process sharing the 2 cores with the broker. For each throughput scenario, against the fastest broker: the delivered rate, the generator\'s CPU in that run, and the rate the generator would sustain at 100% of one core (rate × 100 / gen CPU %). Where that capacity is well above the measured rate, the broker, not the generator, was the limit.', '');
    out.push(table(['Scenario', 'Fastest broker', 'msg/s', 'Gen CPU %', 'Broker CPU %', 'Gen capacity at 1 core, msg/s', 'Headroom'], head), '');
  }

  out.push('## Reading these numbers', '');
  out.push('- Every broker and the generator share 2 cores. Mosquitto is single-threaded, and Aedes and Thingport do their MQTT work on one Node thread: at ~100% "Broker CPU" a broker is at its limit (garbage collection and, in Thingport, SQLite work add a little above 100%).');
  out.push('- "Failures / notes" says when the generator, not the broker, was near a full core. Against Mosquitto the generator\'s CPU is high because Mosquitto writes every packet with its own `write()` (strace: about one per delivered message), so the generator reads many tiny chunks; Mosquitto itself is then at ~100% of its core.');
  out.push('- The peers run at their defaults apart from what bench/README.md lists (Mosquitto: `max_queued_messages 0`, and why). Scenario g raises the queue limits of Mosquitto and Thingport to 20,000.');
  out.push('');

  const failed = result.records.filter((r) => !r.ok);
  if (failed.length) {
    out.push('## Failed runs', '');
    for (const r of failed) {
      out.push(`- **${r.variant} / ${r.broker} / run ${r.run}:** ${r.problems.join('; ')}`);
      if (r.brokerLog) out.push('', '  ```', ...r.brokerLog.split('\n').slice(-8).map((l) => `  ${l.slice(0, 300)}`), '  ```');
    }
    out.push('');
  }
  return `${out.join('\n')}\n`;
}

/** Seconds spent waiting for a quiet machine, and in disturbed runs that were repeated. */
export function timeLost(records, discarded = []) {
  return {
    waitedS: [...records, ...discarded].reduce((a, r) => a + (r.waitedS ?? 0), 0),
    repeatedS: discarded.reduce((a, r) => a + (r.wallMs ?? 0) / 1000, 0),
    repeatedRuns: discarded.length,
  };
}

/**
 * Who limited a row: with the generator near a full core and the broker not, the result is
 * the generator's ceiling (a floor for the broker); with both near a full core, both were.
 */
function limitNotes(r) {
  if (typeof r.genCpu !== 'number' || typeof r.brokerCpu !== 'number' || r.okRuns === 0) return [];
  if (r.genCpu >= 90 && r.brokerCpu < 90) {
    const what = r.unit === 'KB/conn' ? 'connect rate' : 'result';
    return [`${what} generator-bound (broker had spare CPU): the broker may do better`];
  }
  if (r.genCpu >= 90) return ['broker and generator both near a full core'];
  return [];
}

function headroom(rows, variants) {
  const out = [];
  for (const v of variants) {
    if (v.test !== 'throughput') continue;
    const cands = rows.filter((r) => r.variant === v.key && r.okRuns > 0 && r.median !== null && r.genCpu);
    if (!cands.length) continue;
    const best = cands.reduce((a, b) => (b.median > a.median ? b : a));
    const capacity = (best.median * 100) / best.genCpu;
    out.push([v.title, cap(best.broker), fmtInt(best.median), fmt1(best.genCpu), fmt1(best.brokerCpu), fmtInt(capacity), `${(capacity / best.median).toFixed(2)}x`]);
  }
  return out;
}

function cap(s) {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
