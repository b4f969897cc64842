/**
 * Who receives a message: client subscriptions, shared-subscription groups and in-process handlers,
 * each in its own topic trie, plus the fan-out from a matched set to session deliveries.
 */
import { parseSharedFilter } from '../protocol/index.js';
import type { Broker } from './broker.js';
import type { ClientInfo, MessageHandler } from './hooks.js';
import type { Message, QoS } from './message.js';
import type { Outgoing, Session, Subscription } from './session.js';
import { TopicTrie } from './topic-trie.js';

/**
 * Events the broker publishes under `$aws/events/` (clients may not) name a client, thing or job, so
 * their topics hardly recur: a client's presence topic comes back when it reconnects. Matched
 * through the tries' caches, a connection storm would fill them with one-off topics (two or three
 * per client), which then take old-generation memory until they are dropped.
 */
function isEventTopic(topic: string): boolean {
  return topic.charCodeAt(0) === 36 /* $ */ && topic.startsWith('$aws/events/');
}

/** The members of one `$share/{group}/{filter}`; messages go to one member at a time, round-robin. */
interface SharedGroup {
  readonly key: string;
  readonly members: Subscription[];
  next: number;
}

export class SubscriptionIndex {
  private readonly clients = new TopicTrie<Subscription>();
  private readonly shared = new TopicTrie<SharedGroup>();
  private readonly groups = new Map<string, SharedGroup>();
  private readonly internal = new TopicTrie<MessageHandler>();
  private nextHandlerId = 1;
  /** Sessions matched by the message being routed (reused; routing is not re-entrant). */
  private readonly matched: Session[] = [];
  private epoch = 0;
  private current: Message | null = null;

  constructor(private readonly broker: Broker) {}

  makeSubscription(session: Session, filter: string, qos: QoS, noLocal: boolean, retainAsPublished: boolean, retainHandling: 0 | 1 | 2, subscriptionId: number | null): Subscription {
    const sh = parseSharedFilter(filter);
    return { session, filter, topicFilter: sh ? sh.filter : filter, group: sh ? sh.group : null, qos, noLocal, retainAsPublished, retainHandling, subscriptionId };
  }

  /** Adds or replaces a session's subscription. Returns true when it is new. */
  add(s: Session, sub: Subscription): boolean {
    const existed = s.getSubscription(sub.filter) !== undefined;
    if (existed) this.remove(s, sub.filter);
    s.setSubscription(sub);
    if (sub.group === null) this.clients.add(sub.topicFilter, s.clientId, sub);
    else {
      const key = `${sub.group}\u0000${sub.topicFilter}`;
      let g = this.groups.get(key);
      if (g === undefined) {
        g = { key, members: [], next: 0 };
        this.groups.set(key, g);
        this.shared.add(sub.topicFilter, sub.group, g);
      }
      g.members.push(sub);
    }
    this.broker.stats.subscriptions++;
    return !existed;
  }

  remove(s: Session, filter: string): boolean {
    const sub = s.getSubscription(filter);
    if (sub === undefined) return false;
    s.deleteSubscription(filter);
    if (sub.group === null) this.clients.remove(sub.topicFilter, s.clientId);
    else {
      const key = `${sub.group}\u0000${sub.topicFilter}`;
      const g = this.groups.get(key);
      if (g !== undefined) {
        const i = g.members.indexOf(sub);
        if (i !== -1) g.members.splice(i, 1);
        if (g.members.length === 0) {
          this.groups.delete(key);
          this.shared.remove(sub.topicFilter, sub.group);
        }
      }
    }
    this.broker.stats.subscriptions--;
    return true;
  }

  removeAll(s: Session): void {
    for (const sub of s.listSubscriptions()) this.remove(s, sub.filter);
  }

  /** Merges overlapping subscriptions per session: one copy, highest QoS, all identifiers [MQTT-3.3.4-2/3]. */
  private readonly collect = (sub: Subscription, clientId: string): void => {
    if (sub.noLocal && this.current!.origin === clientId) return; // [MQTT-3.8.3-3]
    const s = sub.session;
    if (s.matchEpoch !== this.epoch) {
      s.matchEpoch = this.epoch;
      s.matchQos = sub.qos;
      s.matchRetainAsPublished = sub.retainAsPublished;
      s.matchSubIds = sub.subscriptionId === null ? null : [sub.subscriptionId];
      this.matched.push(s);
      return;
    }
    if (sub.qos > s.matchQos) s.matchQos = sub.qos;
    if (sub.retainAsPublished) s.matchRetainAsPublished = true;
    if (sub.subscriptionId !== null) (s.matchSubIds ??= []).push(sub.subscriptionId);
  };

  private readonly collectShared = (g: SharedGroup): void => {
    this.deliverShared(g, this.current!, null);
  };

  /** Fans a message out to every matching client subscription and one member of each shared group. */
  deliverToSubscribers(msg: Message): void {
    this.current = msg;
    this.epoch++;
    const matched = this.matched;
    try {
      if (isEventTopic(msg.topic)) this.clients.matchUncached(msg.topic, this.collect);
      else this.clients.match(msg.topic, this.collect);
      const b = this.broker;
      for (let i = 0; i < matched.length; i++) {
        const s = matched[i];
        const qos = (msg.qos < s.matchQos ? msg.qos : s.matchQos) as QoS;
        // [MQTT-3.3.1-9] live messages carry RETAIN 0 unless Retain As Published [MQTT-3.3.1-12].
        const retain = msg.retain && s.matchRetainAsPublished && s.protocolVersion === 5;
        b.deliver(s, msg, qos, retain, s.matchSubIds, null, null);
      }
      if (this.shared.size > 0) {
        if (isEventTopic(msg.topic)) this.shared.matchUncached(msg.topic, this.collectShared);
        else this.shared.match(msg.topic, this.collectShared);
      }
    } finally {
      matched.length = 0;
      this.current = null;
    }
  }

  /**
   * Delivers to one member of a shared group, round-robin, preferring connected members; `exclude`
   * skips the member a message is being taken away from. Returns false when no member could take it.
   */
  private deliverShared(g: SharedGroup, msg: Message, exclude: string | null, out?: Outgoing): boolean {
    const n = g.members.length;
    const sessions = this.broker.sessions;
    let fallback: Subscription | null = null;
    for (let i = 0; i < n; i++) {
      const sub = g.members[(g.next + i) % n];
      const clientId = sub.session.clientId;
      if (clientId === exclude) continue;
      const s = sessions.get(clientId);
      if (s === undefined) continue;
      if (s.conn === null || s.conn.state !== 'connected') {
        if (fallback === null && s.persistent) fallback = sub;
        continue;
      }
      g.next = (g.next + i + 1) % n;
      return this.deliverSharedTo(s, sub, msg, g, out);
    }
    if (fallback !== null && exclude === null) {
      const s = sessions.get(fallback.session.clientId)!;
      return this.deliverSharedTo(s, fallback, msg, g, out);
    }
    return false;
  }

  private deliverSharedTo(s: Session, sub: Subscription, msg: Message, g: SharedGroup, out?: Outgoing): boolean {
    const qos = (msg.qos < sub.qos ? msg.qos : sub.qos) as QoS;
    const retain = msg.retain && sub.retainAsPublished && s.protocolVersion === 5;
    const subIds = sub.subscriptionId === null ? null : [sub.subscriptionId];
    return this.broker.deliver(s, msg, qos, retain, subIds, g.key, out?.onSettled ?? null);
  }

  /**
   * A member of shared groups lost its connection: its unacknowledged and queued shared messages go
   * to another connected member of the same group, when there is one.
   */
  redispatchShared(s: Session): void {
    if (s.inflight.size === 0 && s.queue.length === 0) return;
    const moved: Outgoing[] = [];
    const b = this.broker;
    for (const out of s.inflight.values()) {
      if (out.shared !== null && this.moveShared(s, out)) moved.push(out);
    }
    for (const out of moved) {
      s.deleteInflight(out.packetId);
      b.stats.inflightMessages--;
      if (s.persistent) b.store.deleteQueued(s.clientId, out.seq);
    }
    if (s.queue.some((o) => o.shared !== null)) {
      const keep: Outgoing[] = [];
      for (const out of s.queue) {
        if (out.shared !== null && this.moveShared(s, out)) {
          b.stats.queuedMessages--;
          if (s.persistent) b.store.deleteQueued(s.clientId, out.seq);
        } else keep.push(out);
      }
      s.setQueue(keep);
    }
  }

  private moveShared(s: Session, out: Outgoing): boolean {
    const g = this.groups.get(out.shared!);
    if (g === undefined) return false;
    return this.deliverShared(g, out.message, s.clientId, out);
  }

  // ------------------------------------------------------------ in-process handlers

  addInternal(filter: string, handler: MessageHandler): () => void {
    const id = String(this.nextHandlerId++);
    this.internal.add(filter, id, handler);
    return () => {
      this.internal.remove(filter, id);
    };
  }

  deliverInternal(msg: Message, client: ClientInfo | null): void {
    if (this.internal.size === 0) return;
    const visit = (h: MessageHandler): void => {
      try {
        h(msg, client);
      } catch (err) {
        this.broker.logger.error({ err, topic: msg.topic }, 'in-process subscriber failed');
      }
    };
    if (isEventTopic(msg.topic)) this.internal.matchUncached(msg.topic, visit);
    else this.internal.match(msg.topic, visit);
  }
}
