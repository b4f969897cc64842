/**
 * PUBACKs wait for the store batch that holds their message [MQTT-4.6.0-2 order; durability]: with a
 * batch held back a turn (store-write-behind.ts), the commit of an earlier batch must not release
 * the PUBACK of a message recorded into a later one. Driven through a real Broker and Connection with
 * an in-memory transport and a store whose batches the test closes and commits by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import { mqttConfigSchema } from '../core/index.js';
import { createLogger } from '../lib/index.js';
import { Broker } from './broker.js';
import type { BrokerSnapshot, BrokerStore } from './store.js';
import type { Transport, TransportEvents } from './transport.js';

/** A store whose batches close and commit only when the test says so. */
class ManualStore implements BrokerStore {
  private open = 0;
  private readonly pending = new Map<number, { ops: number; cbs: (() => void)[] }>();
  get dirty(): boolean {
    return this.pending.size > 0;
  }
  get batch(): number {
    return this.open;
  }
  load(): BrokerSnapshot {
    return { sessions: [], subscriptions: [], retained: [], queued: [], incomingQos2: [] };
  }
  putQueued(): void {
    this.current().ops++;
  }
  putSession(): void {}
  deleteSession(): void {}
  putSubscription(): void {}
  deleteSubscription(): void {}
  putRetained(): void {}
  deleteRetained(): void {}
  updateQueued(): void {}
  deleteQueued(): void {}
  putIncomingQos2(): void {}
  deleteIncomingQos2(): void {}
  flush(): void {}
  close(): void {}
  afterFlush(cb: () => void): void {
    if (this.pending.size === 0) cb();
    else this.current().cbs.push(cb);
  }
  /** The end of a turn: later changes go into a new batch. */
  closeBatch(): number {
    return this.open++;
  }
  commit(id: number): void {
    const b = this.pending.get(id);
    assert.ok(b !== undefined, `batch ${id} pending`);
    this.pending.delete(id);
    for (const cb of b.cbs) cb();
  }
  private current(): { ops: number; cbs: (() => void)[] } {
    let b = this.pending.get(this.open);
    if (b === undefined) this.pending.set(this.open, (b = { ops: 0, cbs: [] }));
    return b;
  }
}

class MemoryTransport implements Transport {
  readonly kind = 'tcp' as const;
  readonly httpRequest = null;
  readonly serverName = null;
  readonly remoteAddress = '127.0.0.1';
  readonly remotePort = 1;
  readonly peerCertificate = null;
  readonly writableLength = 0;
  events: TransportEvents | null = null;
  readonly packets: mqttPacket.Packet[] = [];
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 });
  constructor() {
    this.parser.on('packet', (p) => this.packets.push(p));
  }
  bind(events: TransportEvents): void {
    this.events = events;
  }
  write(buf: Buffer): boolean {
    this.parser.parse(buf);
    return true;
  }
  cork(): void {}
  uncork(): void {}
  pause(): void {}
  resume(): void {}
  end(): void {
    this.destroy();
  }
  destroy(): void {
    const e = this.events;
    this.events = null;
    if (e !== null) setImmediate(() => e.onClose());
  }
  send(p: mqttPacket.Packet): void {
    this.events!.onData(mqttPacket.generate(p));
  }
  pubackIds(): number[] {
    return this.packets.filter((p) => p.cmd === 'puback').map((p) => (p as mqttPacket.IPubackPacket).messageId!);
  }
}

const flushTicks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('broker: a PUBACK waits for the batch its message went into, not an earlier one that commits first', async () => {
  const store = new ManualStore();
  const broker = new Broker({ config: mqttConfigSchema.parse({}), logger: createLogger('silent'), store });
  const connect = (clientId: string, clean: boolean): MemoryTransport => {
    const t = new MemoryTransport();
    broker.accept(t);
    t.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean, clientId, keepalive: 0 });
    return t;
  };
  const sub = connect('durable-sub', false);
  sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 't', qos: 1 }] });
  const pub = connect('pub', true);
  await flushTicks();
  const publish = (id: number): void =>
    pub.send({ cmd: 'publish', topic: 't', payload: Buffer.from(`m${id}`), qos: 1, messageId: id, dup: false, retain: false });

  publish(1);
  const first = store.closeBatch();
  publish(2); // recorded into the next batch while PUBACK 1 still waits
  await flushTicks();
  assert.deepEqual(pub.pubackIds(), [], 'nothing committed yet');
  store.commit(first);
  await flushTicks();
  assert.deepEqual(pub.pubackIds(), [1], 'only the message of the committed batch is acknowledged');
  const second = store.closeBatch();
  store.commit(second);
  await flushTicks();
  assert.deepEqual(pub.pubackIds(), [1, 2]);
  await broker.close();
});
