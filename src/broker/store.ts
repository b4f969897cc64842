/**
 * The broker's storage port: what must survive a restart or `kill -9` — persistent sessions, their
 * subscriptions, retained messages, and queued / in-flight QoS 1 and 2 messages.
 *
 * Writes are write-behind: each call only records the change; the store commits what was recorded in
 * batches (scheduled on the event loop, or explicitly with `flush`), then runs the callbacks given to
 * `afterFlush`. The broker acknowledges a QoS 1/2 PUBLISH only from such a callback, so an
 * acknowledged message is on disk — or already acknowledged by every receiver that needed it.
 */
import type { Message, QoS } from './message.js';

export interface StoredSession {
  clientId: string;
  /** Session Expiry Interval in seconds; 0xFFFFFFFF = never. */
  expiryInterval: number;
  /** When the last connection closed (ms since epoch), null while connected. */
  disconnectedAt: number | null;
  protocolVersion: number;
}

export interface StoredSubscription {
  clientId: string;
  /** The filter as subscribed, including any `$share/{group}/` prefix. */
  filter: string;
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  subscriptionId: number | null;
}

export type QueuedState = 'queued' | 'sent' | 'pubrel';

/** One delivery of a message to one session, as stored (the broker's `Outgoing` has these fields). */
export interface QueuedEntry {
  /** Position in the session's delivery order; unique per client and growing. */
  readonly seq: number;
  /** Shared by every receiver of the message; the store writes its payload once per batch. */
  readonly message: Message;
  /** QoS granted for this delivery. */
  readonly qos: QoS;
  /** RETAIN flag as it will be sent. */
  readonly retain: boolean;
  readonly subscriptionIds: number[] | null;
  state: QueuedState;
  packetId: number;
}

export interface StoredQueued extends QueuedEntry {
  clientId: string;
}

export interface BrokerSnapshot {
  sessions: StoredSession[];
  subscriptions: StoredSubscription[];
  retained: Message[];
  queued: StoredQueued[];
  /** QoS 2 packet ids received (PUBREC sent) and not yet released, per client. */
  incomingQos2: { clientId: string; packetId: number }[];
}

export interface BrokerStore {
  /** Reads everything at start-up. */
  load(): BrokerSnapshot;
  putSession(s: StoredSession): void;
  /** Deletes a session with its subscriptions, queue and QoS 2 state. */
  deleteSession(clientId: string): void;
  putSubscription(s: StoredSubscription): void;
  deleteSubscription(clientId: string, filter: string): void;
  putRetained(m: Message): void;
  deleteRetained(topic: string): void;
  /**
   * Records a delivery. The store keeps `q` and reads its fields when it commits, so it writes the
   * latest state; the caller must not reuse the object for another delivery before `deleteQueued`.
   */
  putQueued(clientId: string, q: QueuedEntry): void;
  updateQueued(clientId: string, seq: number, state: QueuedState, packetId: number): void;
  deleteQueued(clientId: string, seq: number): void;
  putIncomingQos2(clientId: string, packetId: number): void;
  deleteIncomingQos2(clientId: string, packetId: number): void;
  /** True when changes are recorded and not yet committed. */
  readonly dirty: boolean;
  /**
   * Id of the batch that records changes now. It changes when that batch closes (at the end of an
   * event-loop turn), so a caller can tell which batch a change of its went into.
   */
  readonly batch: number;
  /**
   * Runs `cb` once everything recorded so far, and whatever else the current batch records, is
   * committed (at once when nothing is pending).
   */
  afterFlush(cb: () => void): void;
  /** Commits everything recorded, now. */
  flush(): void;
  close(): void;
}
