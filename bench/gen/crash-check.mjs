/**
 * Crash check (f, bounded): QoS 1 publishing to a persistent session (clean session 0), the
 * broker killed with SIGKILL mid-run, restarted on the same data directory and port, and the
 * subscriber reconnected with the same client id. Every message whose PUBACK the publisher
 * received must reach the subscriber, before the kill or after the restart.
 *
 * Timeline: the subscriber is online for `offlineAtMs`, then disconnects (its session and
 * subscription stay), so later messages can only survive in the broker's stored queue; at
 * `killAtMs` the orchestrator kills the broker while the publisher is still sending.
 */
import { encodePublishTemplate, stampPublishes, payloadSeq, pidForSeq, DISCONNECT } from './wire.mjs';
import { Owner, SetupError, connectClients, closeAll, now, sleep } from './common.mjs';

const TOPIC = 'bench/durable/check';

class CrashOwner extends Owner {
  constructor(max, window) {
    super();
    this.max = max;
    this.window = window;
    this.acked = new Uint8Array(max);
    this.got = new Uint8Array(max);
    this.pidToSeq = new Int32Array(65536).fill(-1);
    this.seq = 0;
    this.unacked = 0;
    this.ackedCount = 0;
    this.uniqueBefore = 0;
    this.uniqueAfter = 0;
    this.dups = 0;
    this.stray = 0;
    this.phase = 'before';
    this.lastAt = 0;
    this.sending = false;
    this.subOnline = true;
    this.pubConn = null;
    this.tpl = encodePublishTemplate(TOPIC, 1);
    this.sessionPresent = null;
  }

  onConnack(conn, rc, sessionPresent) {
    if (conn.index === 2) this.sessionPresent = sessionPresent === 1;
    super.onConnack(conn, rc);
  }

  onPublish(_conn, buf, p) {
    const seq = payloadSeq(buf, p);
    if (seq >= this.max) {
      this.stray++;
      return;
    }
    this.lastAt = now();
    if (this.got[seq]++ === 0) {
      if (this.phase === 'before') this.uniqueBefore++;
      else this.uniqueAfter++;
    } else this.dups++;
  }

  onPuback(conn, pid) {
    if (conn.index !== 0) return;
    const seq = this.pidToSeq[pid];
    if (seq < 0) return;
    this.pidToSeq[pid] = -1;
    this.unacked--;
    if (this.acked[seq] === 0) {
      this.acked[seq] = 1;
      this.ackedCount++;
    }
  }

  afterData() {
    this.pump();
  }

  onDrain() {
    this.pump();
  }

  pump() {
    const conn = this.pubConn;
    if (!this.sending || conn === null || conn.closed || conn.blocked) return;
    let n = Math.min(this.window - this.unacked, this.max - this.seq, 100);
    // While the subscriber is online, keep its backlog under the brokers' queue limits.
    if (this.subOnline) n = Math.min(n, 800 - (this.seq - this.uniqueBefore));
    if (n <= 0) return;
    for (let k = 0; k < n; k++) this.pidToSeq[pidForSeq(this.seq + k)] = this.seq + k;
    conn.write(stampPublishes(this.tpl, 0, this.seq, n, now()));
    this.seq += n;
    this.unacked += n;
  }
}

/** params: { offlineAtMs, killAtMs, maxMessages, window, quietMs, clientPrefix } */
export async function runCrashCheck({ port, params, send, nextMessage }) {
  const max = params.maxMessages ?? 200_000;
  const owner = new CrashOwner(max, params.window ?? 100);
  const prefix = params.clientPrefix ?? `bench-${process.pid}`;
  const subId = `${prefix}-durable-sub`;
  const sub = await connectClients(owner, [{ clientId: subId, clean: false, topic: TOPIC, qos: 1 }], port, { firstIndex: 1 });
  const pub = await connectClients(owner, [{ clientId: `${prefix}-durable-pub` }], port, { firstIndex: 0 });
  owner.pubConn = pub.conns[0];
  const tick = setInterval(() => owner.pump(), 5);
  owner.sending = true;
  owner.pump();

  await sleep(params.offlineAtMs ?? 1000);
  owner.subOnline = false;
  sub.conns[0].write(DISCONNECT);
  await sleep(50);
  sub.conns[0].destroy();
  const sentAtOffline = owner.seq;
  await sleep((params.killAtMs ?? 2000) - (params.offlineAtMs ?? 1000));
  const sentAtKill = owner.seq;
  const ackedAtKill = owner.ackedCount;
  send({ type: 'kill-broker' });
  const restarted = await nextMessage();
  owner.sending = false;
  clearInterval(tick);
  owner.pubConn.destroy();
  if (restarted.cmd !== 'broker-restarted') throw new SetupError(`broker restart failed: ${restarted.message ?? restarted.cmd}`);
  const ackedTotal = owner.ackedCount; // PUBACKs that arrived before the socket died

  owner.phase = 'after';
  owner.closedConns = 0;
  owner.refused = 0;
  const t0 = now();
  owner.lastAt = t0;
  const again = await connectClients(owner, [{ clientId: subId, clean: false }], restarted.port, { firstIndex: 2 });
  // Collect until the stream has been quiet for quietMs (bounded by 30 s).
  const quietMs = params.quietMs ?? 2000;
  while (now() - owner.lastAt < quietMs && now() - t0 < 30_000) await sleep(50);
  again.conns[0].write(DISCONNECT);
  await sleep(50);
  closeAll(again.conns);

  let lost = 0;
  let firstLost = -1;
  for (let s = 0; s < owner.seq; s++) {
    if (owner.acked[s] === 1 && owner.got[s] === 0) {
      lost++;
      if (firstLost < 0) firstLost = s;
    }
  }
  const problems = [];
  if (lost > 0) problems.push(`${lost} PUBACKed messages lost across kill -9 (first lost seq ${firstLost})`);
  if (owner.stray > 0) problems.push(`${owner.stray} unexpected messages`);
  return {
    ok: problems.length === 0,
    problems,
    value: lost,
    unit: 'lost',
    lost,
    published: owner.seq,
    sentWhileOnline: sentAtOffline,
    sentAtKill,
    ackedAtKill,
    acked: ackedTotal,
    receivedBeforeKill: owner.uniqueBefore,
    receivedAfterRestart: owner.uniqueAfter,
    duplicates: owner.dups,
    sessionPresent: owner.sessionPresent,
    restartMs: restarted.restartMs,
  };
}
