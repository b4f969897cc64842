/**
 * Idle connections (e): open `count` MQTT connections (optionally one subscription each),
 * report the connect rate (connections per second to the last CONNACK, and to the last
 * SUBACK when subscribing) and the broker's resident memory per connection once they idle.
 * A probe then publishes to a sample of the subscribed topics to check the subscriptions
 * are real.
 */
import { encodePublishTemplate, stampPublishes, payloadSeq, DISCONNECT } from './wire.mjs';
import { Owner, connectClients, closeAll, measureWindow, now, sleep } from './common.mjs';
import { memoryKb } from '../lib/proc.mjs';

class IdleOwner extends Owner {
  constructor(count) {
    super();
    this.got = new Uint8Array(count);
    this.stray = 0;
    this.receivedProbes = 0;
  }

  onPublish(conn, buf, p) {
    const target = payloadSeq(buf, p);
    if (target !== conn.index) this.stray++;
    else if (this.got[target]++ === 0) this.receivedProbes++;
  }
}

/** params: { count, subscribe, concurrency, settleMs, probes, clientPrefix } */
export async function runIdle({ port, brokerPid, params }) {
  const count = params.count ?? 10_000;
  const owner = new IdleOwner(count);
  const prefix = params.clientPrefix ?? `bench-${process.pid}`;
  await sleep(300);
  const before = memoryKb(brokerPid);
  const specs = Array.from({ length: count }, (_, i) => ({
    clientId: `${prefix}-i${i}`,
    topic: params.subscribe ? `bench/idle/${i}` : undefined,
    qos: 0,
  }));
  const window = measureWindow(brokerPid);
  window.begin();
  const res = await connectClients(owner, specs, port, { concurrency: params.concurrency ?? 64, timeoutMs: 120_000 });
  const w = window.end();
  await sleep(params.settleMs ?? 2000);
  const after = memoryKb(brokerPid);

  const problems = [];
  if (owner.closedConns > 0) problems.push(`broker closed ${owner.closedConns} idle connection(s)`);
  let probesSent = 0;
  if (params.subscribe) {
    // Probe: one QoS 0 PUBLISH to each of `probes` evenly spread subscribers.
    const probe = await connectClients(owner, [{ clientId: `${prefix}-probe` }], port, { firstIndex: count });
    const n = Math.min(params.probes ?? 100, count);
    const parts = [];
    for (let k = 0; k < n; k++) {
      const target = Math.floor((k * count) / n);
      parts.push(stampPublishes(encodePublishTemplate(`bench/idle/${target}`, 0), 0, target, 1, now()));
    }
    probesSent = n;
    probe.conns[0].write(Buffer.concat(parts));
    const deadline = now() + 3000;
    while (owner.receivedProbes < n && now() < deadline) await sleep(10);
    if (owner.receivedProbes < n) problems.push(`${n - owner.receivedProbes} of ${n} probe messages did not reach their subscriber`);
    if (owner.stray > 0) problems.push(`${owner.stray} probe messages reached the wrong subscriber`);
    closeAll(probe.conns);
  }
  for (const c of res.conns) c.write(DISCONNECT);
  await sleep(100);
  closeAll(res.conns);

  const grewKb = after && before ? after.rssKb - before.rssKb : null;
  const perConnKb = grewKb === null ? null : grewKb / count;
  return {
    ok: problems.length === 0,
    problems,
    value: perConnKb,
    unit: 'KB/conn',
    perConnKb,
    connectRate: (count / res.connectMs) * 1000,
    readyRate: (count / res.readyMs) * 1000,
    rssBeforeKb: before?.rssKb ?? null,
    rssAfterKb: after?.rssKb ?? null,
    seconds: w.seconds,
    brokerCpu: w.brokerCpu,
    otherCpu: w.otherCpu,
    genCpu: w.genCpu,
    brokerMem: memoryKb(brokerPid) ?? w.brokerMem,
    totals: { connections: count, probesSent, probesReceived: owner.receivedProbes },
  };
}
