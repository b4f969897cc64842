/**
 * Shared generator plumbing: counted waits, bounded-concurrency connection setup and a
 * measured window that samples broker and generator CPU at its exact edges.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { Conn, encodeConnect, encodeSubscribe } from './wire.mjs';
import { cpuMeter, memoryKb, machineBusySeconds, cpuSeconds } from '../lib/proc.mjs';

export { sleep };
export const now = () => performance.now();

/** Thrown when a broker refuses or stalls setup; the run is reported failed with this text. */
export class SetupError extends Error {}

/**
 * Base for scenario owners: counts CONNACK/SUBACK and lets setup wait for a target count.
 * Subclasses override onPublish/onPuback as needed.
 */
export class Owner {
  constructor() {
    this.connacks = 0;
    this.subacks = 0;
    this.refused = 0;
    this.subFailures = 0;
    this.closedConns = 0;
    this.waiter = null;
  }

  onConnack(_conn, rc) {
    if (rc !== 0) this.refused++;
    this.connacks++;
    this.wake();
  }

  onSuback(_conn, _pid, granted) {
    if (granted === 0x80) this.subFailures++;
    this.subacks++;
    this.wake();
  }

  onPublish() {}
  onPuback() {}

  onClose() {
    this.closedConns++;
    this.wake();
  }

  wake() {
    if (this.waiter !== null && this.waiter.test()) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve();
    }
  }

  /** Resolves when `test()` holds; rejects with `what` after `timeoutMs` without it. */
  until(test, timeoutMs, what) {
    if (test()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new SetupError(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiter = {
        test,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
    });
  }
}

/**
 * Opens one connection per spec ({ clientId, clean, topic?, qos? }), sends CONNECT (and
 * SUBSCRIBE in the same write when `topic` is set) and waits for every CONNACK and SUBACK.
 * At most `concurrency` handshakes are outstanding at once. Returns the connections and
 * the time taken.
 */
export async function connectClients(owner, specs, port, { concurrency = 64, timeoutMs = 30_000, clock = null, firstIndex = 0 } = {}) {
  const conns = [];
  const t0 = now();
  const baseConnacks = owner.connacks;
  const baseSubacks = owner.subacks;
  const failures = [];
  let issuedSubs = 0;
  const done = () => owner.connacks - baseConnacks;
  const onError = (_conn, err) => {
    failures.push(err);
    owner.wake();
  };
  // Pipelined: up to `concurrency` TCP handshakes + CONNECTs in flight at once. New connections
  // are opened from the CONNACK that frees a slot (the wait's test runs on every CONNACK), not
  // from a promise per CONNACK: the generator's own cost per connection bounds the connect rate.
  const issue = () => {
    while (conns.length < specs.length && conns.length - done() < concurrency && failures.length === 0 && owner.closedConns === 0) {
      const spec = specs[conns.length];
      const conn = new Conn(owner, firstIndex + conns.length, { clock });
      let bytes = encodeConnect(spec.clientId, { clean: spec.clean !== false, keepalive: spec.keepalive ?? 600 });
      if (spec.topic) {
        bytes = Buffer.concat([bytes, encodeSubscribe(1, spec.topic, spec.qos ?? 0)]);
        issuedSubs++;
      }
      conn.start(port, bytes, onError);
      conns.push(conn);
    }
  };
  await owner.until(
    () => {
      issue();
      return done() >= specs.length || owner.closedConns > 0 || failures.length > 0;
    },
    timeoutMs,
    `all ${specs.length} CONNACKs`,
  );
  if (failures.length > 0) throw new SetupError(`connect failed: ${failures[0].message} (${done()} CONNACKs so far)`);
  if (owner.closedConns > 0) throw new SetupError(`broker closed a connection during setup (${done()} CONNACKs so far)`);
  const connectMs = now() - t0;
  if (owner.refused > 0) throw new SetupError(`${owner.refused} CONNECTs refused`);
  await owner.until(() => owner.subacks - baseSubacks >= issuedSubs, Math.max(1, t0 + timeoutMs - now()), `all ${issuedSubs} SUBACKs`);
  if (owner.subFailures > 0) throw new SetupError(`${owner.subFailures} SUBSCRIBEs refused (SUBACK 0x80)`);
  return { conns, connectMs, readyMs: now() - t0 };
}

/** Closes connections politely (DISCONNECT) or abruptly. */
export function closeAll(conns) {
  for (const c of conns) c.destroy();
}

/**
 * A measured window: CPU of broker and generator between `begin()` and `end()`, the rest of
 * the machine's busy CPU (other processes and kernel work not charged to either: a noisy
 * neighbour shows here), plus the broker's memory at the end.
 */
export function measureWindow(brokerPid) {
  const broker = cpuMeter(brokerPid);
  const gen = cpuMeter(process.pid);
  let t0 = 0;
  let busy0 = 0;
  let own0 = 0;
  const own = () => (cpuSeconds(brokerPid) ?? 0) + (cpuSeconds(process.pid) ?? 0);
  return {
    begin() {
      broker.start();
      gen.start();
      busy0 = machineBusySeconds() ?? 0;
      own0 = own();
      t0 = now();
    },
    end() {
      const seconds = (now() - t0) / 1000;
      const busy = (machineBusySeconds() ?? 0) - busy0;
      const otherCpu = ((busy - (own() - own0)) / seconds) * 100;
      // Clock-tick granularity (10 ms) makes the difference meaningless over short windows.
      const other = seconds >= 1 ? Math.max(0, otherCpu) : null;
      return { seconds, brokerCpu: broker.stop(), genCpu: gen.stop(), otherCpu: other, brokerMem: memoryKb(brokerPid) };
    },
  };
}
