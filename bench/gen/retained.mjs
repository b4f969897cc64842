/**
 * Retained storm (g): publish `count` retained messages on distinct topics (QoS 1, waiting for
 * every PUBACK), then one fresh client subscribes to `#` and we time until every retained
 * message has arrived. Each topic must arrive exactly once with the retain flag set.
 */
import { encodePublishTemplate, encodeSubscribe, stampPublishes, payloadSeq, DISCONNECT } from './wire.mjs';
import { Owner, connectClients, closeAll, measureWindow, now, sleep } from './common.mjs';

class RetainedOwner extends Owner {
  constructor(count) {
    super();
    this.count = count;
    this.got = new Uint8Array(count);
    this.unique = 0;
    this.dups = 0;
    this.notRetained = 0;
    this.stray = 0;
    this.lastAt = 0;
    this.unacked = 0;
    this.acked = 0;
    this.pump = null;
  }

  onPublish(_conn, buf, p, _qos, retain) {
    const i = payloadSeq(buf, p);
    if (i >= this.count) {
      this.stray++;
      return;
    }
    if (!retain) this.notRetained++;
    if (this.got[i]++ === 0) {
      this.unique++;
      this.lastAt = now();
    } else this.dups++;
    if (this.unique === this.count) this.wake();
  }

  onPuback() {
    this.unacked--;
    this.acked++;
  }

  afterData() {
    if (this.pump) this.pump();
    this.wake();
  }
}

/** params: { count, qos, subQos, window, timeoutMs, clientPrefix } */
export async function runRetained({ port, brokerPid, params }) {
  const count = params.count ?? 10_000;
  const window = params.window ?? 100;
  const subQos = params.subQos ?? 1;
  const owner = new RetainedOwner(count);
  const prefix = params.clientPrefix ?? `bench-${process.pid}`;
  const pub = await connectClients(owner, [{ clientId: `${prefix}-rp` }], port);
  const pubConn = pub.conns[0];

  // Phase 1: publish the retained set, at most `window` unacknowledged.
  let sent = 0;
  const t0 = now();
  owner.pump = () => {
    let n = Math.min(window - owner.unacked, count - sent);
    const parts = [];
    for (; n > 0; n--, sent++) {
      const tpl = encodePublishTemplate(`bench/ret/${Math.floor(sent / 100)}/${sent}`, 1, { retain: true });
      // Sequence = topic index; its packet id is unique within the window.
      parts.push(stampPublishes(tpl, 0, sent, 1, 0));
      owner.unacked++;
    }
    if (parts.length > 0) pubConn.write(Buffer.concat(parts));
  };
  owner.pump();
  await owner.until(() => owner.acked >= count || owner.closedConns > 0, 60_000, `PUBACKs for ${count} retained messages`);
  owner.pump = null;
  const publishMs = now() - t0;

  // Phase 2: a fresh client subscribes to '#'.
  await sleep(200);
  const sub = await connectClients(owner, [{ clientId: `${prefix}-rs` }], port, { firstIndex: 1 });
  const win = measureWindow(brokerPid);
  win.begin();
  const t1 = now();
  sub.conns[0].write(encodeSubscribe(1, '#', subQos));
  let timedOut = false;
  try {
    await owner.until(() => owner.unique >= count || owner.closedConns > 0, params.timeoutMs ?? 30_000, `${count} retained messages`);
  } catch {
    timedOut = true;
  }
  const w = win.end();
  const allMs = owner.lastAt - t1;
  await sleep(200); // catch late duplicates
  const brokerClosed = owner.closedConns;
  for (const c of [pubConn, ...sub.conns]) c.write(DISCONNECT);
  await sleep(50);
  closeAll([pubConn, ...sub.conns]);

  const problems = [];
  if (owner.unique < count) problems.push(`${count - owner.unique} of ${count} retained messages never arrived${timedOut ? ' (timed out)' : ''}`);
  if (owner.dups > 0) problems.push(`${owner.dups} duplicate retained deliveries`);
  if (owner.notRetained > 0) problems.push(`${owner.notRetained} deliveries without the retain flag`);
  if (owner.stray > 0) problems.push(`${owner.stray} unexpected messages`);
  if (brokerClosed > 0) problems.push(`broker closed ${brokerClosed} connection(s)`);
  return {
    ok: problems.length === 0,
    problems,
    value: allMs,
    unit: 'ms',
    publishMs,
    publishRate: (count / publishMs) * 1000,
    deliverMs: allMs,
    deliverRate: (owner.unique / Math.max(allMs, 0.001)) * 1000,
    seconds: w.seconds,
    brokerCpu: w.brokerCpu,
    otherCpu: w.otherCpu,
    genCpu: w.genCpu,
    brokerMem: w.brokerMem,
    totals: { retained: count, received: owner.unique, duplicates: owner.dups },
  };
}
