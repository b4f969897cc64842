/**
 * Hand-built MQTT bytes for what mqtt-packet refuses to encode: malformed and unusual packets
 * (any topic bytes, any header flags, any protocol level, raw property blocks). Each builder
 * fixes only what the test does not want to get wrong by accident, such as the remaining length.
 */
import type { ProtocolVersion } from './raw-client.js';

/** MQTT Variable Byte Integer (remaining length). */
export function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

/** A two-byte-length-prefixed field, from text (UTF-8) or raw bytes. */
export function lengthPrefixed(data: string | Buffer | number[]): number[] {
  const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
  return [b.length >> 8, b.length & 0xff, ...b];
}

/** A packet from its first byte and body: fixed header with a correct remaining length. */
export function rawPacket(firstByte: number, body: number[] | Buffer): Buffer {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return Buffer.concat([Buffer.from([firstByte, ...varint(b.length)]), b]);
}

/**
 * A PUBLISH built by hand so the topic bytes can be anything (invalid UTF-8, wildcards, U+0000).
 * For MQTT 5 a property block is included (empty unless given).
 */
export function rawPublish(
  topic: Buffer | number[] | string,
  payload: Buffer | string,
  opts: { qos?: 0 | 1 | 2; messageId?: number; protocolVersion?: ProtocolVersion; flags?: number; properties?: number[] } = {},
): Buffer {
  const qos = opts.qos ?? 0;
  const head: number[] = [...lengthPrefixed(typeof topic === 'string' ? topic : Buffer.from(topic))];
  if (qos > 0) {
    const id = opts.messageId ?? 1;
    head.push(id >> 8, id & 0xff);
  }
  if (opts.protocolVersion === 5) head.push(...varint((opts.properties ?? []).length), ...(opts.properties ?? []));
  const body = Buffer.concat([Buffer.from(head), Buffer.isBuffer(payload) ? payload : Buffer.from(payload)]);
  return rawPacket(0x30 | (opts.flags ?? qos << 1), body);
}

/** A SUBSCRIBE built by hand (any filter bytes, any options byte, any fixed-header flags). */
export function rawSubscribe(
  filters: Array<{ topic: Buffer | number[] | string; options: number }>,
  opts: { messageId?: number; protocolVersion?: ProtocolVersion; flags?: number; properties?: number[] } = {},
): Buffer {
  const id = opts.messageId ?? 1;
  const body: number[] = [id >> 8, id & 0xff];
  if (opts.protocolVersion === 5) body.push(...varint((opts.properties ?? []).length), ...(opts.properties ?? []));
  for (const f of filters) body.push(...lengthPrefixed(typeof f.topic === 'string' ? f.topic : Buffer.from(f.topic)), f.options);
  return rawPacket(0x80 | (opts.flags ?? 0x02), body);
}

/**
 * A CONNECT built by hand: any protocol name, level and flags. Fields are written in the
 * order the flags announce them; `properties` is the raw MQTT 5 property block (default empty
 * when level is 5).
 */
export function rawConnectPacket(opts: {
  protocolName?: string;
  level?: number;
  flags?: number;
  keepalive?: number;
  clientId?: string | Buffer;
  properties?: number[];
  willProperties?: number[];
  willTopic?: string;
  willPayload?: string;
  username?: string;
  password?: string;
  firstByte?: number;
}): Buffer {
  const level = opts.level ?? 4;
  const keepalive = opts.keepalive ?? 60;
  const body: number[] = [
    ...lengthPrefixed(opts.protocolName ?? 'MQTT'),
    level,
    opts.flags ?? 0x02,
    keepalive >> 8,
    keepalive & 0xff,
  ];
  if (level === 5) body.push(...varint((opts.properties ?? []).length), ...(opts.properties ?? []));
  body.push(...lengthPrefixed(opts.clientId ?? ''));
  if (opts.willTopic !== undefined) {
    if (level === 5) body.push(...varint((opts.willProperties ?? []).length), ...(opts.willProperties ?? []));
    body.push(...lengthPrefixed(opts.willTopic), ...lengthPrefixed(opts.willPayload ?? ''));
  }
  if (opts.username !== undefined) body.push(...lengthPrefixed(opts.username));
  if (opts.password !== undefined) body.push(...lengthPrefixed(opts.password));
  return rawPacket(opts.firstByte ?? 0x10, body);
}
