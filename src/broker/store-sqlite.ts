/**
 * SQLite implementation of the broker store (better-sqlite3, WAL). Changes are recorded in memory and
 * committed write-behind, one transaction per event-loop turn (store-write-behind.ts). What a
 * queued delivery costs depends on how soon its receiver acknowledges it:
 *
 * - acknowledged before its batch commits: nothing is written. A batch holding deliveries already sent
 *   to online clients waits one more turn for their PUBACKs (the publisher's PUBACK waits as long);
 * - otherwise one row per receiver, and the message once: inline in the row when it has one receiver
 *   in the batch, else in `broker_messages`, referenced by each receiver's row and deleted with the
 *   last of them (store-sqlite-schema.ts). Sending a written row later (a client that was offline)
 *   updates its state, unless the acknowledgement comes within the same window: then only the
 *   delete is written (store-pending.ts).
 *
 * Durability: WAL with synchronous=NORMAL survives a killed process (a commit is in the kernel's
 * page cache when it returns); set `synchronous: 'FULL'` to also survive power loss, at the cost of
 * an fsync per commit.
 */
import Database from 'better-sqlite3';
import type { StoreCounts } from '../core/index.js';
import type { BrokerSnapshot, BrokerStore, QueuedEntry, QueuedState, StoredQueued, StoredSession, StoredSubscription } from './store.js';
import { decodeProperties, encodeProperties, type Message, type QoS } from './message.js';
import { openBrokerSchema } from './store-sqlite-schema.js';
import { WriteBehind, type Batch } from './store-write-behind.js';
import { PendingQueues, type QueuedOp, type UpdateOp } from './store-pending.js';

type Op =
  | { k: 'session'; v: StoredSession }
  | { k: 'delSession'; id: string }
  | { k: 'sub'; v: StoredSubscription }
  | { k: 'delSub'; id: string; filter: string }
  | { k: 'retained'; v: Message }
  | { k: 'delRetained'; topic: string }
  | QueuedOp
  | UpdateOp
  /** Consecutive deliveries of one client acknowledged one after another: one range delete. */
  | { k: 'delQueued'; id: string; from: number; to: number }
  | { k: 'qos2'; id: string; packetId: number }
  | { k: 'delQos2'; id: string; packetId: number };

export interface SqliteBrokerStoreOptions {
  synchronous?: 'NORMAL' | 'FULL';
  /**
   * Turns a batch with deliveries in flight to online clients waits for their acknowledgements before
   * it commits (default 1; 0 commits every batch at the end of its own turn).
   */
  graceTurns?: number;
  /** Called with a commit error; the store keeps the batch and retries shortly. */
  onError?: (err: unknown) => void;
}

export class SqliteBrokerStore implements BrokerStore {
  private readonly db: Database.Database;
  private readonly wb: WriteBehind<Op>;
  private readonly pending = new PendingQueues();
  private closed = false;
  private readonly stmts;
  private readonly commitTx: (batches: readonly Batch<Op>[]) => void;
  /** Live queue rows per stored shared message (`broker_messages.id`); read from the table on first use unless load() built it. */
  private refsMap: Map<number, number> | null = null;
  private nextMessageId = 1;
  /** Commit attempts so far: a shared message is inserted once per attempt (a failed one rolls back). */
  private attempt = 0;
  readonly counts: StoreCounts = {
    queuedWritten: 0,
    queuedCancelled: 0,
    updatesWritten: 0,
    updatesCancelled: 0,
    messagesWritten: 0,
    commits: 0,
  };

  constructor(
    file: string,
    opts: SqliteBrokerStoreOptions = {},
  ) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${opts.synchronous ?? 'NORMAL'}`);
    openBrokerSchema(this.db);
    const db = this.db;
    this.nextMessageId = ((db.prepare('SELECT max(id) FROM broker_messages').pluck().get() as number | null) ?? 0) + 1;
    const queueCols = 'client_id, seq, message_id, topic, payload, msg_qos, msg_retain, properties, expires_at, origin, qos, retain, subscription_ids, state, packet_id';
    this.stmts = {
      session: db.prepare(
        'INSERT OR REPLACE INTO broker_sessions (client_id, expiry_interval, disconnected_at, protocol_version) VALUES (?, ?, ?, ?)',
      ),
      delSession: [
        db.prepare('DELETE FROM broker_sessions WHERE client_id = ?'),
        db.prepare('DELETE FROM broker_subscriptions WHERE client_id = ?'),
        db.prepare('DELETE FROM broker_incoming_qos2 WHERE client_id = ?'),
      ],
      delSessionQueue: db.prepare('DELETE FROM broker_queue WHERE client_id = ? RETURNING message_id').pluck(),
      sub: db.prepare(
        'INSERT OR REPLACE INTO broker_subscriptions (client_id, filter, qos, no_local, retain_as_published, retain_handling, subscription_id) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      delSub: db.prepare('DELETE FROM broker_subscriptions WHERE client_id = ? AND filter = ?'),
      retained: db.prepare(
        'INSERT OR REPLACE INTO broker_retained (topic, payload, qos, properties, expires_at, origin) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      delRetained: db.prepare('DELETE FROM broker_retained WHERE topic = ?'),
      message: db.prepare(
        'INSERT INTO broker_messages (id, topic, payload, qos, retain, properties, expires_at, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      delMessage: db.prepare('DELETE FROM broker_messages WHERE id = ?'),
      queuedInline: db.prepare(`INSERT OR REPLACE INTO broker_queue (${queueCols}) VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      queuedShared: db.prepare(
        `INSERT OR REPLACE INTO broker_queue (${queueCols}) VALUES (?, ?, ?, NULL, NULL, NULL, NULL, NULL, NULL, NULL, ?, ?, ?, ?, ?)`,
      ),
      updQueued: db.prepare('UPDATE broker_queue SET state = ?, packet_id = ? WHERE client_id = ? AND seq = ?'),
      // No RETURNING on the common path: it costs about 1 µs a row, and inline rows need no answer.
      delQueued: db.prepare('DELETE FROM broker_queue WHERE client_id = ? AND seq BETWEEN ? AND ?'),
      delQueuedInline: db.prepare('DELETE FROM broker_queue WHERE client_id = ? AND seq BETWEEN ? AND ? AND message_id IS NULL'),
      delQueuedShared: db.prepare('DELETE FROM broker_queue WHERE client_id = ? AND seq BETWEEN ? AND ? RETURNING message_id').pluck(),
      qos2: db.prepare('INSERT OR IGNORE INTO broker_incoming_qos2 (client_id, packet_id) VALUES (?, ?)'),
      delQos2: db.prepare('DELETE FROM broker_incoming_qos2 WHERE client_id = ? AND packet_id = ?'),
    };
    this.commitTx = db.transaction((batches: readonly Batch<Op>[]) => {
      for (const b of batches) for (const op of b.ops) this.apply(op);
    });
    this.wb = new WriteBehind<Op>({
      commit: (batches) => this.commit(batches),
      worthHolding: (b) => this.pending.inFlight(b.ops),
      graceTurns: opts.graceTurns ?? 1,
      onError: (err) => opts.onError?.(err),
    });
  }

  load(): BrokerSnapshot {
    const db = this.db;
    const sessions = (db.prepare('SELECT * FROM broker_sessions').all() as Record<string, unknown>[]).map(
      (r): StoredSession => ({
        clientId: r.client_id as string,
        expiryInterval: r.expiry_interval as number,
        disconnectedAt: (r.disconnected_at as number | null) ?? null,
        protocolVersion: r.protocol_version as number,
      }),
    );
    const subscriptions = (db.prepare('SELECT * FROM broker_subscriptions').all() as Record<string, unknown>[]).map(
      (r): StoredSubscription => ({
        clientId: r.client_id as string,
        filter: r.filter as string,
        qos: r.qos as QoS,
        noLocal: r.no_local === 1,
        retainAsPublished: r.retain_as_published === 1,
        retainHandling: r.retain_handling as 0 | 1 | 2,
        subscriptionId: (r.subscription_id as number | null) ?? null,
      }),
    );
    const retained = (db.prepare('SELECT * FROM broker_retained').all() as Record<string, unknown>[]).map(
      (r): Message => ({
        topic: r.topic as string,
        payload: r.payload as Buffer,
        qos: r.qos as QoS,
        retain: true,
        properties: decodeProperties(r.properties as string | null),
        expiresAt: r.expires_at as number,
        origin: (r.origin as string | null) ?? null,
        headers: null,
      }),
    );
    // One Message object per stored message, shared by the receivers' queues as it was before.
    const messages = new Map<number, Message>();
    for (const r of db.prepare('SELECT * FROM broker_messages').iterate() as IterableIterator<Record<string, unknown>>) {
      const id = r.id as number;
      messages.set(id, readMessage(r, r.qos, r.retain));
      if (id >= this.nextMessageId) this.nextMessageId = id + 1;
    }
    const refs = new Map<number, number>();
    const queued: StoredQueued[] = [];
    for (const r of db.prepare('SELECT * FROM broker_queue ORDER BY client_id, seq').iterate() as IterableIterator<Record<string, unknown>>) {
      const mid = r.message_id as number | null;
      let message: Message | undefined;
      if (mid === null) message = readMessage(r, r.msg_qos, r.msg_retain);
      else {
        message = messages.get(mid);
        if (message === undefined) continue; // cannot happen: rows and their message commit together
        refs.set(mid, (refs.get(mid) ?? 0) + 1);
      }
      queued.push({
        clientId: r.client_id as string,
        seq: r.seq as number,
        message,
        qos: r.qos as QoS,
        retain: r.retain === 1,
        subscriptionIds: r.subscription_ids === null ? null : (JSON.parse(r.subscription_ids as string) as number[]),
        state: r.state as QueuedState,
        packetId: r.packet_id as number,
      });
    }
    this.refsMap = refs;
    // A shared message no row references any more (cannot happen either; cheap to make sure).
    const orphans = [...messages.keys()].filter((id) => !refs.has(id));
    if (orphans.length > 0) db.transaction(() => { for (const id of orphans) this.stmts.delMessage.run(id); })();
    const incomingQos2 = (db.prepare('SELECT client_id, packet_id FROM broker_incoming_qos2').all() as Record<string, unknown>[]).map(
      (r) => ({ clientId: r.client_id as string, packetId: r.packet_id as number }),
    );
    return { sessions, subscriptions, retained, queued, incomingQos2 };
  }

  private commit(batches: readonly Batch<Op>[]): void {
    this.attempt++;
    try {
      this.commitTx(batches);
    } catch (err) {
      // Rolled back: the reference counts are what the database still says.
      this.refsMap = null;
      throw err;
    }
    this.counts.commits++;
    this.pending.committed(batches);
  }

  private apply(op: Op): void {
    const s = this.stmts;
    switch (op.k) {
      case 'session':
        s.session.run(op.v.clientId, op.v.expiryInterval, op.v.disconnectedAt, op.v.protocolVersion);
        break;
      case 'delSession':
        for (const st of s.delSession) st.run(op.id);
        for (const mid of s.delSessionQueue.all(op.id) as (number | null)[]) if (mid !== null) this.unref(mid);
        break;
      case 'sub': {
        const v = op.v;
        s.sub.run(v.clientId, v.filter, v.qos, v.noLocal ? 1 : 0, v.retainAsPublished ? 1 : 0, v.retainHandling, v.subscriptionId);
        break;
      }
      case 'delSub':
        s.delSub.run(op.id, op.filter);
        break;
      case 'retained': {
        const m = op.v;
        s.retained.run(m.topic, m.payload, m.qos, encodeProperties(m.properties), m.expiresAt, m.origin);
        break;
      }
      case 'delRetained':
        s.delRetained.run(op.topic);
        break;
      case 'queued':
        this.applyQueued(op);
        break;
      case 'updQueued':
        if (!op.live) this.counts.updatesCancelled++;
        else {
          s.updQueued.run(op.state, op.packetId, op.clientId, op.seq);
          this.counts.updatesWritten++;
        }
        break;
      case 'delQueued':
        if (this.refs.size === 0) s.delQueued.run(op.id, op.from, op.to); // no shared rows anywhere
        else {
          s.delQueuedInline.run(op.id, op.from, op.to);
          for (const mid of s.delQueuedShared.all(op.id, op.from, op.to) as number[]) this.unref(mid);
        }
        break;
      case 'qos2':
        s.qos2.run(op.id, op.packetId);
        break;
      case 'delQos2':
        s.delQos2.run(op.id, op.packetId);
        break;
    }
  }

  private applyQueued(op: QueuedOp): void {
    if (!op.live) {
      this.counts.queuedCancelled++;
      return;
    }
    this.counts.queuedWritten++;
    const s = this.stmts;
    const q = op.q;
    const m = q.message;
    const subIds = q.subscriptionIds === null ? null : JSON.stringify(q.subscriptionIds);
    const shared = op.shared;
    if (shared === null || shared.live < 2) {
      s.queuedInline.run(
        op.clientId, q.seq, m.topic, m.payload, m.qos, m.retain ? 1 : 0, encodeProperties(m.properties), m.expiresAt, m.origin,
        q.qos, q.retain ? 1 : 0, subIds, q.state, q.packetId,
      );
      return;
    }
    if (shared.insertedIn !== this.attempt) {
      if (shared.id === 0) shared.id = this.nextMessageId++;
      s.message.run(shared.id, m.topic, m.payload, m.qos, m.retain ? 1 : 0, encodeProperties(m.properties), m.expiresAt, m.origin);
      shared.insertedIn = this.attempt;
      this.refs.set(shared.id, 0);
      this.counts.messagesWritten++;
    }
    this.refs.set(shared.id, this.refs.get(shared.id)! + 1);
    s.queuedShared.run(op.clientId, q.seq, shared.id, q.qos, q.retain ? 1 : 0, subIds, q.state, q.packetId);
  }

  /** One queue row less for a shared message; the last one takes the message row with it. */
  private unref(id: number): void {
    const n = this.refs.get(id);
    if (n === undefined) return;
    if (n > 1) this.refs.set(id, n - 1);
    else {
      this.refs.delete(id);
      this.stmts.delMessage.run(id);
    }
  }

  private get refs(): Map<number, number> {
    return (this.refsMap ??= this.readRefs());
  }

  private readRefs(): Map<number, number> {
    const refs = new Map<number, number>();
    const rows = this.db.prepare('SELECT message_id AS id, count(*) AS n FROM broker_queue WHERE message_id IS NOT NULL GROUP BY message_id').all();
    for (const r of rows as { id: number; n: number }[]) refs.set(r.id, r.n);
    return refs;
  }

  putSession(v: StoredSession): void {
    this.wb.record({ k: 'session', v: { ...v } });
  }
  deleteSession(id: string): void {
    this.pending.dropClient(id);
    this.wb.record({ k: 'delSession', id });
  }
  putSubscription(v: StoredSubscription): void {
    this.wb.record({ k: 'sub', v: { ...v } });
  }
  deleteSubscription(id: string, filter: string): void {
    this.wb.record({ k: 'delSub', id, filter });
  }
  putRetained(v: Message): void {
    this.wb.record({ k: 'retained', v });
  }
  deleteRetained(topic: string): void {
    this.wb.record({ k: 'delRetained', topic });
  }
  putQueued(clientId: string, q: QueuedEntry): void {
    if (this.closed) return;
    this.wb.record(this.pending.put(clientId, q, this.wb.batch));
  }
  updateQueued(id: string, seq: number, state: QueuedState, packetId: number): void {
    if (this.closed) return;
    // Folded into the pending insert or update of the row when there is one.
    const op = this.pending.update(id, seq, state, packetId);
    if (op !== null) this.wb.record(op);
  }
  deleteQueued(id: string, seq: number): void {
    if (this.closed) return;
    // Delivered and acknowledged (or dropped) before it was ever written: no insert, no delete.
    if (this.pending.settle(id, seq)) return;
    const last = this.wb.lastRecorded();
    if (last !== undefined && last.k === 'delQueued' && last.id === id && last.to === seq - 1) last.to = seq;
    else this.wb.record({ k: 'delQueued', id, from: seq, to: seq });
  }
  putIncomingQos2(id: string, packetId: number): void {
    this.wb.record({ k: 'qos2', id, packetId });
  }
  deleteIncomingQos2(id: string, packetId: number): void {
    this.wb.record({ k: 'delQos2', id, packetId });
  }

  get dirty(): boolean {
    return this.wb.dirty;
  }

  get batch(): number {
    return this.wb.batch;
  }

  afterFlush(cb: () => void): void {
    this.wb.afterFlush(cb);
  }

  flush(): void {
    if (!this.closed) this.wb.flush();
  }

  close(): void {
    if (this.closed) return;
    this.wb.flush();
    this.wb.close();
    this.closed = true;
    this.db.close();
  }
}

function readMessage(r: Record<string, unknown>, qos: unknown, retain: unknown): Message {
  return {
    topic: r.topic as string,
    payload: r.payload as Buffer,
    qos: qos as QoS,
    retain: retain === 1,
    properties: decodeProperties(r.properties as string | null),
    expiresAt: r.expires_at as number,
    origin: (r.origin as string | null) ?? null,
    headers: null,
  };
}
