/**
 * Publish and SendDirectMessage of the IoT data plane: an HTTP request becomes an MQTT message
 * published as the platform (Publish) or handed to one connected client (SendDirectMessage).
 *
 * MQTT 5 properties travel as AWS sends them (iot-data model): `contentType`, `responseTopic`,
 * `messageExpiry` in the query; `x-amz-mqtt5-user-properties` (base64 JSON array of one-pair
 * objects, e.g. `[{"deviceName":"alpha"},{"deviceCnt":"45"}]`), `x-amz-mqtt5-payload-format-indicator`
 * (`UNSPECIFIED_BYTES` | `UTF8_DATA`) and `x-amz-mqtt5-correlation-data` (base64) as headers.
 */
import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import type { MessageProperties, Messaging, QoS } from '../core/index.js';
import { AwsServiceError, type AwsHandlers, type IotDataOperations } from '../http/index.js';
import { requireAllowed, type ResourceNames } from './authorize.js';

const invalid = (message: string): AwsServiceError => new AwsServiceError('InvalidRequestException', message, 400);

/** Topic names a publish may use: non-empty, no wildcards, no NUL. */
export function checkTopicName(topic: string, member = 'topic'): void {
  if (topic === '') throw invalid(`${member} must not be empty`);
  if (topic.includes('#') || topic.includes('+')) throw invalid(`${member} must not contain wildcard characters (+, #)`);
  if (topic.includes('\0')) throw invalid(`${member} must not contain the NUL character`);
}

/** `[{"k":"v"},…]` (the header's decoded JSON) as MQTT user properties; repeated keys keep every value. */
export function parseUserProperties(json: string): Record<string, string | string[]> {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw invalid('userProperties must be a JSON array of objects');
  }
  if (!Array.isArray(value)) throw invalid('userProperties must be a JSON array of objects');
  const out: Record<string, string | string[]> = {};
  for (const item of value) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw invalid('userProperties must be a JSON array of objects');
    for (const [k, v] of Object.entries(item as Record<string, unknown>)) {
      const text = typeof v === 'string' ? v : JSON.stringify(v);
      const prev = out[k];
      out[k] = prev === undefined ? text : Array.isArray(prev) ? [...prev, text] : [prev, text];
    }
  }
  return out;
}

/** The MQTT 5 properties a data-plane request carries. */
export function propertiesOf(input: {
  userProperties?: string;
  payloadFormatIndicator?: 'UNSPECIFIED_BYTES' | 'UTF8_DATA';
  contentType?: string;
  responseTopic?: string;
  correlationData?: string;
}): MessageProperties | undefined {
  const p: MessageProperties = {};
  if (input.userProperties !== undefined) p.userProperties = parseUserProperties(input.userProperties);
  if (input.payloadFormatIndicator !== undefined) p.payloadFormatIndicator = input.payloadFormatIndicator === 'UTF8_DATA';
  if (input.contentType !== undefined) p.contentType = input.contentType;
  if (input.responseTopic !== undefined) {
    checkTopicName(input.responseTopic, 'responseTopic');
    p.responseTopic = input.responseTopic;
  }
  if (input.correlationData !== undefined) p.correlationData = Buffer.from(input.correlationData, 'base64');
  return Object.keys(p).length === 0 ? undefined : p;
}

export interface PublishHandlerDeps {
  messaging: Pick<Messaging, 'publish' | 'deliverDirect'>;
  /** Confirmation timeout used when a SendDirectMessage names none, seconds (AWS: 5). */
  defaultTimeoutSeconds?: number;
  /** ARNs for the policy checks of certificate-authenticated callers. */
  resources: ResourceNames;
}

export function createPublishHandlers(deps: PublishHandlerDeps): AwsHandlers<IotDataOperations> {
  return {
    Publish: async (input, ctx) => {
      checkTopicName(input.topic);
      requireAllowed(ctx, 'iot:Publish', deps.resources.topic(input.topic));
      if (input.retain === true) requireAllowed(ctx, 'iot:RetainPublish', deps.resources.topic(input.topic));
      const properties = propertiesOf(input);
      if (input.messageExpiry !== undefined && input.messageExpiry < 0) throw invalid('messageExpiry must not be negative');
      // [MQTT-3.3.2-4 analogue] a payload declared UTF-8 must be UTF-8.
      if (input.payloadFormatIndicator === 'UTF8_DATA' && input.payload !== undefined && !isUtf8(input.payload)) throw invalid('payload is not valid UTF-8 but payloadFormatIndicator is UTF8_DATA');
      try {
        await deps.messaging.publish({
          topic: input.topic,
          payload: Buffer.from(input.payload ?? new Uint8Array(0)),
          qos: (input.qos ?? 0) as QoS,
          retain: input.retain === true,
          ...(properties !== undefined ? { properties } : {}),
          ...(input.messageExpiry !== undefined ? { messageExpiryInterval: input.messageExpiry } : {}),
        });
      } catch (err) {
        throw invalid((err as Error).message);
      }
      return {};
    },

    SendDirectMessage: async (input, ctx) => {
      if (input.clientId.startsWith('$')) throw invalid("clientId must not start with '$'");
      checkTopicName(input.topic);
      requireAllowed(ctx, 'iot:SendDirectMessage', deps.resources.client(input.clientId));
      const properties = propertiesOf(input);
      const confirm = input.confirmation === true;
      const timeoutMs = (input.timeout ?? deps.defaultTimeoutSeconds ?? 5) * 1000;
      const traceId = randomUUID();
      let settle: (delivered: boolean) => void = () => {};
      const settled = new Promise<boolean>((resolve) => (settle = resolve));
      // [AWS SendDirectMessage] confirmation=true: QoS 1 and wait for the PUBACK; false: QoS 0, answer once attempted.
      const sent = deps.messaging.deliverDirect(
        input.clientId,
        { topic: input.topic, payload: Buffer.from(input.payload ?? new Uint8Array(0)), qos: confirm ? 1 : 0, ...(properties !== undefined ? { properties } : {}) },
        (delivered) => settle(delivered),
      );
      if (!sent) throw new AwsServiceError('ResourceNotFoundException', `No connected client with clientId ${input.clientId}`, 404);
      if (!confirm) return { message: 'Message sent', traceId };
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
      const outcome = await Promise.race([settled, timedOut]);
      clearTimeout(timer);
      if (outcome === true) return { message: 'Message delivered', traceId };
      throw new AwsServiceError('GatewayTimeoutException', `The client ${input.clientId} did not acknowledge the message (PUBACK) within ${timeoutMs / 1000} seconds`, 504);
    },
  };
}
