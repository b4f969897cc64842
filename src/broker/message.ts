/**
 * The broker's message: one object per PUBLISH, shared by every subscriber queue that holds it
 * (nothing about a particular receiver lives here).
 */

import type { Message, MessageProperties, QoS } from '../core/index.js';

export type { Message, MessageProperties, QoS };

export function createMessage(
  topic: string,
  payload: Buffer,
  qos: QoS,
  retain: boolean,
  properties: MessageProperties | null,
  expiresAt: number,
  origin: string | null,
): Message {
  return { topic, payload, qos, retain, properties, expiresAt, origin, headers: null };
}

/** JSON form of properties for storage (Buffers as base64). */
export function encodeProperties(p: MessageProperties | null): string | null {
  if (p === null) return null;
  const o: Record<string, unknown> = { ...p };
  if (p.correlationData !== undefined) o.correlationData = { b64: p.correlationData.toString('base64') };
  return JSON.stringify(o);
}

export function decodeProperties(s: string | null): MessageProperties | null {
  if (s === null) return null;
  const o = JSON.parse(s) as Record<string, unknown>;
  const cd = o.correlationData as { b64: string } | undefined;
  if (cd !== undefined) o.correlationData = Buffer.from(cd.b64, 'base64');
  return o as MessageProperties;
}

/** The MQTT 5 PUBLISH (or will) properties that travel with a message; null when there are none. */
export function pickMessageProperties(p: {
  payloadFormatIndicator?: boolean;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: object;
}): MessageProperties | null {
  let out: MessageProperties | null = null;
  if (p.payloadFormatIndicator !== undefined) (out ??= {}).payloadFormatIndicator = p.payloadFormatIndicator;
  if (p.contentType !== undefined) (out ??= {}).contentType = p.contentType;
  if (p.responseTopic !== undefined) (out ??= {}).responseTopic = p.responseTopic;
  if (p.correlationData !== undefined) (out ??= {}).correlationData = Buffer.from(p.correlationData);
  if (p.userProperties !== undefined) (out ??= {}).userProperties = p.userProperties as Record<string, string | string[]>;
  return out;
}
