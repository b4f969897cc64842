/**
 * SQLite implementation of the broker store (better-sqlite3, WAL). Changes are recorded in memory and
 * committed in one transaction per event-loop turn; a queued message that is delivered and acknowledged
 * before its batch commits is never written at all.
 *
 * Durability: WAL with synchronous=NORMAL survives a killed process (the kernel holds the pages);
 * set `synchronous: 'FULL'` to also survive power loss at the cost of an fsync per batch.
 */
import Database from 'better-sqlite3';
import type { BrokerSnapshot, BrokerStore, QueuedState, StoredQueued, StoredSession, StoredSubscription } from './store.js';
import { decodeProperties, encodeProperties, type Message, type QoS } from './message.js';

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS broker_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS broker_sessions (
  client_id TEXT PRIMARY KEY, expiry_interval INTEGER NOT NULL, disconnected_at INTEGER, protocol_version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS broker_subscriptions (
  client_id TEXT NOT NULL, filter TEXT NOT NULL, qos INTEGER NOT NULL, no_local INTEGER NOT NULL,
  retain_as_published INTEGER NOT NULL, retain_handling INTEGER NOT NULL, subscription_id INTEGER,
  PRIMARY KEY (client_id, filter));
CREATE TABLE IF NOT EXISTS broker_retained (
  topic TEXT PRIMARY KEY, payload BLOB NOT NULL, qos INTEGER NOT NULL, properties TEXT, expires_at INTEGER NOT NULL, origin TEXT);
CREATE TABLE IF NOT EXISTS broker_queue (
  client_id TEXT NOT NULL, seq INTEGER NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL, msg_qos INTEGER NOT NULL,
  msg_retain INTEGER NOT NULL, properties TEXT, expires_at INTEGER NOT NULL, origin TEXT,
  qos INTEGER NOT NULL, retain INTEGER NOT NULL, subscription_ids TEXT, state TEXT NOT NULL, packet_id INTEGER NOT NULL,
  PRIMARY KEY (client_id, seq));
CREATE TABLE IF NOT EXISTS broker_incoming_qos2 (client_id TEXT NOT NULL, packet_id INTEGER NOT NULL, PRIMARY KEY (client_id, packet_id));
`;

type Op =
  | { k: 'session'; v: StoredSession }
  | { k: 'delSession'; id: string }
  | { k: 'sub'; v: StoredSubscription }
  | { k: 'delSub'; id: string; filter: string }
  | { k: 'retained'; v: Message }
  | { k: 'delRetained'; topic: string }
  | { k: 'queued'; v: StoredQueued; dead: boolean }
  | { k: 'updQueued'; id: string; seq: number; state: QueuedState; packetId: number }
  | { k: 'delQueued'; id: string; seq: number }
  | { k: 'qos2'; id: string; packetId: number }
  | { k: 'delQos2'; id: string; packetId: number };

export interface SqliteBrokerStoreOptions {
  synchronous?: 'NORMAL' | 'FULL';
  /** Called with a commit error; the store keeps the batch and retries on the next flush. */
  onError?: (err: unknown) => void;
}

export class SqliteBrokerStore implements BrokerStore {
  private readonly db: Database.Database;
  private ops: Op[] = [];
  /** Pending queued puts by `clientId\0seq`, so a delete in the same batch cancels the insert. */
  private readonly pendingQueued = new Map<string, Op & { k: 'queued' }>();
  private callbacks: (() => void)[] = [];
  private scheduled = false;
  private closed = false;
  private readonly stmts;
  private readonly commit: (ops: Op[]) => void;

  constructor(
    file: string,
    private readonly opts: SqliteBrokerStoreOptions = {},
  ) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${opts.synchronous ?? 'NORMAL'}`);
    this.db.exec(SCHEMA);
    const v = this.db.prepare('SELECT value FROM broker_meta WHERE key = ?').get('schema_version') as { value: string } | undefined;
    if (v === undefined) this.db.prepare('INSERT INTO broker_meta (key, value) VALUES (?, ?)').run('schema_version', String(SCHEMA_VERSION));
    else if (Number(v.value) > SCHEMA_VERSION)
      throw new Error(`broker storage schema ${v.value} is newer than this Thingport understands (${SCHEMA_VERSION})`);
    const db = this.db;
    this.stmts = {
      session: db.prepare(
        'INSERT OR REPLACE INTO broker_sessions (client_id, expiry_interval, disconnected_at, protocol_version) VALUES (?, ?, ?, ?)',
      ),
      delSession: [
        db.prepare('DELETE FROM broker_sessions WHERE client_id = ?'),
        db.prepare('DELETE FROM broker_subscriptions WHERE client_id = ?'),
        db.prepare('DELETE FROM broker_queue WHERE client_id = ?'),
        db.prepare('DELETE FROM broker_incoming_qos2 WHERE client_id = ?'),
      ],
      sub: db.prepare(
        'INSERT OR REPLACE INTO broker_subscriptions (client_id, filter, qos, no_local, retain_as_published, retain_handling, subscription_id) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      delSub: db.prepare('DELETE FROM broker_subscriptions WHERE client_id = ? AND filter = ?'),
      retained: db.prepare(
        'INSERT OR REPLACE INTO broker_retained (topic, payload, qos, properties, expires_at, origin) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      delRetained: db.prepare('DELETE FROM broker_retained WHERE topic = ?'),
      queued: db.prepare(
        `INSERT OR REPLACE INTO broker_queue (client_id, seq, topic, payload, msg_qos, msg_retain, properties, expires_at, origin, qos, retain, subscription_ids, state, packet_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      updQueued: db.prepare('UPDATE broker_queue SET state = ?, packet_id = ? WHERE client_id = ? AND seq = ?'),
      delQueued: db.prepare('DELETE FROM broker_queue WHERE client_id = ? AND seq = ?'),
      qos2: db.prepare('INSERT OR IGNORE INTO broker_incoming_qos2 (client_id, packet_id) VALUES (?, ?)'),
      delQos2: db.prepare('DELETE FROM broker_incoming_qos2 WHERE client_id = ? AND packet_id = ?'),
    };
    this.commit = db.transaction((ops: Op[]) => {
      for (const op of ops) this.apply(op);
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
    const queued = (db.prepare('SELECT * FROM broker_queue ORDER BY client_id, seq').all() as Record<string, unknown>[]).map(
      (r): StoredQueued => ({
        clientId: r.client_id as string,
        seq: r.seq as number,
        message: {
          topic: r.topic as string,
          payload: r.payload as Buffer,
          qos: r.msg_qos as QoS,
          retain: r.msg_retain === 1,
          properties: decodeProperties(r.properties as string | null),
          expiresAt: r.expires_at as number,
          origin: (r.origin as string | null) ?? null,
          headers: null,
        },
        qos: r.qos as QoS,
        retain: r.retain === 1,
        subscriptionIds: r.subscription_ids === null ? null : (JSON.parse(r.subscription_ids as string) as number[]),
        state: r.state as QueuedState,
        packetId: r.packet_id as number,
      }),
    );
    const incomingQos2 = (db.prepare('SELECT client_id, packet_id FROM broker_incoming_qos2').all() as Record<string, unknown>[]).map(
      (r) => ({ clientId: r.client_id as string, packetId: r.packet_id as number }),
    );
    return { sessions, subscriptions, retained, queued, incomingQos2 };
  }

  private apply(op: Op): void {
    const s = this.stmts;
    switch (op.k) {
      case 'session':
        s.session.run(op.v.clientId, op.v.expiryInterval, op.v.disconnectedAt, op.v.protocolVersion);
        break;
      case 'delSession':
        for (const st of s.delSession) st.run(op.id);
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
      case 'queued': {
        if (op.dead) break;
        const q = op.v;
        const m = q.message;
        s.queued.run(
          q.clientId, q.seq, m.topic, m.payload, m.qos, m.retain ? 1 : 0, encodeProperties(m.properties), m.expiresAt, m.origin,
          q.qos, q.retain ? 1 : 0, q.subscriptionIds === null ? null : JSON.stringify(q.subscriptionIds), q.state, q.packetId,
        );
        break;
      }
      case 'updQueued':
        s.updQueued.run(op.state, op.packetId, op.id, op.seq);
        break;
      case 'delQueued':
        s.delQueued.run(op.id, op.seq);
        break;
      case 'qos2':
        s.qos2.run(op.id, op.packetId);
        break;
      case 'delQos2':
        s.delQos2.run(op.id, op.packetId);
        break;
    }
  }

  private record(op: Op): void {
    if (this.closed) return;
    this.ops.push(op);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  putSession(v: StoredSession): void {
    this.record({ k: 'session', v: { ...v } });
  }
  deleteSession(id: string): void {
    for (const [key, op] of this.pendingQueued) if (op.v.clientId === id) { op.dead = true; this.pendingQueued.delete(key); }
    this.record({ k: 'delSession', id });
  }
  putSubscription(v: StoredSubscription): void {
    this.record({ k: 'sub', v: { ...v } });
  }
  deleteSubscription(id: string, filter: string): void {
    this.record({ k: 'delSub', id, filter });
  }
  putRetained(v: Message): void {
    this.record({ k: 'retained', v });
  }
  deleteRetained(topic: string): void {
    this.record({ k: 'delRetained', topic });
  }
  putQueued(v: StoredQueued): void {
    const op = { k: 'queued' as const, v: { ...v }, dead: false };
    this.pendingQueued.set(`${v.clientId}\0${v.seq}`, op);
    this.record(op);
  }
  updateQueued(id: string, seq: number, state: QueuedState, packetId: number): void {
    const pending = this.pendingQueued.get(`${id}\0${seq}`);
    if (pending !== undefined) {
      pending.v.state = state;
      pending.v.packetId = packetId;
      return;
    }
    this.record({ k: 'updQueued', id, seq, state, packetId });
  }
  deleteQueued(id: string, seq: number): void {
    const key = `${id}\0${seq}`;
    const pending = this.pendingQueued.get(key);
    if (pending !== undefined) {
      // Delivered and acknowledged before it was ever written: drop the insert, no delete needed.
      pending.dead = true;
      this.pendingQueued.delete(key);
      return;
    }
    this.record({ k: 'delQueued', id, seq });
  }
  putIncomingQos2(id: string, packetId: number): void {
    this.record({ k: 'qos2', id, packetId });
  }
  deleteIncomingQos2(id: string, packetId: number): void {
    this.record({ k: 'delQos2', id, packetId });
  }

  get dirty(): boolean {
    return this.ops.length > 0;
  }

  afterFlush(cb: () => void): void {
    if (this.ops.length === 0) cb();
    else this.callbacks.push(cb);
  }

  flush(): void {
    this.scheduled = false;
    if (this.closed || this.ops.length === 0) return;
    const ops = this.ops;
    try {
      this.commit(ops);
    } catch (err) {
      // Keep the batch (and the acknowledgements waiting on it) and try again shortly.
      this.opts.onError?.(err);
      if (!this.scheduled) {
        this.scheduled = true;
        setTimeout(() => this.flush(), 100).unref();
      }
      return;
    }
    this.ops = [];
    this.pendingQueued.clear();
    const cbs = this.callbacks;
    this.callbacks = [];
    for (const cb of cbs) cb();
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.db.close();
  }
}
