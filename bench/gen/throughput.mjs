/**
 * Throughput scenarios (a fan-in, b fan-out, c pairwise, f durable pairwise): publishers send
 * as fast as the broker lets them and the subscribers' delivered count is the result.
 *
 * Flow control, so the generator measures the broker rather than filling socket buffers:
 *  - QoS 1: at most `window` unacknowledged PUBLISHes per publisher (the broker's Receive
 *    Maximum; Thingport's default is 100).
 *  - Both QoS: at most `outstanding` messages per subscriber between send and receipt, so the
 *    broker's per-client queues never reach their limit (Mosquitto and Thingport queue 1000),
 *    and at most `total` deliveries owed across all subscribers, so the broker holds a
 *    bounded backlog (a deep backlog measures its memory behaviour, not its throughput).
 * Every delivery is checked against per-(publisher, subscriber) sequence numbers.
 */
import { encodePublishTemplate, encodeJsonPublishTemplate, stampPublishes, stampJsonPublishes, payloadPublisher, payloadSeq, jsonPayloadPublisher, jsonPayloadSeq, DISCONNECT } from './wire.mjs';
import { Owner, SetupError, connectClients, closeAll, measureWindow, now, sleep } from './common.mjs';

/**
 * Topology per scenario: who publishes where and who receives what. `sensors` (the rules
 * scenarios) renames the topics to `sensors/<publisher>/data`, what the rules' FROM matches.
 */
export function topology(kind, pairs, sensors = false) {
  if (kind === 'fan-in') {
    const pubs = 8;
    return {
      pubs,
      subs: 1,
      pubTopic: (p) => (sensors ? `sensors/${p}/data` : `bench/in/${p}`),
      subFilter: () => (sensors ? 'sensors/+/data' : 'bench/in/+'),
      routes: Array.from({ length: pubs }, () => [0]),
    };
  }
  if (kind === 'fan-out') {
    const subs = 100;
    return {
      pubs: 1,
      subs,
      pubTopic: () => 'bench/out',
      subFilter: () => 'bench/out',
      routes: [Array.from({ length: subs }, (_, s) => s)],
    };
  }
  if (kind === 'pairwise') {
    const n = pairs ?? 100;
    return {
      pubs: n,
      subs: n,
      pubTopic: (p) => (sensors ? `sensors/${p}/data` : `bench/pair/${p}`),
      subFilter: (s) => (sensors ? `sensors/${s}/data` : `bench/pair/${s}`),
      routes: Array.from({ length: n }, (_, p) => [p]),
    };
  }
  throw new Error(`unknown topology ${kind}`);
}

class ThroughputOwner extends Owner {
  constructor(topo, qos, { window, outstanding, total, batch, json }) {
    super();
    // JSON payloads (rules scenarios): the same checks, read from text instead of binary.
    this.readPublisher = json ? jsonPayloadPublisher : payloadPublisher;
    this.readSeq = json ? jsonPayloadSeq : payloadSeq;
    this.stamp = json ? stampJsonPublishes : stampPublishes;
    this.total = total;
    this.topo = topo;
    this.qos = qos;
    this.window = window;
    this.outstanding = outstanding;
    this.batch = batch;
    this.nPubs = topo.pubs;
    this.nSubs = topo.subs;
    this.pubConns = [];
    this.subConns = [];
    this.templates = [];
    this.seq = new Uint32Array(topo.pubs); // next sequence to send per publisher
    this.unacked = new Int32Array(topo.pubs);
    this.expected = new Float64Array(topo.subs); // messages sent towards each subscriber
    this.received = new Float64Array(topo.subs); // unique, in-order messages received
    this.next = new Uint32Array(topo.subs * topo.pubs); // next expected seq per stream
    this.totalExpected = 0;
    this.gaps = 0;
    this.gapsPerSub = new Float64Array(topo.subs); // skipped messages: owed no longer
    this.dups = 0;
    this.stray = 0;
    this.delivered = 0;
    this.pubacks = 0;
    this.sending = false;
    this.pumpScheduled = false;
    this.rr = 0;
    this.pumpFn = () => this.pump();
    this.subIndexBase = topo.pubs; // connection index of subscriber 0
  }

  onPublish(conn, buf, p) {
    const s = conn.index - this.subIndexBase;
    if (s < 0) {
      this.stray++;
      return;
    }
    const pub = this.readPublisher(buf, p);
    const seq = this.readSeq(buf, p);
    if (pub >= this.nPubs) {
      this.stray++;
      return;
    }
    const k = s * this.nPubs + pub;
    const exp = this.next[k];
    if (seq === exp) {
      this.next[k] = exp + 1;
    } else if (seq > exp) {
      this.gaps += seq - exp;
      this.gapsPerSub[s] += seq - exp;
      this.next[k] = seq + 1;
    } else {
      this.dups++;
      return;
    }
    this.received[s]++;
    this.delivered++;
  }

  onPuback(conn) {
    if (conn.index < this.nPubs) {
      this.unacked[conn.index]--;
      this.pubacks++;
    }
  }

  afterData() {
    this.kick();
  }

  onDrain() {
    this.kick();
  }

  kick() {
    if (this.sending && !this.pumpScheduled) {
      this.pumpScheduled = true;
      setImmediate(this.pumpFn);
    }
  }

  pump() {
    this.pumpScheduled = false;
    if (!this.sending) return;
    const routes = this.topo.routes;
    // Start with a different publisher each tick so a tight total budget is shared fairly.
    const first = this.rr++ % this.nPubs;
    for (let i = 0; i < this.nPubs; i++) {
      const p = (first + i) % this.nPubs;
      const conn = this.pubConns[p];
      if (conn.blocked || conn.closed) continue;
      let allowed = this.batch;
      if (this.qos > 0) allowed = Math.min(allowed, this.window - this.unacked[p]);
      const r = routes[p];
      const owedTotal = this.totalExpected - this.delivered - this.gaps;
      const byTotal = Math.floor((this.total - owedTotal) / r.length);
      if (byTotal < allowed) allowed = byTotal;
      for (let j = 0; j < r.length; j++) {
        const s = r[j];
        const room = this.outstanding - (this.expected[s] - this.received[s]);
        if (room < allowed) allowed = room;
      }
      if (allowed <= 0) continue;
      const bytes = this.stamp(this.templates[p], p, this.seq[p], allowed, now());
      this.seq[p] += allowed;
      if (this.qos > 0) this.unacked[p] += allowed;
      for (let j = 0; j < r.length; j++) this.expected[r[j]] += allowed;
      this.totalExpected += allowed * r.length;
      conn.write(bytes);
    }
  }

  /** Messages still owed to subscribers, and whether QoS 1 acks are all in. */
  settled() {
    let owed = 0;
    for (let s = 0; s < this.nSubs; s++) owed += this.expected[s] - this.received[s] - this.gapsPerSub[s];
    let unacked = 0;
    for (let p = 0; p < this.nPubs; p++) unacked += this.unacked[p];
    return { owed, unacked };
  }
}

/**
 * Runs one throughput measurement against a broker on `port`.
 * params: { kind, qos, warmupMs, durationMs, window, outstanding, batch, clean, clientPrefix, pairs }
 */
export async function runThroughput({ port, brokerPid, params }) {
  const json = params.payload === 'json';
  const topo = topology(params.kind, params.pairs, json);
  const owner = new ThroughputOwner(topo, params.qos, {
    window: params.window ?? 100,
    outstanding: params.outstanding ?? (params.qos > 0 ? 800 : 1000),
    total: params.total ?? 5000,
    batch: params.batch ?? 100,
    json,
  });
  const prefix = params.clientPrefix ?? `bench-${process.pid}`;
  const subSpecs = Array.from({ length: topo.subs }, (_, s) => ({
    clientId: `${prefix}-s${s}`,
    clean: params.clean !== false,
    topic: topo.subFilter(s),
    qos: params.qos,
  }));
  const pubSpecs = Array.from({ length: topo.pubs }, (_, p) => ({ clientId: `${prefix}-p${p}` }));
  // Publishers take connection indexes 0..pubs-1, subscribers pubs.. so routing is by index.
  const subs = await connectClients(owner, subSpecs, port, { firstIndex: topo.pubs });
  const pubs = await connectClients(owner, pubSpecs, port, { firstIndex: 0 });
  owner.subConns = subs.conns;
  owner.pubConns = pubs.conns;
  for (let p = 0; p < topo.pubs; p++) owner.templates.push(json ? encodeJsonPublishTemplate(topo.pubTopic(p), params.qos) : encodePublishTemplate(topo.pubTopic(p), params.qos));

  // Stall watchdog: no delivery progress for `stallMs` while messages are owed.
  const stallMs = params.stallMs ?? 3000;
  let lastDelivered = -1;
  let lastProgress = now();
  let stalled = null;
  const watchdog = setInterval(() => {
    if (owner.delivered !== lastDelivered || owner.closedConns > 0) {
      lastDelivered = owner.delivered;
      lastProgress = now();
    }
    if (owner.closedConns > 0 && stalled === null) stalled = `broker closed ${owner.closedConns} connection(s)`;
    const { owed, unacked } = owner.settled();
    if (stalled === null && (owed > 0 || unacked > 0) && now() - lastProgress > stallMs) {
      stalled = `no delivery for ${stallMs} ms with ${owed} messages owed and ${unacked} PUBACKs missing`;
    }
  }, 100);

  owner.sending = true;
  owner.kick();
  await sleep(params.warmupMs);
  const window = measureWindow(brokerPid);
  const d0 = owner.delivered;
  const s0 = sumSent(owner);
  window.begin();
  await sleep(params.durationMs);
  const w = window.end();
  const delivered = owner.delivered - d0;
  const sent = sumSent(owner) - s0;
  owner.sending = false;

  // Drain: wait for every owed message and PUBACK, or until progress stops.
  const drainStart = now();
  while (stalled === null) {
    const { owed, unacked } = owner.settled();
    if (owed === 0 && unacked === 0) break;
    if (now() - lastProgress > (params.drainMs ?? 2000)) break;
    await sleep(20);
  }
  const drainMs = now() - drainStart;
  clearInterval(watchdog);

  // Missing: gaps inside streams plus the tail never delivered.
  let tail = 0;
  for (let s = 0; s < topo.subs; s++) {
    for (let p = 0; p < topo.pubs; p++) {
      if (!topo.routes[p].includes(s)) continue;
      tail += owner.seq[p] - owner.next[s * topo.pubs + p];
    }
  }
  const { unacked } = owner.settled();
  for (const c of [...owner.pubConns, ...owner.subConns]) c.write(DISCONNECT);
  await sleep(50);
  closeAll(owner.pubConns);
  closeAll(owner.subConns);

  const missing = owner.gaps + tail;
  const problems = [];
  if (missing > 0) problems.push(`${missing} messages missing (${owner.gaps} in gaps/reordered, ${tail} never delivered)`);
  if (params.qos === 0 && owner.dups > 0) problems.push(`${owner.dups} duplicates at QoS 0`);
  if (owner.stray > 0) problems.push(`${owner.stray} messages delivered to the wrong subscriber`);
  if (unacked > 0) problems.push(`${unacked} PUBACKs never arrived`);
  if (stalled !== null) problems.push(`stalled: ${stalled}`);
  return {
    ok: problems.length === 0,
    problems,
    value: delivered / w.seconds,
    unit: 'msg/s',
    delivered,
    sentPerSecond: sent / w.seconds,
    seconds: w.seconds,
    brokerCpu: w.brokerCpu,
    otherCpu: w.otherCpu,
    genCpu: w.genCpu,
    brokerMem: w.brokerMem,
    totals: {
      sent: sumSent(owner),
      deliveredUnique: owner.delivered,
      duplicates: owner.dups,
      missing,
      pubacks: owner.pubacks,
      drainMs: Math.round(drainMs),
      setupMs: Math.round(subs.readyMs + pubs.readyMs),
    },
  };
}

function sumSent(owner) {
  let n = 0;
  for (let p = 0; p < owner.nPubs; p++) n += owner.seq[p];
  return n;
}

export { SetupError };
