/**
 * A store that keeps nothing: the broker without durability (tests, benchmarks of the pure hot
 * path). Every "flush" is immediate.
 */
import type { BrokerSnapshot, BrokerStore } from './store.js';

export class MemoryBrokerStore implements BrokerStore {
  readonly dirty = false;
  readonly batch = 0;
  load(): BrokerSnapshot {
    return { sessions: [], subscriptions: [], retained: [], queued: [], incomingQos2: [] };
  }
  putSession(): void {}
  deleteSession(): void {}
  putSubscription(): void {}
  deleteSubscription(): void {}
  putRetained(): void {}
  deleteRetained(): void {}
  putQueued(): void {}
  updateQueued(): void {}
  deleteQueued(): void {}
  putIncomingQos2(): void {}
  deleteIncomingQos2(): void {}
  afterFlush(cb: () => void): void {
    cb();
  }
  flush(): void {}
  close(): void {}
}
