/**
 * One coarse timer for many deadlines (CONNECT timeout, keep-alive), instead of a Node timer per
 * connection: a Timeout object with its closure costs a few hundred bytes, which for a fleet of idle
 * connections is most of what the broker itself holds per connection.
 *
 * Deadlines are rounded up to the next slot of `resolutionMs`, so an item runs no earlier than its
 * deadline and at most about two slots later. One unref'd interval runs while anything is scheduled.
 */

export interface DeadlineItem {
  /** The slot the item is scheduled in; 0 when it is not scheduled. Owned by the wheel. */
  deadlineSlot: number;
  /** Called once the deadline has passed (the item is no longer scheduled). */
  onDeadline(now: number): void;
}

export class DeadlineWheel {
  private readonly slots = new Map<number, Set<DeadlineItem>>();
  private timer: NodeJS.Timeout | null = null;
  /** The first slot not yet run. */
  private nextSlot: number;

  constructor(
    private readonly resolutionMs = 250,
    private readonly now: () => number = Date.now,
    /** Told about an exception thrown by an item's onDeadline (the others still run). */
    private readonly onError: (err: unknown) => void = () => {},
  ) {
    this.nextSlot = Math.floor(this.now() / resolutionMs);
  }

  /** Schedules `item` to run at `at` (epoch ms) or soon after, replacing its earlier deadline. */
  schedule(item: DeadlineItem, at: number): void {
    this.cancel(item);
    if (this.timer === null) {
      // Idle until now: skip the slots that passed meanwhile (they are all empty).
      this.nextSlot = Math.max(this.nextSlot, Math.floor(this.now() / this.resolutionMs));
      this.timer = setInterval(this.tick, this.resolutionMs);
      this.timer.unref();
    }
    const slot = Math.max(Math.ceil(at / this.resolutionMs), this.nextSlot);
    let set = this.slots.get(slot);
    if (set === undefined) {
      set = new Set();
      this.slots.set(slot, set);
    }
    set.add(item);
    item.deadlineSlot = slot;
  }

  cancel(item: DeadlineItem): void {
    const slot = item.deadlineSlot;
    if (slot === 0) return;
    item.deadlineSlot = 0;
    const set = this.slots.get(slot);
    if (set !== undefined && set.delete(item) && set.size === 0) this.slots.delete(slot);
  }

  /** How many items are scheduled (tests, metrics). */
  get size(): number {
    let n = 0;
    for (const set of this.slots.values()) n += set.size;
    return n;
  }

  /** Stops the timer; scheduled items never run. */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const set of this.slots.values()) for (const item of set) item.deadlineSlot = 0;
    this.slots.clear();
  }

  private readonly tick = (): void => {
    const now = this.now();
    const due = Math.floor(now / this.resolutionMs);
    for (let slot = this.nextSlot; slot <= due; slot++) {
      // Items rescheduled while this slot runs land in a later slot, never in one already run.
      this.nextSlot = slot + 1;
      const set = this.slots.get(slot);
      if (set === undefined) continue;
      this.slots.delete(slot);
      for (const item of set) {
        item.deadlineSlot = 0;
        try {
          item.onDeadline(now);
        } catch (err) {
          // One failing item must not cost the others in this slot their check.
          this.onError(err);
        }
      }
    }
    if (this.nextSlot <= due) this.nextSlot = due + 1;
    if (this.slots.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  };
}
