/**
 * Group commit for a write-behind store: changes are recorded into a batch per event-loop turn, and
 * the batches are committed in order, several in one transaction when they are due together.
 *
 * A batch that closes may be held open to cancellation for `graceTurns` more turns (default 1) when
 * the store says it is worth it: typically it holds deliveries already sent to an online client,
 * whose PUBACK usually arrives in the next turn and makes the write unnecessary. The acknowledgements
 * waiting on the batch (the publisher's PUBACK) wait as long — at most one turn more, and only for
 * batches that can shrink. Nothing that was acknowledged to a publisher is ever left unwritten unless
 * every receiver acknowledged it first.
 */

export interface Batch<Op> {
  readonly id: number;
  /** Turn at which the batch stopped recording; -1 while it records. */
  closedAt: number;
  /** Whether the batch waits its grace turns before it is committed. */
  held: boolean;
  readonly ops: Op[];
  readonly callbacks: (() => void)[];
}

export interface WriteBehindOptions<Op> {
  /** Commits the batches in one transaction, oldest first; throws to have them kept and retried. */
  commit: (batches: readonly Batch<Op>[]) => void;
  /** Called when a batch closes: true when waiting may cancel some of its ops. */
  worthHolding: (batch: Batch<Op>) => boolean;
  /** Turns a batch worth holding stays open to cancellation (0 = commit at the end of its own turn). */
  graceTurns: number;
  /** Called with a commit error; the batches stay and are retried after `retryMs`. */
  onError: (err: unknown) => void;
  retryMs?: number;
}

export class WriteBehind<Op> {
  /** Batches not yet committed, oldest first. */
  private batches: Batch<Op>[] = [];
  private openId = 0;
  private turn = 0;
  private scheduled = false;
  private closed = false;

  constructor(private readonly opts: WriteBehindOptions<Op>) {}

  /** True when something is recorded and not committed. */
  get dirty(): boolean {
    return this.batches.length > 0;
  }

  /** Id of the batch recording now. */
  get batch(): number {
    return this.openId;
  }

  record(op: Op): void {
    if (this.closed) return;
    this.openBatch().ops.push(op);
  }

  /** The last change recorded into the batch recording now, if any (to merge the next into it). */
  lastRecorded(): Op | undefined {
    const bs = this.batches;
    const last = bs.length > 0 ? bs[bs.length - 1] : undefined;
    if (last === undefined || last.id !== this.openId || last.ops.length === 0) return undefined;
    return last.ops[last.ops.length - 1];
  }

  afterFlush(cb: () => void): void {
    if (this.batches.length === 0) cb();
    else if (!this.closed) this.openBatch().callbacks.push(cb);
    // Closed with changes that never committed: whatever waits for them must not be told otherwise.
  }

  /** Commits everything recorded, now. Returns false when the commit failed (it will be retried). */
  flush(): boolean {
    if (this.batches.length === 0) return true;
    this.closeOpen();
    return this.commit(this.batches.length);
  }

  /** Stops scheduling; what is still recorded stays uncommitted (call flush first). */
  close(): void {
    this.closed = true;
  }

  private openBatch(): Batch<Op> {
    const bs = this.batches;
    const last = bs.length > 0 ? bs[bs.length - 1] : undefined;
    if (last !== undefined && last.id === this.openId) return last;
    const b: Batch<Op> = { id: this.openId, closedAt: -1, held: false, ops: [], callbacks: [] };
    bs.push(b);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.onTurnEnd);
    }
    return b;
  }

  private closeOpen(): void {
    const bs = this.batches;
    const last = bs.length > 0 ? bs[bs.length - 1] : undefined;
    if (last === undefined || last.id !== this.openId) return;
    last.closedAt = this.turn;
    this.openId++;
    last.held = this.opts.graceTurns > 0 && this.opts.worthHolding(last);
  }

  private readonly onTurnEnd = (): void => {
    this.scheduled = false;
    if (this.closed) return;
    this.closeOpen();
    const bs = this.batches;
    let n = 0;
    while (n < bs.length && (!bs[n].held || this.turn - bs[n].closedAt >= this.opts.graceTurns)) n++;
    this.turn++;
    if (n > 0) this.commit(n);
    if (this.batches.length > 0 && !this.scheduled && !this.closed) {
      this.scheduled = true;
      setImmediate(this.onTurnEnd);
    }
  };

  private commit(n: number): boolean {
    const due = n === this.batches.length ? this.batches : this.batches.slice(0, n);
    try {
      this.opts.commit(due);
    } catch (err) {
      // Keep the batches (and the acknowledgements waiting on them) and try again shortly.
      this.opts.onError(err);
      if (!this.scheduled && !this.closed) {
        this.scheduled = true;
        setTimeout(this.onTurnEnd, this.opts.retryMs ?? 100).unref();
      }
      return false;
    }
    this.batches = n === this.batches.length ? [] : this.batches.slice(n);
    for (const b of due) for (const cb of b.callbacks) cb();
    return true;
  }
}
