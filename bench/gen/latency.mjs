/**
 * Latency scenario (d): QoS 1 at a fixed total rate (default 10,000 msg/s) over `pairs`
 * publisher/subscriber pairs. Each message carries its *intended* send time (from the
 * schedule, not from when the generator got round to sending it), so a broker stall delays
 * every message scheduled behind it and shows in the percentiles: no coordinated omission.
 * The generator's own lateness (actual minus intended send time) is reported beside it.
 */
import { encodePublishTemplate, stampPublishes, payloadPublisher, payloadSeq, payloadTime, DISCONNECT } from './wire.mjs';
import { Owner, connectClients, closeAll, measureWindow, now, sleep } from './common.mjs';

class LatencyOwner extends Owner {
  constructor(pairs, window, capacity) {
    super();
    this.pairs = pairs;
    this.window = window;
    this.seq = new Uint32Array(pairs);
    this.unacked = new Int32Array(pairs);
    this.next = new Uint32Array(pairs);
    this.gaps = 0;
    this.dups = 0;
    this.stray = 0;
    this.delivered = 0;
    this.lat = new Float64Array(capacity);
    this.latCount = 0;
    this.lag = new Float64Array(capacity);
    this.lagCount = 0;
    this.recordFrom = Infinity;
    this.recordTo = Infinity;
    this.t0 = 0;
    this.interval = 1;
    this.sending = false;
    this.templates = [];
    this.pubConns = [];
  }

  onPublish(conn, buf, p, _qos, _retain, _ts, _te, arrived) {
    const s = conn.index - this.pairs;
    const pub = payloadPublisher(buf, p);
    if (s < 0 || pub !== s) {
      this.stray++;
      return;
    }
    const seq = payloadSeq(buf, p);
    const exp = this.next[s];
    if (seq === exp) this.next[s] = exp + 1;
    else if (seq > exp) {
      this.gaps += seq - exp;
      this.next[s] = seq + 1;
    } else {
      this.dups++;
      return;
    }
    this.delivered++;
    const intended = payloadTime(buf, p);
    if (intended >= this.recordFrom && intended < this.recordTo && this.latCount < this.lat.length) {
      this.lat[this.latCount++] = arrived - intended;
    }
  }

  onPuback(conn) {
    if (conn.index < this.pairs) this.unacked[conn.index]--;
  }

  afterData(conn) {
    if (conn.index < this.pairs) this.tick();
  }

  tick() {
    if (!this.sending) return;
    const t = now();
    const slots = (t - this.t0) / this.interval;
    for (let p = 0; p < this.pairs; p++) {
      const conn = this.pubConns[p];
      // Publisher p's k-th message is due at t0 + (k + p/pairs) * interval.
      const due = Math.floor(slots - p / this.pairs) + 1;
      let n = Math.min(due - this.seq[p], this.window - this.unacked[p]);
      if (n <= 0 || conn.closed) continue;
      const first = this.seq[p];
      const intended0 = this.t0 + (first + p / this.pairs) * this.interval;
      conn.write(stampPublishes(this.templates[p], p, first, n, intended0, this.interval));
      for (let k = 0; k < n; k++) {
        const intended = intended0 + k * this.interval;
        if (intended >= this.recordFrom && intended < this.recordTo && this.lagCount < this.lag.length) {
          this.lag[this.lagCount++] = t - intended;
        }
      }
      this.seq[p] += n;
      this.unacked[p] += n;
    }
  }
}

/** params: { rate, pairs, warmupMs, durationMs, window, clientPrefix } */
export async function runLatency({ port, brokerPid, params }) {
  const pairs = params.pairs ?? 10;
  const rate = params.rate ?? 10_000;
  const capacity = Math.ceil((rate * (params.durationMs + 1000)) / 1000);
  const owner = new LatencyOwner(pairs, params.window ?? 100, capacity);
  owner.interval = (1000 * pairs) / rate; // ms between messages of one publisher
  const prefix = params.clientPrefix ?? `bench-${process.pid}`;
  const subs = await connectClients(
    owner,
    Array.from({ length: pairs }, (_, s) => ({ clientId: `${prefix}-ls${s}`, topic: `bench/lat/${s}`, qos: 1 })),
    port,
    { firstIndex: pairs, clock: now },
  );
  const pubs = await connectClients(owner, Array.from({ length: pairs }, (_, p) => ({ clientId: `${prefix}-lp${p}` })), port, { firstIndex: 0, clock: now });
  owner.pubConns = pubs.conns;
  for (let p = 0; p < pairs; p++) owner.templates.push(encodePublishTemplate(`bench/lat/${p}`, 1));

  owner.t0 = now() + 5;
  owner.recordFrom = owner.t0 + params.warmupMs;
  owner.recordTo = owner.recordFrom + params.durationMs;
  owner.sending = true;
  const timer = setInterval(() => owner.tick(), 1);
  await sleep(owner.recordFrom - now());
  const window = measureWindow(brokerPid);
  window.begin();
  const d0 = owner.delivered;
  await sleep(owner.recordTo - now());
  const w = window.end();
  const delivered = owner.delivered - d0;
  owner.sending = false;
  clearInterval(timer);

  // Wait for everything sent to arrive and be acknowledged (or 2 s).
  const sent = () => owner.seq.reduce((a, b) => a + b, 0);
  const pending = () => owner.unacked.reduce((a, b) => a + b, 0);
  const deadline = now() + 2000;
  while ((owner.delivered + owner.gaps < sent() || pending() > 0) && now() < deadline) await sleep(10);
  let tail = 0;
  for (let p = 0; p < pairs; p++) tail += owner.seq[p] - owner.next[p];
  let unacked = 0;
  for (let p = 0; p < pairs; p++) unacked += owner.unacked[p];
  const brokerClosed = owner.closedConns;
  for (const c of [...pubs.conns, ...subs.conns]) c.write(DISCONNECT);
  await sleep(50);
  closeAll(pubs.conns);
  closeAll(subs.conns);

  const lat = sorted(owner.lat, owner.latCount);
  const lag = sorted(owner.lag, owner.lagCount);
  const expected = Math.round((rate * params.durationMs) / 1000);
  const missing = owner.gaps + tail;
  const problems = [];
  if (missing > 0) problems.push(`${missing} messages missing`);
  if (owner.stray > 0) problems.push(`${owner.stray} messages delivered to the wrong subscriber`);
  if (unacked > 0) problems.push(`${unacked} PUBACKs never arrived`);
  if (brokerClosed > 0) problems.push(`broker closed ${brokerClosed} connection(s)`);
  if (lat.length < expected * 0.99) problems.push(`only ${lat.length} of ${expected} scheduled messages measured`);
  return {
    ok: problems.length === 0,
    problems,
    value: pct(lat, 0.99),
    unit: 'ms p99',
    latency: { p50: pct(lat, 0.5), p90: pct(lat, 0.9), p99: pct(lat, 0.99), p999: pct(lat, 0.999), max: lat.length ? lat[lat.length - 1] : null, samples: lat.length },
    sendLag: { p50: pct(lag, 0.5), p99: pct(lag, 0.99), max: lag.length ? lag[lag.length - 1] : null },
    delivered,
    deliveredPerSecond: delivered / w.seconds,
    seconds: w.seconds,
    brokerCpu: w.brokerCpu,
    otherCpu: w.otherCpu,
    genCpu: w.genCpu,
    brokerMem: w.brokerMem,
    totals: { sent: sent(), duplicates: owner.dups, missing },
  };
}

function sorted(arr, n) {
  return Float64Array.from(arr.subarray(0, n)).sort();
}

function pct(sortedArr, q) {
  if (sortedArr.length === 0) return null;
  return sortedArr[Math.min(sortedArr.length - 1, Math.floor(q * sortedArr.length))];
}
