/**
 * The broker: sessions, routing, retained messages, wills and the in-process API that other
 * capabilities use. Connections (connection.ts) translate packets into calls on this class.
 */
import { randomUUID } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import type mqttPacket from 'mqtt-packet';
import type { IPacket } from 'mqtt-packet';
import type { Logger } from 'pino';
import type { ClientDescription, Messaging, MqttConfig, PublishInput, RetainedMessageInfo } from '../core/index.js';
import { RC } from '../protocol/index.js';
import { validateTopicName } from '../protocol/index.js';
import { Connection } from './connection.js';
import type { AuthenticateRequest, AuthenticateResult, BrokerHooks, ClientInfo, MessageHandler } from './hooks.js';
import { connectedEvent, disconnectedEvent, emitsLifecycleEvents, PRESENCE_CONNECTED, PRESENCE_DISCONNECTED } from './lifecycle.js';
import { pickMessageProperties, type Message, type QoS } from './message.js';
import { MemoryBrokerStore } from './store-memory.js';
import type { BrokerStore } from './store.js';
import { Session, type Outgoing, type Will } from './session.js';
import { DROP_REASONS, createBrokerStats, type BrokerStats, type DropReason } from '../core/index.js';
import type { Transport } from './transport.js';
import { SubscriptionIndex } from './subscription-index.js';
import { DeadlineWheel } from './deadlines.js';
import { PacketDecoder } from './packet-decoder.js';
import { handleSubscribe, handleUnsubscribe } from './subscribe.js';
import { setLongTimeout } from './timers.js';

export interface BrokerOptions {
  config: MqttConfig;
  logger: Logger;
  /** Where durable state lives; omitted = memory only (nothing survives a restart). */
  store?: BrokerStore;
  hooks?: BrokerHooks;
}

const NEVER = 0xffffffff;
/** Basic Ingest topics: delivered to the rules engine only. */
const BASIC_INGEST_PREFIX = '$aws/rules/';
/** Reserved for events the platform publishes. */
const EVENTS_PREFIX = '$aws/events/';

export class Broker implements Messaging {
  readonly config: MqttConfig;
  readonly logger: Logger;
  readonly store: BrokerStore;
  readonly hooks: BrokerHooks;
  readonly stats: BrokerStats = createBrokerStats();
  readonly sessions = new Map<string, Session>();
  readonly index: SubscriptionIndex;
  readonly retained = new Map<string, Message>();
  /** Decodes non-PUBLISH packets for every connection (see packet-decoder.ts). */
  readonly decoder = new PacketDecoder();
  /** CONNECT timeouts and keep-alive checks of every connection, on one timer. */
  readonly deadlines: DeadlineWheel;
  /** When each retained message was stored (ms), for the data plane's lastModifiedTime; not persisted. */
  private readonly retainedAt = new Map<string, number>();
  private readonly connections = new Set<Connection>();
  private closing = false;
  private readonly dropLog = Object.fromEntries(DROP_REASONS.map((r) => [r, { at: 0, pending: 0 }])) as Record<DropReason, { at: number; pending: number }>;
  private routing = false;
  /** The client connection whose PUBLISH is being routed, for backpressure. */
  private publisher: Connection | null = null;
  /** Messages published while routing another: (message, client) pairs, flat. */
  private readonly pendingRoutes: (Message | ClientInfo | null)[] = [];
  /** Monotonic lifecycle `versionNumber`, seeded from the clock so it keeps rising across restarts. */
  private eventVersion = Date.now() * 1000;
  private readonly onMessage: ReadonlyArray<(m: Message, c: ClientInfo | null) => void>;

  constructor(opts: BrokerOptions) {
    this.config = opts.config;
    this.logger = opts.logger;
    this.store = opts.store ?? new MemoryBrokerStore();
    this.hooks = opts.hooks ?? {};
    this.onMessage = this.hooks.onMessage ?? [];
    this.index = new SubscriptionIndex(this);
    this.deadlines = new DeadlineWheel(250, Date.now, (err) => this.logger.error({ err }, 'error in a keep-alive or CONNECT-timeout check'));
    this.restore();
  }

  // ------------------------------------------------------------------ start-up

  /** Rebuilds sessions, subscriptions, queues and retained messages from the store. */
  private restore(): void {
    const snap = this.store.load();
    const now = Date.now();
    for (const r of snap.retained) {
      if (r.expiresAt !== 0 && r.expiresAt <= now) this.store.deleteRetained(r.topic);
      else {
        this.retained.set(r.topic, r);
        this.retainedAt.set(r.topic, now);
      }
    }
    this.stats.retainedMessages = this.retained.size;
    for (const st of snap.sessions) {
      const s = new Session(st.clientId, st.protocolVersion, st.expiryInterval, randomUUID());
      s.disconnectedAt = st.disconnectedAt ?? now;
      s.stored = true;
      if (st.disconnectedAt === null) this.store.putSession({ ...st, disconnectedAt: now });
      this.sessions.set(s.clientId, s);
      this.stats.sessions++;
    }
    for (const sub of snap.subscriptions) {
      const s = this.sessions.get(sub.clientId);
      if (s === undefined) continue;
      this.index.add(s, this.index.makeSubscription(s, sub.filter, sub.qos, sub.noLocal, sub.retainAsPublished, sub.retainHandling, sub.subscriptionId));
    }
    for (const q of snap.queued) {
      const s = this.sessions.get(q.clientId);
      if (s === undefined) continue;
      s.bumpSeq(q.seq);
      const out: Outgoing = { seq: q.seq, message: q.message, qos: q.qos, retain: q.retain, subscriptionIds: q.subscriptionIds, state: q.state, packetId: q.packetId, shared: null, onSettled: null };
      if (q.state === 'queued') {
        s.enqueue(out);
        this.stats.queuedMessages++;
      } else {
        s.setInflight(out);
        this.stats.inflightMessages++;
      }
    }
    for (const { clientId, packetId } of snap.incomingQos2) this.sessions.get(clientId)?.addIncomingQos2(packetId);
    for (const s of this.sessions.values()) this.scheduleExpiry(s);
    if (snap.sessions.length > 0) this.logger.info({ sessions: snap.sessions.length, queued: snap.queued.length, retained: this.retained.size }, 'restored broker state');
  }

  // ------------------------------------------------------------------ connections

  /** Listeners hand every accepted transport to the broker. */
  accept(transport: Transport): void {
    if (this.closing) {
      transport.destroy();
      return;
    }
    this.connections.add(new Connection(this, transport));
  }

  async handleConnect(conn: Connection, packet: mqttPacket.IConnectPacket): Promise<void> {
    const cfg = this.config;
    const v5 = conn.protocolVersion === 5;
    const props = v5 ? (packet.properties ?? {}) : {};
    conn.state = 'connecting';
    if (v5) {
      conn.requestProblemInformation = props.requestProblemInformation !== false;
      if (props.receiveMaximum !== undefined) conn.clientReceiveMaximum = props.receiveMaximum;
      if (props.maximumPacketSize !== undefined) conn.clientMaxPacketSize = props.maximumPacketSize;
      if (props.topicAliasMaximum !== undefined) conn.clientTopicAliasMaximum = props.topicAliasMaximum;
      // No enhanced authentication method is supported [MQTT-4.12.0-1].
      if (props.authenticationMethod !== undefined) return conn.refuseConnect(RC.BAD_AUTHENTICATION_METHOD, 'No authentication method is configured');
    }
    let clientId = packet.clientId;
    let assigned = false;
    if (clientId.includes('\uFFFD')) return conn.refuseConnect(RC.CLIENT_IDENTIFIER_NOT_VALID, 'Client identifier is not valid UTF-8');
    if (clientId.length === 0) {
      // [MQTT-3.1.3-8] 3.1.1 needs clean session for an empty id; MQTT 5 always gets one assigned [MQTT-3.2.2-16].
      if (!v5 && !packet.clean) return conn.refuseConnect(RC.CLIENT_IDENTIFIER_NOT_VALID);
      clientId = `tp-${randomUUID()}`;
      assigned = true;
    }
    if (Buffer.byteLength(clientId) > cfg.maxClientIdBytes) return conn.refuseConnect(RC.CLIENT_IDENTIFIER_NOT_VALID, `Client identifier longer than ${cfg.maxClientIdBytes} bytes`);

    let will: Will | null = null;
    if (packet.will !== undefined && packet.will !== null) {
      const w = packet.will;
      const rc = validateTopicName(w.topic, cfg);
      if (rc !== 0 || w.topic.includes('\uFFFD')) return conn.refuseConnect(RC.TOPIC_NAME_INVALID, 'Will topic is not valid');
      if ((w.qos ?? 0) > cfg.maxQos) return conn.refuseConnect(RC.QOS_NOT_SUPPORTED, `Maximum QoS is ${cfg.maxQos}`);
      if (w.retain && !cfg.retainAvailable) return conn.refuseConnect(RC.RETAIN_NOT_SUPPORTED);
      const payload = Buffer.from(w.payload);
      if (payload.length > cfg.maxPayloadBytes) return conn.refuseConnect(RC.PACKET_TOO_LARGE, 'Will payload too large');
      const wp = (w.properties ?? {}) as NonNullable<mqttPacket.IPublishPacket['properties']> & { willDelayInterval?: number };
      if (wp.payloadFormatIndicator === true && !isUtf8(payload)) return conn.refuseConnect(RC.PAYLOAD_FORMAT_INVALID); // [MQTT-3.1.2-? will payload format]
      const properties = pickMessageProperties(wp);
      const expiresAt = wp.messageExpiryInterval !== undefined ? -wp.messageExpiryInterval : 0; // relative until published
      will = { message: { topic: w.topic, payload, qos: (w.qos ?? 0) as QoS, retain: w.retain === true, properties, expiresAt, origin: clientId, headers: null }, delay: wp.willDelayInterval ?? 0 };
    }

    // Keep alive: a longer (or zero) request than allowed gets Server Keep Alive [MQTT-3.2.2-21].
    let keepAlive = packet.keepalive ?? 0;
    let serverKeepAlive: number | undefined;
    if (keepAlive === 0 || keepAlive > cfg.maxKeepAliveSeconds) {
      if (v5) {
        keepAlive = cfg.maxKeepAliveSeconds;
        serverKeepAlive = keepAlive;
      } else if (keepAlive > cfg.maxKeepAliveSeconds) keepAlive = cfg.maxKeepAliveSeconds;
    }

    const req: AuthenticateRequest = {
      clientId,
      username: packet.username ?? null,
      password: packet.password === undefined ? null : Buffer.from(packet.password),
      remoteAddress: conn.transport.remoteAddress,
      transport: conn.transport.kind,
      protocolVersion: conn.protocolVersion,
      peerCertificate: conn.transport.peerCertificate,
      httpRequest: conn.transport.httpRequest,
      serverName: conn.transport.serverName,
    };
    let auth: AuthenticateResult;
    try {
      auth = this.hooks.authenticate !== undefined ? await this.hooks.authenticate(req) : this.defaultAuthenticate(req);
    } catch (err) {
      this.logger.error({ err, clientId }, 'authenticate hook failed');
      auth = { ok: false, reasonCode: RC.UNSPECIFIED_ERROR };
    }
    if (conn.state !== 'connecting') return; // the client went away meanwhile
    if (!auth.ok) return conn.refuseConnect(auth.reasonCode, auth.reason);
    if (this.closing) return conn.refuseConnect(RC.SERVER_SHUTTING_DOWN);

    // Session takeover [MQTT-3.1.4-3]: the older connection is closed with 0x8E.
    let session = this.sessions.get(clientId);
    if (session?.conn != null) {
      const old = session.conn;
      old.close('DUPLICATE_CLIENTID', RC.SESSION_TAKEN_OVER);
      this.detach(old);
      session = this.sessions.get(clientId);
    }
    let expiry: number;
    let expiryChanged = false;
    if (v5) {
      const asked = props.sessionExpiryInterval ?? 0;
      expiry = Math.min(asked, cfg.maxSessionExpirySeconds);
      expiryChanged = expiry !== asked;
    } else expiry = packet.clean ? 0 : cfg.sessionExpirySeconds;

    if (session !== undefined && packet.clean) {
      this.endSession(session); // [MQTT-3.1.2-4] clean start discards the old session
      session = undefined;
    }
    const sessionPresent = session !== undefined;
    if (session === undefined) {
      session = new Session(clientId, conn.protocolVersion, expiry, randomUUID());
      this.sessions.set(clientId, session);
      this.stats.sessions++;
    } else {
      session.expiryTimer?.cancel();
      session.expiryTimer = null;
      this.cancelWill(session); // reconnected before the will delay passed [MQTT-3.1.3-9]
      if (session.persistent && expiry === 0) this.store.deleteSession(clientId);
    }
    session.expiryInterval = expiry;
    session.protocolVersion = conn.protocolVersion;
    session.disconnectedAt = null;
    session.will = will;
    if (session.persistent) {
      this.store.putSession({ clientId, expiryInterval: expiry, disconnectedAt: null, protocolVersion: conn.protocolVersion });
      session.stored = true;
    }
    conn.session = session;
    session.conn = conn;
    conn.info = {
      clientId,
      username: req.username,
      remoteAddress: req.remoteAddress,
      transport: req.transport,
      protocolVersion: conn.protocolVersion,
      principal: auth.principal ?? null,
      thingName: auth.thingName ?? null,
      authContext: auth.authContext ?? null,
      sessionIdentifier: session.sessionIdentifier,
    };
    conn.state = 'connected';
    this.stats.connections++;
    this.stats.connectionsTotal++;

    if (v5) {
      const p: Record<string, unknown> = {
        receiveMaximum: cfg.receiveMaximum,
        maximumPacketSize: cfg.maxPacketBytes,
        topicAliasMaximum: cfg.topicAliasMaximum,
      };
      if (cfg.maxQos < 2) p.maximumQoS = cfg.maxQos;
      if (!cfg.retainAvailable) p.retainAvailable = false;
      if (!cfg.wildcardSubscriptions) p.wildcardSubscriptionAvailable = false;
      if (!cfg.subscriptionIdentifiers) p.subscriptionIdentifiersAvailable = false;
      if (!cfg.sharedSubscriptions) p.sharedSubscriptionAvailable = false;
      if (serverKeepAlive !== undefined) p.serverKeepAlive = serverKeepAlive;
      if (assigned) p.assignedClientIdentifier = clientId;
      if (expiryChanged) p.sessionExpiryInterval = expiry;
      conn.writePacket({ cmd: 'connack', sessionPresent, reasonCode: 0, properties: p } as IPacket & { cmd: string });
    } else {
      conn.writeRaw(sessionPresent ? CONNACK_ACCEPTED_PRESENT : CONNACK_ACCEPTED);
    }
    conn.startKeepAlive(keepAlive);
    if (emitsLifecycleEvents(clientId)) this.publishEvent(PRESENCE_CONNECTED + clientId, connectedEvent(conn.info, this.eventVersion++));
    this.logger.debug({ clientId, remoteAddress: req.remoteAddress, sessionPresent }, 'client connected');

    // Resume: retransmit unacknowledged PUBLISH (DUP) and PUBREL, in order [MQTT-4.4.0-1].
    for (const out of session.inflight.values()) {
      if (out.state === 'pubrel') conn.writeAck(0x62, out.packetId, 0);
      else if (!conn.sendPublish(out, true)) this.settle(session, out, false);
    }
    this.pump(session);
    conn.resumeAfterConnect();
  }

  private defaultAuthenticate(req: AuthenticateRequest): AuthenticateResult {
    if (this.config.allowAnonymous || isLoopback(req.remoteAddress)) return { ok: true };
    return { ok: false, reasonCode: RC.NOT_AUTHORIZED, reason: 'Anonymous clients are admitted on loopback only (set allowAnonymous)' };
  }

  /** Called by a connection when its transport closed. */
  connectionClosed(conn: Connection, prevState: string): void {
    this.connections.delete(conn);
    if (conn.session === null || conn.session.conn !== conn) return; // never connected, or already detached
    void prevState;
    this.detach(conn);
  }

  /** Separates a connection from its session: lifecycle event, will, shared re-dispatch, session end. */
  private detach(conn: Connection): void {
    const s = conn.session!;
    if (s.conn !== conn) return;
    s.conn = null;
    s.disconnectedAt = Date.now();
    this.stats.connections--;
    const info = conn.info!;
    if (emitsLifecycleEvents(s.clientId)) {
      this.publishEvent(PRESENCE_DISCONNECTED + s.clientId, disconnectedEvent(info, this.eventVersion++, conn.disconnectReason, conn.clientInitiated));
    }
    this.logger.debug({ clientId: s.clientId, reason: conn.disconnectReason }, 'client disconnected');
    this.index.redispatchShared(s);
    const will = s.will;
    s.will = null;
    if (will !== null && conn.sendWill && !this.closing) {
      const delay = Math.min(will.delay, s.expiryInterval);
      if (delay === 0) this.publishWill(will, info);
      else
        s.willTimer = setLongTimeout(() => {
          s.willTimer = null;
          this.publishWill(will, info);
        }, delay * 1000);
    }
    if (!s.persistent) this.endSession(s);
    else {
      this.store.putSession({ clientId: s.clientId, expiryInterval: s.expiryInterval, disconnectedAt: s.disconnectedAt, protocolVersion: s.protocolVersion });
      s.stored = true;
      this.scheduleExpiry(s);
    }
  }

  private publishWill(will: Will, info: ClientInfo): void {
    const m = will.message;
    const msg: Message = { ...m, expiresAt: m.expiresAt < 0 ? Date.now() - m.expiresAt * 1000 : 0 };
    if (this.hooks.authorizePublish !== undefined && !this.hooks.authorizePublish(info, msg)) return;
    this.route(msg, info);
  }

  private cancelWill(s: Session): void {
    s.willTimer?.cancel();
    s.willTimer = null;
  }

  private scheduleExpiry(s: Session): void {
    if (s.conn !== null || s.expiryInterval === NEVER) return;
    const left = s.disconnectedAt! + s.expiryInterval * 1000 - Date.now();
    const expire = (): void => {
      s.expiryTimer = null;
      if (s.conn === null && this.sessions.get(s.clientId) === s) this.endSession(s);
    };
    if (left <= 0) expire();
    else s.expiryTimer = setLongTimeout(expire, left);
  }

  /** Ends a session: subscriptions, queue and stored state go; a pending delayed will is sent now. */
  endSession(s: Session): void {
    if (this.sessions.get(s.clientId) !== s) return;
    this.sessions.delete(s.clientId);
    this.stats.sessions--;
    s.expiryTimer?.cancel();
    s.expiryTimer = null;
    this.index.removeAll(s);
    for (const out of s.inflight.values()) out.onSettled?.(false);
    for (const out of s.queue) out.onSettled?.(false);
    const undelivered = s.queue.length + s.inflight.size;
    if (undelivered > 0) {
      this.noteDrop('session_expired', s.clientId, null, undelivered);
    }
    this.stats.inflightMessages -= s.inflight.size;
    this.stats.queuedMessages -= s.queue.length;
    s.clearDeliveries();
    // Only a session that was ever persistent has rows to delete (most clean sessions never touch storage).
    if (s.stored) this.store.deleteSession(s.clientId);
    // [MQTT-3.1.3-9] a delayed will goes out when the session ends, if its delay has not passed yet.
    s.willTimer?.fire();
    s.willTimer = null;
  }

  setSessionExpiry(s: Session, seconds: number): void {
    const wasPersistent = s.persistent;
    s.expiryInterval = Math.min(seconds, this.config.maxSessionExpirySeconds);
    if (s.persistent) {
      this.store.putSession({ clientId: s.clientId, expiryInterval: s.expiryInterval, disconnectedAt: null, protocolVersion: s.protocolVersion });
      s.stored = true;
    } else if (wasPersistent) this.store.deleteSession(s.clientId);
  }

  // ------------------------------------------------------------------ publishing

  /**
   * A PUBLISH from a client, already validated by the connection. Returns the reason code for the
   * acknowledgement, or -1 when the connection was closed instead.
   */
  publishFromClient(conn: Connection, msg: Message): number {
    const info = conn.info!;
    if (msg.topic.startsWith(EVENTS_PREFIX)) {
      // AWS IoT: `$aws/events/...` is published by the service only; a client that tries is disconnected (CLIENT_ERROR).
      conn.close('CLIENT_ERROR', RC.NOT_AUTHORIZED);
      return -1;
    }
    if (this.hooks.authorizePublish !== undefined && !this.hooks.authorizePublish(info, msg)) {
      this.noteDrop('not_authorized', info.clientId, msg.topic);
      if (conn.protocolVersion === 5 && msg.qos > 0) return RC.NOT_AUTHORIZED;
      // 3.1.1 has no negative acknowledgement: AWS IoT disconnects the client.
      conn.close('FORBIDDEN_ACCESS', RC.NOT_AUTHORIZED);
      return -1;
    }
    // The payload may be a view into the socket's read buffer; anything kept beyond this tick gets a copy.
    if (msg.qos > 0 || msg.retain) msg.payload = Buffer.from(msg.payload);
    this.publisher = this.config.publisherBackpressure ? conn : null;
    try {
      this.route(msg, info);
    } finally {
      this.publisher = null;
    }
    return 0;
  }

  /**
   * Routes a message to retained storage, subscribers, in-process handlers and onMessage hooks.
   * Not re-entrant: a message published by a handler while another is being routed is routed right
   * after it, in order.
   */
  route(msg: Message, client: ClientInfo | null): void {
    if (this.routing) {
      this.pendingRoutes.push(msg, client);
      return;
    }
    this.routing = true;
    try {
      this.routeOne(msg, client);
      const pending = this.pendingRoutes;
      for (let i = 0; i < pending.length; i += 2) this.routeOne(pending[i] as Message, pending[i + 1] as ClientInfo | null);
    } finally {
      this.pendingRoutes.length = 0;
      this.routing = false;
    }
  }

  private routeOne(msg: Message, client: ClientInfo | null): void {
    // Basic Ingest: `$aws/rules/{rule}/...` goes to the rules engine (an in-process subscriber) only,
    // never to subscribers or retained storage (AWS IoT developer guide, "Reducing messaging costs with Basic Ingest").
    if (msg.topic.startsWith(BASIC_INGEST_PREFIX)) {
      this.index.deliverInternal(msg, client);
      return;
    }
    if (msg.retain) this.setRetained(msg);
    this.index.deliverToSubscribers(msg);
    this.index.deliverInternal(msg, client);
    const hooks = this.onMessage;
    for (let i = 0; i < hooks.length; i++) {
      try {
        hooks[i](msg, client);
      } catch (err) {
        this.logger.error({ err, topic: msg.topic }, 'onMessage hook failed');
      }
    }
  }

  private setRetained(msg: Message): void {
    if (msg.payload.length === 0) {
      // [MQTT-3.3.1-10/11] an empty retained message clears the topic and is not stored.
      this.retainedAt.delete(msg.topic);
      if (this.retained.delete(msg.topic)) this.store.deleteRetained(msg.topic);
    } else {
      this.retained.set(msg.topic, msg);
      this.retainedAt.set(msg.topic, Date.now());
      this.store.putRetained(msg);
    }
    this.stats.retainedMessages = this.retained.size;
  }

  /**
   * Hands one delivery to a session: QoS 0 goes out now or not at all; QoS 1/2 enters the in-flight
   * window or the bounded queue (stored when the session is persistent).
   */
  deliver(
    s: Session,
    msg: Message,
    qos: QoS,
    retain: boolean,
    subIds: number[] | null,
    shared: string | null,
    onSettled: ((ok: boolean) => void) | null,
    /** Retained messages replayed on SUBSCRIBE: already stored, so they may exceed the queue bound. */
    replay = false,
  ): boolean {
    const conn = s.conn;
    if (this.hooks.authorizeReceive !== undefined && conn !== null && conn.info !== null && !this.hooks.authorizeReceive(conn.info, msg)) {
      this.noteDrop('not_authorized', s.clientId, msg.topic);
      onSettled?.(false);
      return false;
    }
    if (qos === 0) {
      if (conn === null || conn.state !== 'connected') {
        onSettled?.(false);
        return false;
      }
      const ok = conn.sendMessage(msg, 0, retain, subIds, 0, false);
      if (this.publisher !== null && conn.congested()) this.publisher.pauseFor(conn);
      onSettled?.(ok);
      return ok;
    }
    const online = conn !== null && conn.state === 'connected';
    const windowFree = online && s.inflight.size < Math.min(conn.clientReceiveMaximum, this.config.maxInflight) && s.queue.length === 0;
    if (!windowFree && !replay && s.queue.length >= this.config.maxQueuedMessages) {
      this.noteDrop('queue_full', s.clientId, msg.topic);
      onSettled?.(false);
      return false;
    }
    const out: Outgoing = { seq: s.allocSeq(), message: msg, qos, retain, subscriptionIds: subIds, state: 'queued', packetId: 0, shared, onSettled };
    if (s.persistent) this.store.putQueued(s.clientId, out);
    if (windowFree) this.send(s, out);
    else {
      s.enqueue(out);
      this.stats.queuedMessages++;
    }
    // Slow the publisher down before this receiver's queue overflows.
    if (online && this.publisher !== null && conn.congested()) this.publisher.pauseFor(conn);
    return true;
  }

  private send(s: Session, out: Outgoing): void {
    // A message queued while the client was offline (or before a policy change) is checked again
    // now that the receiving connection is known [iot:Receive].
    const conn = s.conn!;
    const authz = this.hooks.authorizeReceive;
    if (authz !== undefined && conn.info !== null && !authz(conn.info, out.message)) {
      this.noteDrop('not_authorized', s.clientId, out.message.topic);
      if (s.persistent) this.store.deleteQueued(s.clientId, out.seq);
      out.onSettled?.(false);
      return;
    }
    const id = s.allocPacketId();
    out.packetId = id;
    out.state = 'sent';
    s.setInflight(out);
    this.stats.inflightMessages++;
    if (s.persistent) this.store.updateQueued(s.clientId, out.seq, 'sent', id);
    if (!s.conn!.sendPublish(out, false)) this.settle(s, out, false);
  }

  /** Fills the in-flight window from the queue. */
  pump(s: Session): void {
    const conn = s.conn;
    if (conn === null || conn.state !== 'connected') return;
    const window = Math.min(conn.clientReceiveMaximum, this.config.maxInflight);
    while (s.inflight.size < window && s.queue.length > 0) {
      const out = s.dequeue();
      this.stats.queuedMessages--;
      this.send(s, out);
    }
  }

  /**
   * Counts a dropped message and logs it — at most once per reason every 10 seconds, with the count
   * since the last line, so a storm of drops cannot flood the log (nor go unnoticed).
   */
  noteDrop(reason: DropReason, clientId: string, topic: string | null, n = 1): void {
    this.stats.dropped[reason] += n;
    const now = Date.now();
    const last = this.dropLog[reason];
    last.pending += n;
    if (now - last.at < 10_000) return;
    this.logger.warn({ reason, clientId, topic, dropped: last.pending, limit: reason === 'queue_full' ? this.config.maxQueuedMessages : undefined }, 'messages dropped: %s', reason);
    last.at = now;
    last.pending = 0;
  }

  /** A delivery is finished: acknowledged by the client (PUBACK/PUBCOMP) or dropped. */
  settle(s: Session, out: Outgoing, delivered: boolean): void {
    if (s.inflight.get(out.packetId) === out) {
      s.deleteInflight(out.packetId);
      this.stats.inflightMessages--;
    }
    if (s.persistent) this.store.deleteQueued(s.clientId, out.seq);
    out.onSettled?.(delivered);
    this.pump(s);
  }

  handleSubscribe(conn: Connection, packet: mqttPacket.ISubscribePacket): void {
    handleSubscribe(this, conn, packet);
  }

  handleUnsubscribe(conn: Connection, packet: mqttPacket.IUnsubscribePacket): void {
    handleUnsubscribe(this, conn, packet);
  }

  /** Publishes a lifecycle event (QoS 1, not retained). */
  publishEvent(topic: string, payload: Buffer): void {
    this.route({ topic, payload, qos: 1, retain: false, properties: null, expiresAt: 0, origin: null, headers: null }, null);
  }

  // ------------------------------------------------------------------ in-process API

  /**
   * Publishes a message from the platform (rules, shadows, HTTP). Resolves once it is stored where
   * durability requires; rejects with a message naming the problem when the topic is invalid.
   */
  publish(input: PublishInput): Promise<void> {
    const rc = validateTopicName(input.topic, { maxTopicBytes: 65_535, maxTopicSlashes: 1_000 });
    if (rc !== 0) return Promise.reject(new Error(`invalid topic name: ${JSON.stringify(input.topic)}`));
    const qos = Math.min(input.qos ?? 0, this.config.maxQos) as QoS;
    const payload = typeof input.payload === 'string' ? Buffer.from(input.payload) : Buffer.from(input.payload);
    const expiresAt = input.messageExpiryInterval !== undefined ? Date.now() + input.messageExpiryInterval * 1000 : 0;
    this.route({ topic: input.topic, payload, qos, retain: input.retain === true && this.config.retainAvailable, properties: input.properties ?? null, expiresAt, origin: null, headers: null }, null);
    return new Promise((resolve) => this.store.afterFlush(resolve));
  }

  /**
   * Subscribes an in-process handler (shadow service, jobs, rules). Handlers run synchronously on
   * the publish path and must not block. Returns the function that unsubscribes.
   */
  subscribe(filter: string, handler: MessageHandler): () => void {
    return this.index.addInternal(filter, handler);
  }

  /**
   * Delivers a message to one connected client whether or not it subscribed (AWS Jobs replies,
   * SendDirectMessage); it does not reach subscribers, rules or retained storage. Returns false when
   * the client is not connected. `onSettled(true)` follows the client's PUBACK for QoS 1.
   */
  deliverDirect(clientId: string, input: PublishInput, onSettled?: (delivered: boolean) => void): boolean {
    const s = this.sessions.get(clientId);
    if (s === undefined || s.conn === null || s.conn.state !== 'connected') return false;
    const qos = Math.min(input.qos ?? 0, this.config.maxQos) as QoS;
    const payload = typeof input.payload === 'string' ? Buffer.from(input.payload) : Buffer.from(input.payload);
    const expiresAt = input.messageExpiryInterval !== undefined ? Date.now() + input.messageExpiryInterval * 1000 : 0;
    const msg: Message = { topic: input.topic, payload, qos, retain: false, properties: input.properties ?? null, expiresAt, origin: null, headers: null };
    return this.deliver(s, msg, qos, false, null, null, onSettled ?? null);
  }

  /** What GetConnection reports about a client, or null when there is no session. */
  describeClient(clientId: string): ClientDescription | null {
    const s = this.sessions.get(clientId);
    if (s === undefined) return null;
    const subscriptions = s.listSubscriptions().map((sub) => ({ filter: sub.filter, qos: sub.qos }));
    return { connected: s.conn !== null, info: s.conn?.info ?? null, disconnectedAt: s.disconnectedAt, subscriptions };
  }

  /** The retained message of a topic (exact name), or null; expired ones are not reported. */
  getRetained(topic: string): RetainedMessageInfo | null {
    const m = this.retained.get(topic);
    if (m === undefined || (m.expiresAt !== 0 && m.expiresAt <= Date.now())) return null;
    return { topic, payload: m.payload, qos: m.qos, properties: m.properties, lastModifiedTime: this.retainedAt.get(topic) ?? 0 };
  }

  /** Retained messages in topic order after `afterTopic`, at most `limit` (sorts per call: a page read, not a hot path). */
  listRetained(afterTopic: string | null, limit: number): RetainedMessageInfo[] {
    const topics = [...this.retained.keys()].filter((t) => afterTopic === null || t > afterTopic).sort();
    const out: RetainedMessageInfo[] = [];
    for (const t of topics) {
      if (out.length >= limit) break;
      const info = this.getRetained(t);
      if (info !== null) out.push(info);
    }
    return out;
  }

  /**
   * Disconnects every connected client `match` selects (a revoked certificate's, a deleted
   * thing's...), like DeleteConnection without cleaning sessions. Returns how many.
   */
  disconnectWhere(match: (client: ClientInfo) => boolean): number {
    let n = 0;
    for (const s of [...this.sessions.values()]) {
      const info = s.conn?.info;
      if (info != null && match(info) && this.disconnectClient(s.clientId)) n++;
    }
    return n;
  }

  /**
   * Disconnects a client from the server side (DeleteConnection): `cleanSession` also ends its
   * session, `preventWill` suppresses its will. Returns false when it is not connected.
   */
  disconnectClient(
    clientId: string,
    opts: { cleanSession?: boolean; preventWill?: boolean; reason?: 'API_INITIATED_DISCONNECT' | 'CUSTOMAUTH_TTL_EXPIRATION' } = {},
  ): boolean {
    const s = this.sessions.get(clientId);
    if (s === undefined || s.conn === null) return false;
    const conn = s.conn;
    if (opts.preventWill === true) conn.sendWill = false;
    conn.close(opts.reason ?? 'API_INITIATED_DISCONNECT', RC.ADMINISTRATIVE_ACTION);
    this.detach(conn);
    if (opts.cleanSession === true) this.endSession(s);
    return true;
  }

  /** Number of open connections (including ones not yet past CONNECT). */
  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Graceful shutdown: stop accepting, MQTT 5 clients get DISCONNECT 0x8B, sessions are marked
   * disconnected and the store is flushed.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const closed: Promise<void>[] = [];
    for (const conn of this.connections) {
      conn.sendWill = false; // a shutdown is not the client's failure
      closed.push(new Promise<void>((resolve) => conn.onClosed(resolve)));
      conn.close('SERVER_INITIATED_DISCONNECT', RC.SERVER_SHUTTING_DOWN);
    }
    await Promise.race([Promise.all(closed), new Promise((r) => setTimeout(r, 3_000).unref())]);
    for (const s of this.sessions.values()) {
      s.expiryTimer?.cancel();
      s.willTimer?.cancel();
    }
    this.deadlines.stop();
    this.store.flush();
  }
}

/** 3.1.1 CONNACK, accepted (return code 0), without and with Session Present [MQTT-3.2.2]. Written as is, never modified. */
const CONNACK_ACCEPTED = Buffer.from([0x20, 0x02, 0x00, 0x00]);
const CONNACK_ACCEPTED_PRESENT = Buffer.from([0x20, 0x02, 0x01, 0x00]);

function isLoopback(addr: string): boolean {
  return addr === '::1' || addr.startsWith('127.') || addr === 'localhost';
}

