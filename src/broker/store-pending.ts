/**
 * Queued deliveries recorded but not yet committed, found by (client, seq) so that an update changes
 * the insert still to come and an acknowledgement cancels it.
 *
 * A session's sequence numbers only grow and its receiver acknowledges in order [MQTT-4.6.0-2], so
 * each client's pending deliveries are an array in seq order whose head is usually the one
 * acknowledged next and whose tail the one just sent: no key strings, no map entry per delivery.
 */
import type { QueuedEntry } from './store.js';

/** A message queued for several receivers in one batch: written once if two or more rows remain. */
export class SharedMessage {
  /** Rows of this message still to be written (not cancelled). */
  live = 0;
  /** Its `broker_messages.id` once assigned. */
  id = 0;
  /** The commit attempt that inserted it (a failed attempt rolls the insert back). */
  insertedIn = 0;
}

export class QueuedOp {
  readonly k = 'queued' as const;
  /** False once cancelled: acknowledged or dropped before it was written. */
  live = true;
  /** True once committed; later changes to the row are SQL of their own. */
  written = false;
  shared: SharedMessage | null = null;
  constructor(
    readonly clientId: string,
    readonly q: QueuedEntry,
    readonly list: ClientPending,
  ) {}
}

class ClientPending {
  readonly ops: QueuedOp[] = [];
  /** Everything before `head` is written or cancelled. */
  head = 0;
}

export class PendingQueues {
  private readonly byClient = new Map<string, ClientPending>();
  /** The last delivery added, and its batch: the receivers of one message are queued in a row. */
  private last: QueuedOp | null = null;
  private lastBatch = -1;

  /** Records a delivery of the current batch and returns its op. */
  add(clientId: string, q: QueuedEntry, batch: number): QueuedOp {
    let list = this.byClient.get(clientId);
    if (list === undefined) {
      list = new ClientPending();
      this.byClient.set(clientId, list);
    }
    const op = new QueuedOp(clientId, q, list);
    const last = this.last;
    if (last !== null && last.q.message === q.message && this.lastBatch === batch) {
      let shared = last.shared;
      if (shared === null) {
        shared = last.shared = new SharedMessage();
        shared.live = last.live ? 1 : 0;
      }
      shared.live++;
      op.shared = shared;
    }
    this.last = op;
    this.lastBatch = batch;
    const ops = list.ops;
    if (ops.length === list.head || ops[ops.length - 1].q.seq < q.seq) ops.push(op);
    else this.insertOutOfOrder(list, op);
    return op;
  }

  /** The pending (not written, not cancelled) delivery, if any. */
  find(clientId: string, seq: number): QueuedOp | undefined {
    const list = this.byClient.get(clientId);
    if (list === undefined) return undefined;
    const i = indexOf(list, seq);
    if (i < 0) return undefined;
    const op = list.ops[i];
    return op.live && !op.written ? op : undefined;
  }

  /** Cancels the pending delivery; false when there is none (it was written: delete the row). */
  cancel(clientId: string, seq: number): boolean {
    const op = this.find(clientId, seq);
    if (op === undefined) return false;
    kill(op);
    trim(op.list);
    return true;
  }

  /** Cancels every pending delivery of the client (its session is deleted). */
  dropClient(clientId: string): void {
    const list = this.byClient.get(clientId);
    if (list === undefined) return;
    for (let i = list.head; i < list.ops.length; i++) if (list.ops[i].live && !list.ops[i].written) kill(list.ops[i]);
    this.byClient.delete(clientId);
  }

  /** True when some delivery among `ops` is in flight to its receiver, whose ack would cancel it. */
  inFlight(ops: readonly object[]): boolean {
    for (let i = ops.length - 1; i >= 0; i--) {
      const op = ops[i];
      if (op instanceof QueuedOp && op.live && op.q.state !== 'queued') return true;
    }
    return false;
  }

  /** After a commit: the batches' live deliveries are rows now. */
  committed(batches: readonly { ops: readonly object[] }[]): void {
    for (const b of batches) {
      for (const op of b.ops) {
        if (!(op instanceof QueuedOp) || !op.live) continue;
        op.written = true;
        trim(op.list);
      }
    }
    this.last = null;
  }

  private insertOutOfOrder(list: ClientPending, op: QueuedOp): void {
    // Not expected (seqs grow); kept correct anyway. A pending entry with the same seq is replaced.
    const ops = list.ops;
    const seq = op.q.seq;
    const same = indexOf(list, seq);
    if (same >= 0 && ops[same].live && !ops[same].written) kill(ops[same]);
    let lo = list.head;
    let hi = ops.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ops[mid].q.seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    ops.splice(lo, 0, op);
  }
}

function kill(op: QueuedOp): void {
  op.live = false;
  if (op.shared !== null) op.shared.live--;
}

/** Index of the entry with `seq` at or after the head (the newest one if several), or -1. */
function indexOf(list: ClientPending, seq: number): number {
  const ops = list.ops;
  let lo = list.head;
  let hi = ops.length - 1;
  if (lo > hi) return -1;
  // Acknowledgements come in order and updates follow the send: try the two ends first.
  if (ops[lo].q.seq === seq && (lo === hi || ops[lo + 1].q.seq !== seq)) return lo;
  if (ops[hi].q.seq === seq) return hi;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const s = ops[mid].q.seq;
    if (s < seq) lo = mid + 1;
    else if (s > seq) hi = mid - 1;
    else {
      let i = mid;
      while (i + 1 < ops.length && ops[i + 1].q.seq === seq) i++;
      return i;
    }
  }
  return -1;
}

/** Drops written and cancelled entries from the front; compacts the array now and then. */
function trim(list: ClientPending): void {
  const ops = list.ops;
  let h = list.head;
  while (h < ops.length && (ops[h].written || !ops[h].live)) h++;
  if (h === ops.length) {
    ops.length = 0;
    h = 0;
  } else if (h >= 32 && h * 2 >= ops.length) {
    ops.copyWithin(0, h);
    ops.length -= h;
    h = 0;
  }
  list.head = h;
}
