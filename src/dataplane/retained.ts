/**
 * GetRetainedMessage and ListRetainedMessages of the IoT data plane, read from the broker's
 * retained store through `Messaging.getRetained` / `listRetained`.
 */
import type { Messaging, MessageProperties } from '../core/index.js';
import { AwsServiceError, type AwsHandlers, type IotDataOperations } from '../http/index.js';
import { requireAllowed, type ResourceNames } from './authorize.js';

/** AWS's userProperties form: JSON text `[{"k":"v"},…]` (the SDK sees it base64-encoded, as a blob). */
export function userPropertiesJson(props: MessageProperties | null): Uint8Array | undefined {
  const up = props?.userProperties;
  if (up === undefined) return undefined;
  const list: Record<string, string>[] = [];
  for (const [k, v] of Object.entries(up)) for (const one of Array.isArray(v) ? v : [v]) list.push({ [k]: one });
  return list.length === 0 ? undefined : Buffer.from(JSON.stringify(list));
}

const unsupported = (): AwsServiceError => new AwsServiceError('InternalFailureException', 'This broker does not expose retained messages', 500);

export function createRetainedHandlers(messaging: Pick<Messaging, 'getRetained' | 'listRetained'>, resources: ResourceNames): AwsHandlers<IotDataOperations> {
  return {
    GetRetainedMessage: (input, ctx) => {
      requireAllowed(ctx, 'iot:GetRetainedMessage', resources.topic(input.topic));
      if (messaging.getRetained === undefined) throw unsupported();
      const m = messaging.getRetained(input.topic);
      if (m === null) throw new AwsServiceError('ResourceNotFoundException', `No retained message exists for topic ${input.topic}`, 404);
      const userProperties = userPropertiesJson(m.properties);
      return { topic: m.topic, payload: m.payload, qos: m.qos, lastModifiedTime: m.lastModifiedTime, ...(userProperties !== undefined ? { userProperties } : {}) };
    },

    ListRetainedMessages: (input, ctx) => {
      requireAllowed(ctx, 'iot:ListRetainedMessages', '*');
      if (messaging.listRetained === undefined) throw unsupported();
      const max = input.maxResults ?? 200;
      let after: string | null = null;
      if (input.nextToken !== undefined && input.nextToken !== '') after = Buffer.from(input.nextToken, 'base64url').toString('utf8');
      const page = messaging.listRetained(after, max + 1);
      const items = page.slice(0, max);
      return {
        retainedTopics: items.map((m) => ({ topic: m.topic, payloadSize: m.payload.length, qos: m.qos, lastModifiedTime: m.lastModifiedTime })),
        ...(page.length > max ? { nextToken: Buffer.from(items[items.length - 1]!.topic).toString('base64url') } : {}),
      };
    },
  };
}
