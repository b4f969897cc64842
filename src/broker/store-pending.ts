/**
 * Queue changes recorded but not yet committed, found by (client, seq), so that a later change of the
 * same delivery can fold into them: an update changes the insert still to come, and an acknowledgement
 * cancels the insert (nothing is written) or the update of a row already written (only the delete is).
 *
 * A session's sequence numbers only grow and its receiver acknowledges in order [MQTT-4.6.0-2], so
 * each client's pending changes are arrays in seq order whose head is usually the one acknowledged
 * next and whose tail the one just sent: no key strings and no map entry per delivery.
 */
import type { QueuedEntry, QueuedState } from './store.js';

/** A message queued for several receivers in one batch: written once if two or more rows remain. */
export class SharedMessage {
  /** Rows of this message still to be written (not cancelled). */
  live = 0;
  /** Its `broker_messages.id` once assigned. */
  id = 0;
  /** The commit attempt that inserted it (a failed attempt rolls the insert back). */
  insertedIn = 0;
}

abstract class PendingChange {
  /** False once cancelled: acknowledged or dropped before it was written. */
  live = true;
  /** True once committed; later changes of the row are SQL of their own. */
  written = false;
  abstract readonly seq: number;
  /** Whether the delivery is with its receiver, so that an acknowledgement may soon cancel this. */
  abstract get inFlight(): boolean;
}

/** A delivery not written yet: becomes an INSERT. */
export class QueuedOp extends PendingChange {
  readonly k = 'queued' as const;
  shared: SharedMessage | null = null;
  constructor(
    readonly clientId: string,
    readonly q: QueuedEntry,
    readonly list: SeqList<QueuedOp>,
  ) {
    super();
  }
  get seq(): number {
    return this.q.seq;
  }
  get inFlight(): boolean {
    return this.q.state !== 'queued';
  }
}

/** A new state of a row already written (sent, or PUBREC received): becomes an UPDATE. */
export class UpdateOp extends PendingChange {
  readonly k = 'updQueued' as const;
  constructor(
    readonly clientId: string,
    readonly seq: number,
    public state: QueuedState,
    public packetId: number,
    readonly list: SeqList<UpdateOp>,
  ) {
    super();
  }
  get inFlight(): boolean {
    return this.state !== 'queued';
  }
}

/** Pending changes of one kind for one client, in seq order. */
class SeqList<T extends PendingChange> {
  readonly ops: T[] = [];
  /** Everything before `head` is written or cancelled. */
  head = 0;

  add(op: T): void {
    const ops = this.ops;
    if (ops.length === this.head || ops[ops.length - 1].seq < op.seq) {
      ops.push(op);
      return;
    }
    // Not expected (seqs grow); kept correct anyway. A pending change with the same seq is replaced.
    const same = this.find(op.seq);
    if (same !== undefined) same.live = false;
    let lo = this.head;
    let hi = ops.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ops[mid].seq <= op.seq) lo = mid + 1;
      else hi = mid;
    }
    ops.splice(lo, 0, op);
  }

  /** The pending (live, not written) change with `seq`, if any. */
  find(seq: number): T | undefined {
    const ops = this.ops;
    let lo = this.head;
    let hi = ops.length - 1;
    if (lo > hi) return undefined;
    let i = -1;
    // Acknowledgements come in order and updates follow the send: try the two ends first.
    if (ops[hi].seq === seq) i = hi;
    else if (ops[lo].seq === seq) i = lo;
    else {
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        const s = ops[mid].seq;
        if (s < seq) lo = mid + 1;
        else if (s > seq) hi = mid - 1;
        else {
          i = mid;
          break;
        }
      }
      if (i < 0) return undefined;
    }
    // Replaced entries share a seq with their replacement; the live one is the last.
    while (i + 1 < ops.length && ops[i + 1].seq === seq) i++;
    const op = ops[i];
    return op.live && !op.written ? op : undefined;
  }

  /** Drops written and cancelled entries from the front; compacts the array now and then. */
  trim(): void {
    const ops = this.ops;
    let h = this.head;
    while (h < ops.length && (ops[h].written || !ops[h].live)) h++;
    if (h === ops.length) {
      ops.length = 0;
      h = 0;
    } else if (h >= 32 && h * 2 >= ops.length) {
      ops.copyWithin(0, h);
      ops.length -= h;
      h = 0;
    }
    this.head = h;
  }
}

class ClientPending {
  readonly puts = new SeqList<QueuedOp>();
  readonly updates = new SeqList<UpdateOp>();
}

export class PendingQueues {
  private readonly byClient = new Map<string, ClientPending>();
  /** The last delivery added, and its batch: the receivers of one message are queued in a row. */
  private last: QueuedOp | null = null;
  private lastBatch = -1;

  private client(clientId: string): ClientPending {
    let c = this.byClient.get(clientId);
    if (c === undefined) {
      c = new ClientPending();
      this.byClient.set(clientId, c);
    }
    return c;
  }

  /** Records a delivery of batch `batch` and returns its op. */
  put(clientId: string, q: QueuedEntry, batch: number): QueuedOp {
    const list = this.client(clientId).puts;
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
    list.add(op);
    return op;
  }

  /**
   * Folds a state change into the pending insert or update of the delivery. Returns a new op to
   * record when there is neither (the row is written and has no pending update).
   */
  update(clientId: string, seq: number, state: QueuedState, packetId: number): UpdateOp | null {
    const c = this.byClient.get(clientId);
    const put = c?.puts.find(seq);
    if (put !== undefined) {
      put.q.state = state;
      put.q.packetId = packetId;
      return null;
    }
    const upd = c?.updates.find(seq);
    if (upd !== undefined) {
      upd.state = state;
      upd.packetId = packetId;
      return null;
    }
    const list = (c ?? this.client(clientId)).updates;
    const op = new UpdateOp(clientId, seq, state, packetId, list);
    list.add(op);
    return op;
  }

  /**
   * The delivery is finished. Returns true when it was never written (nothing left to do); false when
   * its row must be deleted (any pending update of it is cancelled).
   */
  settle(clientId: string, seq: number): boolean {
    const c = this.byClient.get(clientId);
    if (c === undefined) return false;
    const put = c.puts.find(seq);
    if (put !== undefined) {
      cancel(put);
      c.puts.trim();
      return true;
    }
    const upd = c.updates.find(seq);
    if (upd !== undefined) {
      upd.live = false;
      c.updates.trim();
    }
    return false;
  }

  /** Cancels every pending change of the client (its session is deleted). */
  dropClient(clientId: string): void {
    const c = this.byClient.get(clientId);
    if (c === undefined) return;
    for (const op of c.puts.ops) if (op.live && !op.written) cancel(op);
    for (const op of c.updates.ops) op.live = false;
    this.byClient.delete(clientId);
  }

  /** True when some change among `ops` concerns a delivery with its receiver, whose ack would cancel it. */
  inFlight(ops: readonly object[]): boolean {
    for (let i = ops.length - 1; i >= 0; i--) {
      const op = ops[i];
      if (op instanceof PendingChange && op.live && op.inFlight) return true;
    }
    return false;
  }

  /** After a commit: the batches' live changes are in the rows now. */
  committed(batches: readonly { ops: readonly object[] }[]): void {
    for (const b of batches) {
      for (const op of b.ops) {
        if (!(op instanceof PendingChange) || !op.live) continue;
        op.written = true;
        (op as QueuedOp | UpdateOp).list.trim();
      }
    }
    this.last = null;
  }
}

function cancel(op: QueuedOp): void {
  op.live = false;
  if (op.shared !== null) op.shared.live--;
}
