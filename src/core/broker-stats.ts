/**
 * Counters the broker keeps in plain fields (no labels, no allocation on the hot path);
 * /metrics reads them when scraped.
 */

export const DROP_REASONS = [
  'queue_full', // a session's queue bound was reached
  'expired', // Message Expiry Interval passed before delivery
  'packet_too_large', // larger than the receiver's Maximum Packet Size
  'not_authorized', // authorize-receive hook refused
  'qos0_backpressure', // QoS 0 to a client whose socket buffer is full
  'session_expired', // queued messages of an expired session
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export interface BrokerStats {
  /** Open network connections (after CONNECT accepted). */
  connections: number;
  connectionsTotal: number;
  /** Sessions held, online and offline. */
  sessions: number;
  subscriptions: number;
  retainedMessages: number;
  /** Messages received from clients, index = QoS. */
  messagesIn: [number, number, number];
  /** Messages sent to clients, index = QoS. */
  messagesOut: [number, number, number];
  bytesIn: number;
  bytesOut: number;
  dropped: Record<DropReason, number>;
  /** Messages waiting in session queues (not yet sent). */
  queuedMessages: number;
  /** QoS 1/2 messages sent and not yet acknowledged. */
  inflightMessages: number;
  /** Times a publisher was paused because a receiver could not keep up. */
  backpressurePauses: number;
}

export function createBrokerStats(): BrokerStats {
  const dropped = {} as Record<DropReason, number>;
  for (const r of DROP_REASONS) dropped[r] = 0;
  return {
    connections: 0,
    connectionsTotal: 0,
    sessions: 0,
    subscriptions: 0,
    retainedMessages: 0,
    messagesIn: [0, 0, 0],
    messagesOut: [0, 0, 0],
    bytesIn: 0,
    bytesOut: 0,
    dropped,
    queuedMessages: 0,
    inflightMessages: 0,
    backpressurePauses: 0,
  };
}

/** What the durable store did with deliveries since it opened (SqliteBrokerStore.counts; /metrics exports it). */
export interface StoreCounts {
  /** Deliveries written to `broker_queue`. */
  queuedWritten: number;
  /** Deliveries acknowledged (or dropped) before their batch committed, so never written. */
  queuedCancelled: number;
  /** State changes of written rows (sent, PUBREC received) written. */
  updatesWritten: number;
  /** State changes of written rows not written because the delivery was acknowledged first. */
  updatesCancelled: number;
  /** Rows written to `broker_messages` (messages shared by several receivers' rows). */
  messagesWritten: number;
  /** Transactions committed. */
  commits: number;
}
