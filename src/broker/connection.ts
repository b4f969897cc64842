/**
 * One network connection speaking MQTT 3.1.1 or 5.0: framing, decoding, keep-alive, flow control and
 * the per-packet rules of the spec. Routing, sessions and storage belong to the broker; this file only
 * translates between packets and broker calls. Spec clauses are cited where they decide.
 */
import mqttPacket from 'mqtt-packet';
import type { IPacket, Packet } from 'mqtt-packet';
import type { DeadlineItem } from './deadlines.js';
import { isUtf8 } from 'node:buffer';
import { Framer, RC, connackReturnCodeV3, decodePublish, encodePublishHeader, reasonText, validateTopicName } from '../protocol/index.js';
import type { DecodedPublish, PublishProperties } from '../protocol/index.js';
import type { Broker } from './broker.js';
import type { ClientInfo } from './hooks.js';
import { pickMessageProperties, type Message, type MessageProperties, type QoS } from './message.js';
import type { Outgoing, Session } from './session.js';
import type { Transport, TransportEvents } from './transport.js';
import type { PacketSink } from '../protocol/index.js';

// mqtt-packet encodes 2-byte numbers from a table of 65,536 small Buffers (about 6 MB) built on the
// first encode; the few control packets it writes for us do not need it.
mqttPacket.writeToStream.cacheNumbers = false;

/** AWS IoT's DisconnectReason values used in lifecycle events. */
export type DisconnectReason =
  | 'CLIENT_INITIATED_DISCONNECT'
  | 'CLIENT_ERROR'
  | 'CONNECTION_LOST'
  | 'DUPLICATE_CLIENTID'
  | 'FORBIDDEN_ACCESS'
  | 'MQTT_KEEP_ALIVE_TIMEOUT'
  | 'SERVER_ERROR'
  | 'SERVER_INITIATED_DISCONNECT'
  | 'API_INITIATED_DISCONNECT'
  | 'CUSTOMAUTH_TTL_EXPIRATION'
  | 'AUTH_ERROR'
  | 'THROTTLED';

type State = 'new' | 'connecting' | 'connected' | 'closing' | 'closed';

/** Seconds a fresh socket may take to send CONNECT. */
const CONNECT_TIMEOUT_MS = 10_000;
/** QoS 0 messages are dropped (and counted) for a receiver with this much unsent output. */
const QOS0_BACKLOG_BYTES = 4 * 1024 * 1024;
/** A receiver with this much unsent output slows down the publishers feeding it (backpressure). */
const CONGESTED_BYTES = 256 * 1024;
/** How often a paused publisher checks whether its receiver caught up, and how long it waits at most. */
const BACKPRESSURE_POLL_MS = 5;
const BACKPRESSURE_MAX_PAUSE_MS = 5_000;

type AnyPacket = Packet & { cmd: string };

/**
 * A Connection is its own transport listener, packet sink and deadline: an idle connection costs its
 * fields and nothing else (no closures, no timer objects).
 */
export class Connection implements TransportEvents, PacketSink, DeadlineItem {
  state: State = 'new';
  protocolVersion = 4;
  session: Session | null = null;
  info: ClientInfo | null = null;
  /** Why this connection ended, for the lifecycle event. */
  disconnectReason: DisconnectReason = 'CONNECTION_LOST';
  clientInitiated = false;
  /** Publish the will when the connection ends (cleared by a normal DISCONNECT). */
  sendWill = true;
  keepAliveMs = 0;
  lastRx = Date.now();
  /** Client's limits (MQTT 5 CONNECT properties). */
  clientReceiveMaximum = 65535;
  clientMaxPacketSize = 268_435_460;
  clientTopicAliasMaximum = 0;
  requestProblemInformation = true;
  readonly connectedAt = Date.now();

  /** Owned by the broker's DeadlineWheel (CONNECT timeout, then keep-alive). */
  deadlineSlot = 0;
  private readonly framer: Framer;
  private corked = false;
  /** Packets received while the CONNECT is being authenticated. */
  private backlog: Buffer[] | null = null;
  /** Inbound topic aliases [MQTT-3.3.2-12]. */
  private inAliases: Map<number, string> | null = null;
  /** Outbound topic aliases we assigned. */
  private outAliases: Map<string, number> | null = null;
  /** QoS 1/2 publishes received and not yet fully acknowledged (our Receive Maximum). */
  private inboundUnacked = 0;
  /** Acknowledgements waiting for storage, kept in order [MQTT-4.6.0-2]. */
  private pendingAcks: Buffer[] | null = null;
  private ackWaiting = false;
  /**
   * The store batch the registered callback waits for, and the index of the first pending ack whose
   * message went into a later batch (-1: none). A batch may be held back a turn (store-write-behind.ts),
   * so an ack must not go out with the commit of an earlier batch than its own.
   */
  private ackBatch = 0;
  private ackSplit = -1;
  /** Created on first use: most connections never wait for storage. */
  private flushAcks: (() => void) | null = null;
  private closedCallbacks: (() => void)[] | null = null;
  /** Backpressure: the receiver this publisher waits for while its socket is not being read. */
  private waitingOn: Connection | null = null;
  private pausedAt = 0;
  private pauseTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly broker: Broker,
    readonly transport: Transport,
  ) {
    this.framer = new Framer(broker.config.maxPacketBytes, this);
    transport.bind(this);
    broker.deadlines.schedule(this, this.connectedAt + CONNECT_TIMEOUT_MS);
  }

  get clientId(): string {
    return this.session?.clientId ?? '';
  }

  // ---------------------------------------------------------------- input

  /** Transport event: bytes arrived. */
  onData(chunk: Buffer): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.lastRx = Date.now();
    this.broker.stats.bytesIn += chunk.length;
    let rc: number;
    try {
      rc = this.framer.push(chunk);
    } catch (err) {
      // A bug or a failing hook must cost this connection at most, never the process.
      this.broker.logger.error({ err, clientId: this.clientId }, 'error while handling a packet; closing the connection');
      this.close('SERVER_ERROR', RC.IMPLEMENTATION_SPECIFIC_ERROR);
      return;
    }
    if (rc !== 0) this.protocolViolation(rc);
  }

  /** Framer sink: one complete packet. */
  onPacket(raw: Buffer): void {
    if (this.state === 'connecting') {
      // CONNECT is being authenticated: keep what follows in order.
      (this.backlog ??= []).push(Buffer.from(raw));
      return;
    }
    if (this.state !== 'new' && this.state !== 'connected') return;
    const type = raw[0] >> 4;
    if (this.state === 'new') {
      if (type !== 1) return this.destroy('CLIENT_ERROR'); // [MQTT-3.1.0-1] first packet must be CONNECT
      const version = connectProtocolLevel(raw);
      if (version !== 3 && version !== 4 && version !== 5) {
        // [MQTT-3.1.2-2] unsupported protocol name or level: refuse and close. A client newer than
        // MQTT 5 (or not speaking MQTT at all) gets 0x84 Unsupported Protocol Version; an older one
        // the 3.1.1 return code 0x01 that it understands.
        const rc = version > 5 || version === -2 ? RC.UNSUPPORTED_PROTOCOL_VERSION : 0x01;
        this.writeRaw(Buffer.from([0x20, 0x02, 0x00, rc]));
        return this.close('CLIENT_ERROR');
      }
      this.protocolVersion = version;
      // [MQTT-3.1.2-22] (3.1.1) a password without a user name is not allowed; MQTT 5 allows it.
      if (version !== 5 && (connectFlags(raw) & 0xc0) === 0x40) return this.destroy('CLIENT_ERROR');
    } else if (type === 1) {
      return this.protocolViolation(RC.PROTOCOL_ERROR); // [MQTT-3.1.0-2] a second CONNECT
    }
    if (type >= 4 && type <= 7 && raw[1] === 2 && this.state === 'connected') {
      // PUBACK, PUBREC, PUBREL, PUBCOMP with just a packet id (every 3.1.1 one, and MQTT 5's success
      // case): after PUBLISH the most frequent packets, so read here rather than by mqtt-packet. The
      // framer has checked the fixed header's flags [MQTT-2.1.3-1]; anything longer (reason code,
      // properties) takes the general decoder below.
      const packetId = raw.readUInt16BE(2);
      if (type === 4) return this.onPuback(packetId);
      if (type === 5) return this.onPubrec(packetId, 0);
      if (type === 6) return this.onPubrel(packetId);
      return this.onPubcomp(packetId);
    }
    if (type === 3) {
      // The hot path: PUBLISH is decoded by index, without mqtt-packet.
      const p = decodePublish(raw, this.protocolVersion);
      if (typeof p === 'number') return this.protocolViolation(p);
      return this.onPublish(p);
    }
    const packet = this.decode(raw);
    if (packet === null) return;
    if (this.state === 'new') {
      this.broker.handleConnect(this, packet as mqttPacket.IConnectPacket).catch((err: unknown) => {
        this.broker.logger.error({ err }, 'error while handling CONNECT; closing the connection');
        this.destroy('SERVER_ERROR');
      });
    }
    else this.dispatch(packet);
  }

  private decode(raw: Buffer): AnyPacket | null {
    const packet = this.broker.decoder.decode(raw, this.protocolVersion);
    if (packet === null) this.protocolViolation(RC.MALFORMED_PACKET);
    return packet;
  }

  /** Processes packets that arrived while CONNECT was being authenticated. */
  resumeAfterConnect(): void {
    const backlog = this.backlog;
    this.backlog = null;
    if (backlog === null) return;
    try {
      for (const raw of backlog) this.onPacket(raw);
    } catch (err) {
      this.broker.logger.error({ err, clientId: this.clientId }, 'error while handling a packet; closing the connection');
      this.close('SERVER_ERROR', RC.IMPLEMENTATION_SPECIFIC_ERROR);
    }
  }

  private dispatch(p: AnyPacket): void {
    switch (p.cmd) {
      case 'puback':
        return this.onPuback((p as mqttPacket.IPubackPacket).messageId!);
      case 'pubrec':
        return this.onPubrec((p as mqttPacket.IPubrecPacket).messageId!, (p as mqttPacket.IPubrecPacket).reasonCode ?? 0);
      case 'pubrel':
        return this.onPubrel((p as mqttPacket.IPubrelPacket).messageId!);
      case 'pubcomp':
        return this.onPubcomp((p as mqttPacket.IPubcompPacket).messageId!);
      case 'subscribe':
        return this.broker.handleSubscribe(this, p as mqttPacket.ISubscribePacket);
      case 'unsubscribe':
        return this.broker.handleUnsubscribe(this, p as mqttPacket.IUnsubscribePacket);
      case 'pingreq':
        this.writeRaw(PINGRESP);
        return;
      case 'disconnect':
        return this.onDisconnect(p as mqttPacket.IDisconnectPacket);
      case 'auth':
        // No enhanced authentication method is configured: AUTH is a protocol error [MQTT-4.12.0-1].
        return this.protocolViolation(RC.PROTOCOL_ERROR);
      default:
        // CONNACK, SUBACK, ... are server-to-client packets.
        return this.protocolViolation(RC.PROTOCOL_ERROR);
    }
  }

  private onPublish(p: DecodedPublish): void {
    const cfg = this.broker.config;
    const qos = p.qos;
    const v5 = this.protocolVersion === 5;
    const packetId = p.packetId;
    if (qos > 0 && packetId === 0) return this.protocolViolation(RC.PROTOCOL_ERROR); // [MQTT-2.2.1-3]
    if (qos > cfg.maxQos) return this.protocolViolation(RC.QOS_NOT_SUPPORTED); // [MQTT-3.2.2-11]
    if (p.retain && !cfg.retainAvailable) return this.protocolViolation(RC.RETAIN_NOT_SUPPORTED); // [MQTT-3.2.2-14]
    let topic = p.topic;
    const props = p.properties;
    if (props !== null && props.topicAlias !== undefined) {
      const alias = props.topicAlias;
      if (alias === 0 || alias > cfg.topicAliasMaximum) return this.protocolViolation(RC.TOPIC_ALIAS_INVALID); // [MQTT-3.3.2-8/9]
      if (topic.length > 0) (this.inAliases ??= new Map()).set(alias, topic);
      else {
        const known = this.inAliases?.get(alias);
        if (known === undefined) return this.protocolViolation(RC.PROTOCOL_ERROR); // alias never set on this connection
        topic = known;
      }
    }
    const trc = validateTopicName(topic, cfg);
    if (trc !== 0) return this.protocolViolation(trc);
    const payload = p.payload;
    if (payload.length > cfg.maxPayloadBytes) return this.protocolViolation(RC.PACKET_TOO_LARGE);

    if (qos > 0) {
      if (qos === 2 && this.session!.hasIncomingQos2(packetId)) {
        // Retransmission of a QoS 2 message we already took: acknowledge again, deliver nothing [MQTT-4.3.3-9].
        this.writeAck(0x50, packetId, 0);
        return;
      }
      if (++this.inboundUnacked > cfg.receiveMaximum && v5) return this.protocolViolation(RC.RECEIVE_MAXIMUM_EXCEEDED); // [MQTT-3.3.4-7]
    }

    let properties: MessageProperties | null = null;
    let expiresAt = 0;
    if (props !== null) {
      if (props.payloadFormatIndicator === true && !isUtf8(payload)) {
        // [MQTT-3.3.2-4] PUBACK/PUBREC 0x99, or DISCONNECT for QoS 0.
        if (qos === 0) return this.protocolViolation(RC.PAYLOAD_FORMAT_INVALID);
        this.inboundUnacked--;
        this.writeAck(qos === 1 ? 0x40 : 0x50, packetId, RC.PAYLOAD_FORMAT_INVALID);
        return;
      }
      properties = pickMessageProperties(props);
      if (props.messageExpiryInterval !== undefined) expiresAt = Date.now() + props.messageExpiryInterval * 1000;
    }
    this.broker.stats.messagesIn[qos]++;
    const message: Message = {
      topic,
      payload,
      qos,
      retain: p.retain,
      properties,
      expiresAt,
      origin: this.session!.clientId,
      headers: null,
    };
    const rc = this.broker.publishFromClient(this, message);
    if (rc < 0) return; // connection closed by the broker (not authorized, 3.1.1)
    if (qos === 0) return;
    if (qos === 2 && rc < 0x80) {
      this.session!.addIncomingQos2(packetId);
      if (this.session!.persistent) this.broker.store.putIncomingQos2(this.session!.clientId, packetId);
    }
    if (qos === 1) this.inboundUnacked--;
    else if (rc >= 0x80) this.inboundUnacked--;
    this.writeAck(qos === 1 ? 0x40 : 0x50, packetId, rc);
  }

  private onPuback(packetId: number): void {
    const out = this.session!.inflight.get(packetId);
    if (out === undefined || out.qos !== 1) return; // unknown id: ignore
    this.broker.settle(this.session!, out, true);
  }

  private onPubrec(packetId: number, reasonCode: number): void {
    const s = this.session!;
    const out = s.inflight.get(packetId);
    if (out === undefined || out.qos !== 2) {
      // [MQTT-4.3.3] v5: PUBREL with 0x92 for an unknown packet id.
      if (this.protocolVersion === 5) this.writeAck(0x62, packetId, RC.PACKET_IDENTIFIER_NOT_FOUND);
      return;
    }
    if (reasonCode >= 0x80) return this.broker.settle(s, out, false); // receiver refused it
    if (out.state !== 'pubrel') {
      out.state = 'pubrel';
      if (s.persistent) this.broker.store.updateQueued(s.clientId, out.seq, 'pubrel', out.packetId);
    }
    this.writeAck(0x62, out.packetId, 0);
  }

  private onPubrel(packetId: number): void {
    const s = this.session!;
    const id = packetId;
    const known = s.deleteIncomingQos2(id);
    if (known) {
      this.inboundUnacked--;
      if (s.persistent) this.broker.store.deleteIncomingQos2(s.clientId, id);
    }
    this.writeAck(0x70, id, known || this.protocolVersion !== 5 ? 0 : RC.PACKET_IDENTIFIER_NOT_FOUND);
  }

  private onPubcomp(packetId: number): void {
    const out = this.session!.inflight.get(packetId);
    if (out === undefined || out.qos !== 2) return;
    this.broker.settle(this.session!, out, true);
  }

  private onDisconnect(p: mqttPacket.IDisconnectPacket): void {
    const s = this.session!;
    const rc = p.reasonCode ?? 0;
    const sei = p.properties?.sessionExpiryInterval;
    if (sei !== undefined) {
      // [MQTT-3.14.2-2] a session that ended with the connection cannot be revived by DISCONNECT.
      if (s.expiryInterval === 0 && sei !== 0) return this.protocolViolation(RC.PROTOCOL_ERROR);
      this.broker.setSessionExpiry(s, sei);
    }
    this.sendWill = rc === RC.DISCONNECT_WITH_WILL; // [MQTT-3.14.4-3] normal DISCONNECT discards the will
    this.clientInitiated = true;
    this.disconnectReason = 'CLIENT_INITIATED_DISCONNECT';
    this.state = 'closing';
    this.transport.end();
  }

  // ---------------------------------------------------------------- output

  /** Writes bytes, coalescing everything written in one tick into one socket write. */
  writeRaw(buf: Buffer): boolean {
    if (this.state === 'closed') return false;
    if (!this.corked) {
      this.corked = true;
      this.transport.cork();
      process.nextTick(uncork, this);
    }
    this.broker.stats.bytesOut += buf.length;
    return this.transport.write(buf);
  }

  /** Encodes and writes a control packet. */
  writePacket(packet: IPacket & { cmd: string }): void {
    let buf: Buffer;
    try {
      buf = mqttPacket.generate(packet as Packet, { protocolVersion: this.protocolVersion });
    } catch (err) {
      this.broker.logger.error({ err, clientId: this.clientId, cmd: packet.cmd }, 'failed to encode packet');
      return;
    }
    this.writeRaw(buf);
  }

  /** PUBACK/PUBREC/PUBREL/PUBCOMP, kept behind acknowledgements still waiting for storage. */
  writeAck(header: number, packetId: number, reasonCode: number): void {
    const v5 = this.protocolVersion === 5 && reasonCode !== 0;
    let buf: Buffer;
    if (!v5) buf = Buffer.from([header, 2, packetId >> 8, packetId & 0xff]);
    else if (reasonCode < 0x80 || !this.requestProblemInformation) buf = Buffer.from([header, 3, packetId >> 8, packetId & 0xff, reasonCode]);
    else {
      // A refusal explains itself with a Reason String (property 0x1F) [MQTT-3.4.2-2] unless the client opted out.
      const text = Buffer.from(reasonText(reasonCode));
      // type, remaining length, packet id (2), reason code, property length, 0x1F, string length (2), text
      buf = Buffer.allocUnsafe(9 + text.length);
      buf[0] = header;
      buf[1] = 7 + text.length;
      buf.writeUInt16BE(packetId, 2);
      buf[4] = reasonCode;
      buf[5] = 3 + text.length;
      buf[6] = 0x1f;
      buf.writeUInt16BE(text.length, 7);
      text.copy(buf, 9);
    }
    const store = this.broker.store;
    if ((header === 0x40 || header === 0x50) && (store.dirty || this.pendingAcks !== null)) {
      // [MQTT-4.6.0-2] acknowledgements go out in order, and only once the message is stored.
      const acks = (this.pendingAcks ??= []);
      if (!this.ackWaiting) {
        this.ackWaiting = true;
        this.ackBatch = store.batch;
        this.ackSplit = -1;
        acks.push(buf);
        store.afterFlush((this.flushAcks ??= () => this.drainAcks()));
      } else {
        if (this.ackSplit < 0 && store.batch !== this.ackBatch) this.ackSplit = acks.length;
        acks.push(buf);
      }
      return;
    }
    this.writeRaw(buf);
  }

  private drainAcks(): void {
    this.ackWaiting = false;
    const acks = this.pendingAcks;
    if (acks === null) return;
    const split = this.ackSplit;
    if (split < 0) {
      this.pendingAcks = null;
      for (const a of acks) this.writeRaw(a);
      return;
    }
    // The acks from later batches wait for the newest one, which holds all of them.
    for (let i = 0; i < split; i++) this.writeRaw(acks[i]);
    this.pendingAcks = acks.slice(split);
    this.ackWaiting = true;
    this.ackBatch = this.broker.store.batch;
    this.ackSplit = -1;
    this.broker.store.afterFlush(this.flushAcks!);
  }

  /**
   * Sends one delivery. Returns false when it could not be sent and was dropped (too large for the
   * client, expired, QoS 0 backlog); the broker settles it.
   *
   * The payload buffer is written as is, shared by every receiver. When nothing about the header is
   * specific to this receiver (no expiry countdown, subscription identifiers or topic alias), the
   * header is encoded once per message and variant and reused: QoS 0 writes the cached bytes, QoS 1/2
   * copies them and patches the packet id.
   */
  sendPublish(out: Outgoing, dup: boolean): boolean {
    return this.sendMessage(out.message, out.qos, out.retain, out.subscriptionIds, out.packetId, dup);
  }

  /** sendPublish without an Outgoing record (QoS 0 needs none). */
  sendMessage(m: Message, qos: QoS, retain: boolean, subscriptionIds: number[] | null, packetId: number, dup: boolean): boolean {
    const v5 = this.protocolVersion === 5;
    if (qos === 0 && this.transport.writableLength > QOS0_BACKLOG_BYTES) {
      this.broker.noteDrop('qos0_backpressure', this.clientId, m.topic);
      return false;
    }
    let header: Buffer;
    let newAlias = 0;
    const perReceiver = v5 && (m.expiresAt !== 0 || subscriptionIds !== null || this.clientTopicAliasMaximum > 0);
    if (!perReceiver) {
      const variant = (v5 ? 6 : 0) + qos * 2 + (retain ? 1 : 0);
      const cache = (m.headers ??= [undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined]);
      let cached = cache[variant];
      if (cached === undefined) {
        cached = encodePublishHeader(this.protocolVersion, m.topic, m.payload.length, qos, retain, false, 0, v5 ? m.properties : null).header;
        cache[variant] = cached;
      }
      if (qos === 0) header = cached;
      else {
        header = Buffer.allocUnsafe(cached.length);
        cached.copy(header);
        // The packet id sits right after the topic: 1 type byte, the length bytes, 2 + topic bytes.
        let pos = 1;
        while (header[pos] & 0x80) pos++;
        pos += 1 + 2 + header.readUInt16BE(pos + 1);
        header.writeUInt16BE(packetId, pos);
        if (dup) header[0] |= 0x08;
      }
    } else {
      let properties: PublishProperties | null = m.properties;
      if (m.expiresAt !== 0) {
        const left = Math.ceil((m.expiresAt - Date.now()) / 1000);
        if (left <= 0) {
          this.broker.noteDrop('expired', this.clientId, m.topic);
          return false;
        }
        properties = { ...properties, messageExpiryInterval: left }; // [MQTT-3.3.2-6] the remaining lifetime
      }
      if (subscriptionIds !== null) {
        properties = { ...properties, subscriptionIdentifier: subscriptionIds.length === 1 ? subscriptionIds[0] : subscriptionIds };
      }
      let topic = m.topic;
      if (this.clientTopicAliasMaximum > 0) {
        const aliases = (this.outAliases ??= new Map());
        const alias = aliases.get(topic);
        if (alias !== undefined) {
          properties = { ...properties, topicAlias: alias };
          topic = '';
        } else if (aliases.size < this.clientTopicAliasMaximum) {
          newAlias = aliases.size + 1;
          aliases.set(topic, newAlias);
          properties = { ...properties, topicAlias: newAlias };
        }
      }
      header = encodePublishHeader(5, topic, m.payload.length, qos, retain, dup, packetId, properties).header;
    }
    if (m.expiresAt !== 0 && !perReceiver && m.expiresAt <= Date.now()) {
      this.broker.noteDrop('expired', this.clientId, m.topic);
      return false;
    }
    if (header.length + m.payload.length > this.clientMaxPacketSize) {
      // [MQTT-3.1.2-24/25] never send more than the client's Maximum Packet Size: discard as if delivered.
      if (newAlias !== 0) this.outAliases!.delete(m.topic);
      this.broker.noteDrop('packet_too_large', this.clientId, m.topic);
      return false;
    }
    this.broker.stats.messagesOut[qos]++;
    this.writeRaw(header);
    if (m.payload.length > 0) this.writeRaw(m.payload);
    return true;
  }

  // ---------------------------------------------------------------- backpressure

  /**
   * True while this connection, as a receiver, cannot keep up: unsent bytes pile up in its socket,
   * or its queue of QoS 1/2 messages is half full.
   */
  congested(): boolean {
    if (this.state !== 'connected') return false;
    if (this.transport.writableLength > CONGESTED_BYTES) return true;
    const s = this.session;
    return s !== null && s.queue.length * 2 > this.broker.config.maxQueuedMessages;
  }

  /**
   * Stops reading from this publisher until `receiver` catches up (or a few seconds pass, so one
   * stuck receiver cannot stop a publisher for ever; after that, its bounds drop and count).
   */
  pauseFor(receiver: Connection): void {
    if (receiver === this || this.waitingOn !== null || this.state !== 'connected') return;
    this.waitingOn = receiver;
    this.pausedAt = Date.now();
    this.broker.stats.backpressurePauses++;
    this.transport.pause();
    this.pauseTimer = setTimeout(checkResume, BACKPRESSURE_POLL_MS, this);
  }

  /** Backpressure poll (see pauseFor): resume reading once the receiver caught up or the pause is too long. */
  checkResume(): void {
    this.pauseTimer = null;
    const r = this.waitingOn;
    if (r !== null && r.congested() && Date.now() - this.pausedAt < BACKPRESSURE_MAX_PAUSE_MS && this.state === 'connected') {
      this.pauseTimer = setTimeout(checkResume, BACKPRESSURE_POLL_MS, this);
      return;
    }
    this.waitingOn = null;
    if (this.state === 'connected') {
      this.lastRx = Date.now(); // the pause was ours, not the client's silence
      this.transport.resume();
    }
  }

  // ---------------------------------------------------------------- keep-alive and closing

  /** Starts keep-alive supervision: close after 1.5x the keep-alive without a packet [MQTT-3.1.2-22]. */
  startKeepAlive(seconds: number): void {
    this.keepAliveMs = seconds * 1000;
    if (seconds > 0) this.broker.deadlines.schedule(this, this.lastRx + this.keepAliveMs * 1.5);
    else this.broker.deadlines.cancel(this);
  }

  /** DeadlineWheel: the CONNECT timeout or the keep-alive period may have run out. */
  onDeadline(now: number): void {
    if (this.state === 'new' || this.state === 'connecting') {
      if (now - this.connectedAt >= CONNECT_TIMEOUT_MS) this.destroy('CLIENT_ERROR');
      else this.broker.deadlines.schedule(this, this.connectedAt + CONNECT_TIMEOUT_MS);
      return;
    }
    if (this.state !== 'connected' || this.keepAliveMs === 0) return;
    const limit = this.keepAliveMs * 1.5;
    // While backpressure has stopped reading this client, its silence is ours: check again later.
    if (this.waitingOn !== null) return this.broker.deadlines.schedule(this, now + limit);
    if (now - this.lastRx >= limit) this.close('MQTT_KEEP_ALIVE_TIMEOUT', RC.KEEP_ALIVE_TIMEOUT);
    else this.broker.deadlines.schedule(this, this.lastRx + limit);
  }

  /** A client broke the protocol: v5 gets DISCONNECT with the reason code, then the connection closes. */
  protocolViolation(reasonCode: number): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.broker.logger.debug({ clientId: this.clientId, reasonCode }, 'closing connection: %s', reasonText(reasonCode));
    if (this.state === 'new' && this.protocolVersion === 5 && reasonCode >= 0x80) {
      // Before CONNACK, a v5 server reports the problem in CONNACK [MQTT-3.2.2-7].
      this.writePacket({ cmd: 'connack', sessionPresent: false, reasonCode } as IPacket & { cmd: string });
    }
    this.close(reasonCode === RC.NOT_AUTHORIZED ? 'FORBIDDEN_ACCESS' : 'CLIENT_ERROR', reasonCode);
  }

  /** Closes the connection; a connected v5 client is told why with DISCONNECT. */
  close(reason: DisconnectReason, reasonCode?: number): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    const wasConnected = this.state === 'connected';
    this.state = 'closing';
    this.framer.stopped = true;
    this.disconnectReason = reason;
    if (wasConnected && this.protocolVersion === 5 && reasonCode !== undefined) {
      const properties = this.requestProblemInformation && reasonCode >= 0x80 ? { reasonString: reasonText(reasonCode) } : undefined;
      this.writePacket({ cmd: 'disconnect', reasonCode, properties } as IPacket & { cmd: string });
    }
    this.transport.end();
    // Do not wait forever for a peer that does not read.
    setTimeout(() => this.transport.destroy(), 2_000).unref();
  }

  destroy(reason: DisconnectReason): void {
    this.disconnectReason = reason;
    this.framer.stopped = true;
    if (this.state !== 'closed') this.state = 'closing';
    this.transport.destroy();
  }

  /** Transport event: the connection is gone. */
  onClose(): void {
    if (this.state === 'closed') return;
    const prev = this.state;
    this.state = 'closed';
    this.broker.deadlines.cancel(this);
    if (this.pauseTimer !== null) clearTimeout(this.pauseTimer);
    this.pauseTimer = null;
    this.waitingOn = null;
    this.broker.connectionClosed(this, prev);
    const cbs = this.closedCallbacks;
    this.closedCallbacks = null;
    if (cbs !== null) for (const cb of cbs) cb();
  }

  /** Runs `cb` once the transport has closed (at once if it already has). */
  onClosed(cb: () => void): void {
    if (this.state === 'closed') cb();
    else (this.closedCallbacks ??= []).push(cb);
  }

  /** Rejects a CONNECT with a reason code and closes [MQTT-3.2.2-6]. */
  refuseConnect(reasonCode: number, reasonString?: string): void {
    if (this.protocolVersion === 5) {
      const properties = reasonString !== undefined && this.requestProblemInformation ? { reasonString } : undefined;
      this.writePacket({ cmd: 'connack', sessionPresent: false, reasonCode, properties } as IPacket & { cmd: string });
    } else {
      this.writePacket({ cmd: 'connack', sessionPresent: false, returnCode: connackReturnCodeV3(reasonCode) } as IPacket & {
        cmd: string;
      });
    }
    this.close(reasonCode === RC.NOT_AUTHORIZED || reasonCode === RC.BAD_USERNAME_OR_PASSWORD ? 'AUTH_ERROR' : 'CLIENT_ERROR');
  }
}

const PINGRESP = Buffer.from([0xd0, 0x00]);

function uncork(c: Connection): void {
  (c as unknown as { corked: boolean }).corked = false;
  c.transport.uncork();
}

/** Connect Flags byte of a raw CONNECT (after the protocol level), or 0. */
function connectFlags(raw: Buffer): number {
  let i = 1;
  while (i < raw.length && raw[i] & 0x80) i++;
  i++;
  if (i + 2 > raw.length) return 0;
  const at = i + 2 + ((raw[i] << 8) | raw[i + 1]) + 1;
  return at < raw.length ? raw[at] : 0;
}

/**
 * Protocol Level byte of a raw CONNECT; -2 when the protocol name is not MQTT ("MQTT", or "MQIsdp"
 * for 3.1) [MQTT-3.1.2-1]; -1 when the packet is too short to tell.
 */
function connectProtocolLevel(raw: Buffer): number {
  let i = 1;
  while (i < raw.length && raw[i] & 0x80) i++;
  i++;
  if (i + 2 > raw.length) return -1;
  const nameLen = (raw[i] << 8) | raw[i + 1];
  const at = i + 2 + nameLen;
  if (at >= raw.length) return -1;
  const name = raw.toString('latin1', i + 2, at);
  if (name !== 'MQTT' && name !== 'MQIsdp') return -2;
  return raw[at];
}

function checkResume(conn: Connection): void {
  conn.checkResume();
}
