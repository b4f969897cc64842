/**
 * The load generator's minimal MQTT 3.1.1 client: packets are pre-encoded once with
 * mqtt-packet's `generate`, PUBLISHes are stamped into a batch buffer by index, and incoming
 * bytes are parsed by index with no per-message objects. It speaks only what the benchmark
 * needs: CONNECT/CONNACK, SUBSCRIBE/SUBACK, PUBLISH (QoS 0/1) and PUBACK.
 *
 * Payload layout (64 bytes, little endian): [0..3] publisher index, [4..7] sequence number,
 * [8..15] intended send time (performance.now() ms, float64), rest zero.
 */
import net from 'node:net';
import mqttPacket from 'mqtt-packet';

export const PAYLOAD_BYTES = 64;

/** Pre-encoded CONNECT. `clean` false asks for a persistent session. */
/**
 * An MQTT 3.1.1 CONNECT (no will, user name or password), written directly: mqtt-packet's generic
 * writer cost the connect-rate scenarios several microseconds per connection on the generator side.
 */
export function encodeConnect(clientId, { clean = true, keepalive = 600 } = {}) {
  const id = Buffer.from(clientId, 'utf8');
  const rl = 10 + 2 + id.length;
  const rlBytes = rl < 128 ? 1 : rl < 16384 ? 2 : 3;
  const out = Buffer.allocUnsafe(1 + rlBytes + rl);
  out[0] = 0x10;
  let i = 1;
  for (let x = rl; ; ) {
    const b = x & 127;
    x >>>= 7;
    out[i++] = x > 0 ? b | 128 : b;
    if (x === 0) break;
  }
  out.writeUInt16BE(4, i);
  out.write('MQTT', i + 2, 'latin1');
  out[i + 6] = 4; // protocol level 3.1.1
  out[i + 7] = clean ? 0x02 : 0x00;
  out.writeUInt16BE(keepalive, i + 8);
  out.writeUInt16BE(id.length, i + 10);
  id.copy(out, i + 12);
  return out;
}

export function encodeSubscribe(messageId, topic, qos) {
  return mqttPacket.generate({ cmd: 'subscribe', messageId, subscriptions: [{ topic, qos }] });
}

export const DISCONNECT = mqttPacket.generate({ cmd: 'disconnect' });

/**
 * A PUBLISH template: the encoded packet plus the offsets the stamper patches.
 * Packet id (QoS 1), publisher index, sequence and timestamp vary; everything else is copied.
 */
export function encodePublishTemplate(topic, qos, { retain = false } = {}) {
  const packet = mqttPacket.generate({
    cmd: 'publish',
    topic,
    payload: Buffer.alloc(PAYLOAD_BYTES),
    qos,
    messageId: qos > 0 ? 1 : undefined,
    retain,
  });
  const payloadOffset = packet.length - PAYLOAD_BYTES;
  return { packet, size: packet.length, payloadOffset, pidOffset: qos > 0 ? payloadOffset - 2 : -1 };
}

/** Packet id for a sequence number: 1..65535, unique within any window smaller than 65535. */
export function pidForSeq(seq) {
  return (seq % 65535) + 1;
}

/**
 * Writes `count` PUBLISHes from `tpl` into one new Buffer, numbering them from `firstSeq`.
 * `ts` is either a number (same intended time for all) or a function of the sequence.
 */
export function stampPublishes(tpl, pubIndex, firstSeq, count, ts, tsStep = 0) {
  return stampEach(tpl, firstSeq, count, (out, p, seq, k) => {
    out.writeUInt32LE(pubIndex, p);
    out.writeUInt32LE(seq, p + 4);
    out.writeDoubleLE(ts + k * tsStep, p + 8);
  });
}

/**
 * Copies `tpl` `count` times into one new Buffer, sets each copy's packet id (QoS > 0) from its
 * sequence, and lets `writePayload(out, payloadOffset, seq, k)` fill in the payload.
 */
function stampEach(tpl, firstSeq, count, writePayload) {
  const size = tpl.size;
  const out = Buffer.allocUnsafe(size * count);
  const src = tpl.packet;
  let off = 0;
  for (let k = 0; k < count; k++) {
    src.copy(out, off);
    const seq = firstSeq + k;
    if (tpl.pidOffset >= 0) out.writeUInt16BE(pidForSeq(seq), off + tpl.pidOffset);
    writePayload(out, off + tpl.payloadOffset, seq, k);
    off += size;
  }
  return out;
}

/**
 * The JSON payload of the rules scenarios (r-qos0): still 64 bytes with the publisher and sequence
 * at fixed offsets, but text a rule's SQL can read:
 *   {"temp":TT,"p":"pppppppp","s":"ssssssss"}   + spaces up to 64 bytes (JSON allows them)
 * `temp` is 10..29 for even sequences and 31..90 for odd ones, so `WHERE temp > 30` matches half.
 */
const JSON_HEAD = '{"temp":';
const JSON_TEMPLATE = `${JSON_HEAD}00,"p":"00000000","s":"00000000"}`.padEnd(PAYLOAD_BYTES, ' ');
const JSON_TEMP_AT = JSON_HEAD.length;
const JSON_PUB_AT = JSON_TEMPLATE.indexOf('"p":"') + 5;
const JSON_SEQ_AT = JSON_TEMPLATE.indexOf('"s":"') + 5;
const HEX = Buffer.from('0123456789abcdef');

/** Temperature of a JSON payload's sequence number (half of them over 30). */
export function jsonTemp(seq) {
  return seq % 2 === 0 ? 10 + ((seq >>> 1) % 20) : 31 + ((seq >>> 1) % 60);
}

/** A PUBLISH template whose payload is the JSON text above (see stampJsonPublishes). */
export function encodeJsonPublishTemplate(topic, qos) {
  const packet = mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.from(JSON_TEMPLATE), qos, messageId: qos > 0 ? 1 : undefined });
  const payloadOffset = packet.length - PAYLOAD_BYTES;
  return { packet, size: packet.length, payloadOffset, pidOffset: qos > 0 ? payloadOffset - 2 : -1, json: true };
}

function writeHex8(out, at, n) {
  for (let i = 7; i >= 0; i--) {
    out[at + i] = HEX[n & 15];
    n >>>= 4;
  }
}

/** stampPublishes for a JSON template: publisher and sequence as 8 hex digits, temp from the sequence. */
export function stampJsonPublishes(tpl, pubIndex, firstSeq, count) {
  return stampEach(tpl, firstSeq, count, (out, p, seq) => {
    const t = jsonTemp(seq);
    out[p + JSON_TEMP_AT] = 48 + ((t / 10) | 0);
    out[p + JSON_TEMP_AT + 1] = 48 + (t % 10);
    writeHex8(out, p + JSON_PUB_AT, pubIndex);
    writeHex8(out, p + JSON_SEQ_AT, seq);
  });
}

function readHex8(buf, at) {
  let n = 0;
  for (let i = 0; i < 8; i++) {
    const c = buf[at + i];
    n = n * 16 + (c <= 57 ? c - 48 : c - 87);
  }
  return n;
}

/** The publisher / sequence of a JSON payload. */
export function jsonPayloadPublisher(buf, p) {
  return readHex8(buf, p + JSON_PUB_AT);
}
export function jsonPayloadSeq(buf, p) {
  return readHex8(buf, p + JSON_SEQ_AT);
}

/** Scratch space for PUBACKs built while parsing one chunk (copied out before writing). */
const ackScratch = Buffer.allocUnsafe(4 * 65536);

/**
 * One TCP connection with an index-based packet parser. Parsed packets are handed to
 * `owner` methods with the connection as first argument, so no closure exists per message:
 *   owner.onConnack(conn, returnCode)
 *   owner.onSuback(conn, packetId, firstGrantedQos)
 *   owner.onPublish(conn, buf, payloadOffset, qos, retain, topicStart, topicEnd, now)
 *   owner.onPuback(conn, packetId)
 *   owner.onClose(conn)
 * For QoS 1 PUBLISHes the connection answers PUBACK itself (batched per chunk) unless
 * `autoAck` is false.
 */
/** The Conn of a socket opened by `Conn.start` (its listeners are shared functions). */
const CONN = Symbol('conn');
function onSocketError(err) {
  const c = this[CONN];
  if (c.onError !== null) c.onError(c, err);
}
function onSocketData(chunk) {
  this[CONN].onData(chunk);
}
function onSocketDrain() {
  const c = this[CONN];
  c.blocked = false;
  if (c.owner.onDrain) c.owner.onDrain(c);
}
function onSocketClose() {
  const c = this[CONN];
  c.closed = true;
  c.connected = false;
  if (c.owner.onClose) c.owner.onClose(c);
}

export class Conn {
  constructor(owner, index, { autoAck = true, clock = null } = {}) {
    this.owner = owner;
    this.index = index;
    this.autoAck = autoAck;
    this.clock = clock;
    this.sock = null;
    this.rest = null;
    this.blocked = false;
    this.closed = false;
    this.connected = false;
    this.bytesIn = 0;
    this.onError = null;
  }

  /**
   * Opens the socket and writes `bytes` at once (Node sends them when TCP is up): the connect-rate
   * path, with no promise and no closures per connection. `onError(conn, err)` hears socket errors.
   */
  start(port, bytes, onError, host = '127.0.0.1') {
    const sock = net.connect({ port, host, noDelay: true });
    this.sock = sock;
    this.onError = onError;
    sock[CONN] = this;
    sock.on('error', onSocketError);
    sock.on('data', onSocketData);
    sock.on('drain', onSocketDrain);
    sock.on('close', onSocketClose);
    sock.write(bytes);
  }

  /** Opens the socket; resolves once TCP is connected (not CONNACK). */
  open(port, host = '127.0.0.1') {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ port, host, noDelay: true });
      this.sock = sock;
      const onError = (err) => reject(err);
      sock.once('error', onError);
      sock.once('connect', () => {
        sock.removeListener('error', onError);
        sock.on('error', () => {});
        resolve();
      });
      sock.on('data', (chunk) => this.onData(chunk));
      sock.on('drain', () => {
        this.blocked = false;
        if (this.owner.onDrain) this.owner.onDrain(this);
      });
      sock.on('close', () => {
        this.closed = true;
        this.connected = false;
        if (this.owner.onClose) this.owner.onClose(this);
      });
    });
  }

  /** Writes bytes; marks the connection blocked when the socket buffer is full. */
  write(buf) {
    if (this.closed) return false;
    const ok = this.sock.write(buf);
    if (!ok) this.blocked = true;
    return ok;
  }

  destroy() {
    if (this.sock && !this.closed) this.sock.destroy();
  }

  onData(chunk) {
    this.bytesIn += chunk.length;
    let buf = chunk;
    if (this.rest !== null) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = null;
    }
    const now = this.clock !== null ? this.clock() : 0;
    const len = buf.length;
    const owner = this.owner;
    let pos = 0;
    let acks = 0;
    while (len - pos >= 2) {
      const b0 = buf[pos];
      let i = pos + 1;
      let rl = 0;
      let mul = 1;
      let complete = false;
      while (i < len) {
        const byte = buf[i++];
        rl += (byte & 127) * mul;
        mul *= 128;
        if ((byte & 128) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete || i + rl > len) break;
      const type = b0 >> 4;
      if (type === 3) {
        const qos = (b0 >> 1) & 3;
        const tlen = (buf[i] << 8) | buf[i + 1];
        const topicStart = i + 2;
        let p = topicStart + tlen;
        if (qos > 0) {
          if (this.autoAck) {
            const a = acks * 4;
            ackScratch[a] = 0x40;
            ackScratch[a + 1] = 2;
            ackScratch[a + 2] = buf[p];
            ackScratch[a + 3] = buf[p + 1];
            acks++;
          }
          p += 2;
        }
        owner.onPublish(this, buf, p, qos, b0 & 1, topicStart, topicStart + tlen, now);
      } else if (type === 4) {
        owner.onPuback(this, (buf[i] << 8) | buf[i + 1]);
      } else if (type === 2) {
        this.connected = buf[i + 1] === 0;
        owner.onConnack(this, buf[i + 1], buf[i] & 1);
      } else if (type === 9) {
        owner.onSuback(this, (buf[i] << 8) | buf[i + 1], buf[i + 2]);
      }
      pos = i + rl;
      if (acks === 65536) {
        this.write(Buffer.from(ackScratch.subarray(0, acks * 4)));
        acks = 0;
      }
    }
    // Copy the partial tail so it does not pin the whole chunk.
    if (pos < len) this.rest = Buffer.from(buf.subarray(pos));
    if (acks > 0) this.write(Buffer.from(ackScratch.subarray(0, acks * 4)));
    if (owner.afterData) owner.afterData(this);
  }
}

/** Reads the generator's payload fields. */
export function payloadPublisher(buf, p) {
  return buf.readUInt32LE(p);
}
export function payloadSeq(buf, p) {
  return buf.readUInt32LE(p + 4);
}
export function payloadTime(buf, p) {
  return buf.readDoubleLE(p + 8);
}
