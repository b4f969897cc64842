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
  readonly session: Session;
  readonly clientId: string;
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

export class Session {
  conn: Connection | null = null;
  readonly subscriptions = new Map<string, Subscription>();
  /** Sent and unacknowledged, by packet id, in send order. */
  readonly inflight = new Map<number, Outgoing>();
  /** Waiting for a slot in the in-flight window. */
  queue: Outgoing[] = [];
  readonly incomingQos2 = new Set<number>();
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
      if (!this.inflight.has(id)) return id;
    }
    return 0;
  }
}
