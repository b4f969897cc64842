/**
 * A client session (MQTT section 4.1): subscriptions, the outbound queue and in-flight window, the
 * QoS 2 packet ids received, and the will. It outlives connections when the session expiry allows.
 * Pure state plus small helpers; the broker drives it.
 */
import type { Message, QoS } from './message.js';
import type { QueuedState } from './store.js';
import type { Connection } from './connection.js';
import type { LongTimer } from './timers.js';

export interface Subscription {
  /** Also gives the client id (`session.clientId`). */
  readonly session: Session;
  /** As subscribed, `$share/{group}/` included. */
  readonly filter: string;
  /** Without the `$share/{group}/` prefix. */
  readonly topicFilter: string;
  readonly group: string | null;
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  subscriptionId: number | null;
}

/** One delivery of a message to one session. */
export interface Outgoing {
  seq: number;
  message: Message;
  qos: QoS;
  retain: boolean;
  subscriptionIds: number[] | null;
  state: QueuedState;
  packetId: number;
  /** Share group key (`group\0filter`) when delivered through a shared subscription. */
  shared: string | null;
  /** Called once the receiver acknowledged it (PUBACK / PUBCOMP), or with false if it was dropped. */
  onSettled: ((delivered: boolean) => void) | null;
}

export interface Will {
  message: Message;
  /** Will Delay Interval in seconds (MQTT 5). */
  delay: number;
}

/** Shared empty collections: an idle session allocates none of its own (see Session). */
const NO_INFLIGHT: ReadonlyMap<number, Outgoing> = new Map();
const NO_QUEUE: readonly Outgoing[] = Object.freeze([]);

/**
 * Most sessions of a large fleet are idle: subscribed to a topic or two, nothing in flight, nothing
 * queued. Their collections are therefore created on first write (a Map with its table costs about
 * 180 bytes) and read through getters that return a shared empty one until then; a session with a
 * single subscription holds it inline and creates the Map for a second one. Writes go through the
 * methods below; the getters' read-only types keep it that way.
 */
export class Session {
  conn: Connection | null = null;
  /** None, the only one, or two or more by filter (back to inline when one is left). */
  private subs: Subscription | Map<string, Subscription> | null = null;
  private sent: Map<number, Outgoing> | null = null;
  private waiting: Outgoing[] | null = null;
  private qos2In: Set<number> | null = null;
  will: Will | null = null;
  willTimer: LongTimer | null = null;
  expiryTimer: LongTimer | null = null;
  disconnectedAt: number | null = null;
  /** The store holds rows for this session (it was persistent at some point). */
  stored = false;
  private nextPacketId = 1;
  private nextSeq = 1;
  /**
   * Scratch fields for routing one message (SubscriptionIndex): which routing pass last matched
   * this session and the merged result of its matching subscriptions. Kept here so fan-out
   * allocates nothing per receiver.
   */
  matchEpoch = 0;
  matchQos: QoS = 0;
  matchRetainAsPublished = false;
  matchSubIds: number[] | null = null;

  constructor(
    readonly clientId: string,
    public protocolVersion: number,
    /** Seconds; 0 = ends with the connection; 0xFFFFFFFF = never. */
    public expiryInterval: number,
    public sessionIdentifier: string,
  ) {}

  /** The subscription to `filter` as subscribed (`$share/{group}/` included). */
  getSubscription(filter: string): Subscription | undefined {
    const subs = this.subs;
    if (subs === null) return undefined;
    if (subs instanceof Map) return subs.get(filter);
    return subs.filter === filter ? subs : undefined;
  }
  get subscriptionCount(): number {
    const subs = this.subs;
    return subs === null ? 0 : subs instanceof Map ? subs.size : 1;
  }
  /** A copy, in the order subscribed (safe to change subscriptions while going through it). */
  listSubscriptions(): Subscription[] {
    const subs = this.subs;
    return subs === null ? [] : subs instanceof Map ? [...subs.values()] : [subs];
  }
  /** Adds or replaces the subscription to `sub.filter`. */
  setSubscription(sub: Subscription): void {
    const subs = this.subs;
    if (subs instanceof Map) subs.set(sub.filter, sub);
    else if (subs === null || subs.filter === sub.filter) this.subs = sub;
    else
      this.subs = new Map([
        [subs.filter, subs],
        [sub.filter, sub],
      ]);
  }
  deleteSubscription(filter: string): boolean {
    const subs = this.subs;
    if (subs === null) return false;
    if (!(subs instanceof Map)) {
      if (subs.filter !== filter) return false;
      this.subs = null;
      return true;
    }
    if (!subs.delete(filter)) return false;
    if (subs.size === 1) this.subs = subs.values().next().value!;
    return true;
  }

  /** Sent and unacknowledged, by packet id, in send order. */
  get inflight(): ReadonlyMap<number, Outgoing> {
    return this.sent ?? NO_INFLIGHT;
  }
  setInflight(out: Outgoing): void {
    (this.sent ??= new Map()).set(out.packetId, out);
  }
  deleteInflight(packetId: number): boolean {
    return this.sent !== null && this.sent.delete(packetId);
  }

  /** Waiting for a slot in the in-flight window, oldest first. */
  get queue(): readonly Outgoing[] {
    return this.waiting ?? NO_QUEUE;
  }
  enqueue(out: Outgoing): void {
    (this.waiting ??= []).push(out);
  }
  /** The oldest queued delivery (the caller checked the queue is not empty). */
  dequeue(): Outgoing {
    return this.waiting!.shift()!;
  }
  /** Replaces the queue (keeping the given deliveries, in order). */
  setQueue(outs: Outgoing[]): void {
    this.waiting = outs.length === 0 ? null : outs;
  }
  /** Forgets every in-flight and queued delivery. */
  clearDeliveries(): void {
    this.sent = null;
    this.waiting = null;
  }

  /** QoS 2 packet ids received and not yet released (PUBREL). */
  hasIncomingQos2(packetId: number): boolean {
    return this.qos2In !== null && this.qos2In.has(packetId);
  }
  addIncomingQos2(packetId: number): void {
    (this.qos2In ??= new Set()).add(packetId);
  }
  deleteIncomingQos2(packetId: number): boolean {
    return this.qos2In !== null && this.qos2In.delete(packetId);
  }

  get persistent(): boolean {
    return this.expiryInterval > 0;
  }

  allocSeq(): number {
    return this.nextSeq++;
  }

  /** Restores the sequence counter after loading stored entries. */
  bumpSeq(seq: number): void {
    if (seq >= this.nextSeq) this.nextSeq = seq + 1;
  }

  /** A free packet id (1..65535) not used by an in-flight delivery [MQTT-2.2.1-3]; 0 when all are taken. */
  allocPacketId(): number {
    for (let i = 0; i < 65535; i++) {
      const id = this.nextPacketId;
      this.nextPacketId = id === 65535 ? 1 : id + 1;
      if (this.sent === null || !this.sent.has(id)) return id;
    }
    return 0;
  }
}
