/**
 * PUBLISH encoding and decoding by index over bytes — the hot path, so it does not go through
 * mqtt-packet (which builds intermediate buffers and objects per packet).
 *
 * Encoding splits a PUBLISH into a small header buffer (fixed header, topic, packet id, properties)
 * and the payload, which is written as is: one payload buffer serves every subscriber, and a header
 * for QoS 0 can be cached and shared too.
 */
import { isUtf8 } from 'node:buffer';
import { RC } from './reason-codes.js';

export interface PublishProperties {
  payloadFormatIndicator?: boolean;
  messageExpiryInterval?: number;
  topicAlias?: number;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: Record<string, string | string[]>;
  subscriptionIdentifier?: number | number[];
  contentType?: string;
}

export interface DecodedPublish {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  dup: boolean;
  packetId: number;
  properties: PublishProperties | null;
}

function varIntSize(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

function writeVarInt(buf: Buffer, pos: number, n: number): number {
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    buf[pos++] = b;
  } while (n > 0);
  return pos;
}

function propertiesSize(p: PublishProperties): number {
  let n = 0;
  if (p.payloadFormatIndicator !== undefined) n += 2;
  if (p.messageExpiryInterval !== undefined) n += 5;
  if (p.topicAlias !== undefined) n += 3;
  if (p.responseTopic !== undefined) n += 3 + Buffer.byteLength(p.responseTopic);
  if (p.correlationData !== undefined) n += 3 + p.correlationData.length;
  if (p.contentType !== undefined) n += 3 + Buffer.byteLength(p.contentType);
  if (p.userProperties !== undefined) {
    for (const k of Object.keys(p.userProperties)) {
      const v = p.userProperties[k];
      const kl = Buffer.byteLength(k);
      if (Array.isArray(v)) for (const x of v) n += 5 + kl + Buffer.byteLength(x);
      else n += 5 + kl + Buffer.byteLength(v);
    }
  }
  const sid = p.subscriptionIdentifier;
  if (sid !== undefined) {
    if (Array.isArray(sid)) for (const s of sid) n += 1 + varIntSize(s);
    else n += 1 + varIntSize(sid);
  }
  return n;
}

function writeString(buf: Buffer, pos: number, s: string): number {
  const len = buf.write(s, pos + 2, 'utf8');
  buf.writeUInt16BE(len, pos);
  return pos + 2 + len;
}

function writeProperties(buf: Buffer, pos: number, p: PublishProperties): number {
  if (p.payloadFormatIndicator !== undefined) {
    buf[pos++] = 0x01;
    buf[pos++] = p.payloadFormatIndicator ? 1 : 0;
  }
  if (p.messageExpiryInterval !== undefined) {
    buf[pos++] = 0x02;
    buf.writeUInt32BE(p.messageExpiryInterval, pos);
    pos += 4;
  }
  if (p.contentType !== undefined) {
    buf[pos++] = 0x03;
    pos = writeString(buf, pos, p.contentType);
  }
  if (p.responseTopic !== undefined) {
    buf[pos++] = 0x08;
    pos = writeString(buf, pos, p.responseTopic);
  }
  if (p.correlationData !== undefined) {
    buf[pos++] = 0x09;
    buf.writeUInt16BE(p.correlationData.length, pos);
    pos += 2 + p.correlationData.copy(buf, pos + 2);
  }
  const sid = p.subscriptionIdentifier;
  if (sid !== undefined) {
    for (const s of Array.isArray(sid) ? sid : [sid]) {
      buf[pos++] = 0x0b;
      pos = writeVarInt(buf, pos, s);
    }
  }
  if (p.topicAlias !== undefined) {
    buf[pos++] = 0x23;
    buf.writeUInt16BE(p.topicAlias, pos);
    pos += 2;
  }
  if (p.userProperties !== undefined) {
    for (const k of Object.keys(p.userProperties)) {
      const v = p.userProperties[k];
      for (const x of Array.isArray(v) ? v : [v]) {
        buf[pos++] = 0x26;
        pos = writeString(buf, pos, k);
        pos = writeString(buf, pos, x);
      }
    }
  }
  return pos;
}

/**
 * Encodes everything of a PUBLISH but its payload. `packetIdOffset` in the result says where the
 * two packet id bytes are (QoS > 0), so a cached header can be copied and patched per receiver.
 */
export function encodePublishHeader(
  version: number,
  topic: string,
  payloadLength: number,
  qos: 0 | 1 | 2,
  retain: boolean,
  dup: boolean,
  packetId: number,
  properties: PublishProperties | null,
): { header: Buffer; packetIdOffset: number } {
  const topicLen = Buffer.byteLength(topic);
  let propsLen = 0;
  let propsBlock = 0;
  if (version === 5) {
    propsLen = properties === null ? 0 : propertiesSize(properties);
    propsBlock = varIntSize(propsLen) + propsLen;
  }
  const remaining = 2 + topicLen + (qos > 0 ? 2 : 0) + propsBlock + payloadLength;
  const headerLen = 1 + varIntSize(remaining) + 2 + topicLen + (qos > 0 ? 2 : 0) + propsBlock;
  const buf = Buffer.allocUnsafe(headerLen);
  buf[0] = 0x30 | (dup ? 0x08 : 0) | (qos << 1) | (retain ? 1 : 0);
  let pos = writeVarInt(buf, 1, remaining);
  buf.writeUInt16BE(topicLen, pos);
  pos += 2;
  pos += buf.write(topic, pos, 'utf8');
  let packetIdOffset = -1;
  if (qos > 0) {
    packetIdOffset = pos;
    buf.writeUInt16BE(packetId, pos);
    pos += 2;
  }
  if (version === 5) {
    pos = writeVarInt(buf, pos, propsLen);
    if (properties !== null && propsLen > 0) pos = writeProperties(buf, pos, properties);
  }
  return { header: buf, packetIdOffset };
}

/** Total size of a PUBLISH with this header and payload. */
export function publishSize(header: Buffer, payloadLength: number): number {
  return header.length + payloadLength;
}

function readString(buf: Buffer, pos: number, end: number): [string, number] | null {
  if (pos + 2 > end) return null;
  const len = buf.readUInt16BE(pos);
  if (pos + 2 + len > end) return null;
  if (!isUtf8(buf.subarray(pos + 2, pos + 2 + len))) return null; // [MQTT-1.5.4-1]
  return [buf.toString('utf8', pos + 2, pos + 2 + len), pos + 2 + len];
}

/**
 * Decodes a whole PUBLISH packet (as cut by the Framer). Returns the packet, or a reason code
 * (malformed / protocol error) when it is not valid. The payload is a view into `raw`.
 */
export function decodePublish(raw: Buffer, version: number): DecodedPublish | number {
  const flags = raw[0] & 0x0f;
  const qos = ((flags >> 1) & 3) as 0 | 1 | 2;
  let pos = 1;
  while (raw[pos] & 0x80) pos++;
  pos++;
  const end = raw.length;
  if (pos + 2 > end) return RC.MALFORMED_PACKET;
  const topicLen = raw.readUInt16BE(pos);
  pos += 2;
  if (pos + topicLen > end) return RC.MALFORMED_PACKET;
  if (!isUtf8(raw.subarray(pos, pos + topicLen))) return RC.MALFORMED_PACKET; // [MQTT-1.5.4-1]
  const topic = raw.toString('utf8', pos, pos + topicLen);
  pos += topicLen;
  let packetId = 0;
  if (qos > 0) {
    if (pos + 2 > end) return RC.MALFORMED_PACKET;
    packetId = raw.readUInt16BE(pos);
    pos += 2;
  }
  let properties: PublishProperties | null = null;
  if (version === 5) {
    let len = 0;
    let mult = 1;
    for (let i = 0; ; i++) {
      if (pos >= end || i === 4) return RC.MALFORMED_PACKET;
      const b = raw[pos++];
      len += (b & 0x7f) * mult;
      mult *= 128;
      if ((b & 0x80) === 0) break;
    }
    const pend = pos + len;
    if (pend > end) return RC.MALFORMED_PACKET;
    if (len > 0) {
      const r = decodeProperties(raw, pos, pend);
      if (typeof r === 'number') return r;
      properties = r;
      pos = pend;
    }
  }
  return { topic, payload: raw.subarray(pos, end), qos, retain: (flags & 1) === 1, dup: (flags & 8) === 8, packetId, properties };
}

function decodeProperties(buf: Buffer, pos: number, end: number): PublishProperties | number {
  const p: PublishProperties = {};
  while (pos < end) {
    const id = buf[pos++];
    switch (id) {
      case 0x01:
        if (p.payloadFormatIndicator !== undefined || pos >= end) return RC.PROTOCOL_ERROR;
        if (buf[pos] > 1) return RC.PROTOCOL_ERROR;
        p.payloadFormatIndicator = buf[pos++] === 1;
        break;
      case 0x02:
        if (p.messageExpiryInterval !== undefined || pos + 4 > end) return RC.PROTOCOL_ERROR;
        p.messageExpiryInterval = buf.readUInt32BE(pos);
        pos += 4;
        break;
      case 0x23:
        if (p.topicAlias !== undefined || pos + 2 > end) return RC.PROTOCOL_ERROR;
        p.topicAlias = buf.readUInt16BE(pos);
        pos += 2;
        break;
      case 0x03:
      case 0x08: {
        const r = readString(buf, pos, end);
        if (r === null) return RC.MALFORMED_PACKET;
        if (id === 0x03) {
          if (p.contentType !== undefined) return RC.PROTOCOL_ERROR;
          p.contentType = r[0];
        } else {
          if (p.responseTopic !== undefined) return RC.PROTOCOL_ERROR;
          p.responseTopic = r[0];
        }
        pos = r[1];
        break;
      }
      case 0x09: {
        if (p.correlationData !== undefined || pos + 2 > end) return RC.PROTOCOL_ERROR;
        const len = buf.readUInt16BE(pos);
        if (pos + 2 + len > end) return RC.MALFORMED_PACKET;
        p.correlationData = Buffer.from(buf.subarray(pos + 2, pos + 2 + len));
        pos += 2 + len;
        break;
      }
      case 0x26: {
        const k = readString(buf, pos, end);
        if (k === null) return RC.MALFORMED_PACKET;
        const v = readString(buf, k[1], end);
        if (v === null) return RC.MALFORMED_PACKET;
        pos = v[1];
        const up = (p.userProperties ??= {});
        const prev = up[k[0]];
        if (prev === undefined) up[k[0]] = v[0];
        else if (Array.isArray(prev)) prev.push(v[0]);
        else up[k[0]] = [prev, v[0]];
        break;
      }
      case 0x0b:
        // [MQTT-3.3.4-6] a PUBLISH from a client must not carry a Subscription Identifier.
        return RC.PROTOCOL_ERROR;
      default:
        return RC.MALFORMED_PACKET;
    }
  }
  return p;
}
