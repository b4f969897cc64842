/**
 * Shadow topic names and resource names ([SDK] Device-Shadow-for-AWS-IoT-embedded-sdk shadow.h;
 * AWS IoT developer guide, "Device Shadow MQTT topics"):
 *   $aws/things/{thingName}/shadow/{get|update|delete}[/accepted|/rejected|/delta|/documents]
 *   $aws/things/{thingName}/shadow/name/{shadowName}/…
 */

export type ShadowOperation = 'get' | 'update' | 'delete';

/** Thing names: 1-128 of [a-zA-Z0-9:_-] (iot-data model, ThingName). */
export const THING_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;
/** Shadow names: 1-64 of [a-zA-Z0-9:_-] (iot-data model, ShadowName). */
export const SHADOW_NAME = /^[a-zA-Z0-9:_-]{1,64}$/;

/** `$aws/things/{thing}/shadow` or `$aws/things/{thing}/shadow/name/{shadow}`. */
export function shadowTopicPrefix(thingName: string, shadowName: string | null): string {
  return shadowName === null ? `$aws/things/${thingName}/shadow` : `$aws/things/${thingName}/shadow/name/${shadowName}`;
}

/**
 * The request a topic names, or null for anything else under `$aws/things/+/shadow/…` (responses,
 * notifications, unknown suffixes, invalid names).
 */
export function parseShadowRequestTopic(topic: string): { thingName: string; shadowName: string | null; operation: ShadowOperation } | null {
  const parts = topic.split('/');
  if (parts[0] !== '$aws' || parts[1] !== 'things' || parts[3] !== 'shadow') return null;
  let shadowName: string | null = null;
  let op: string | undefined;
  if (parts.length === 5) op = parts[4];
  else if (parts.length === 7 && parts[4] === 'name') {
    shadowName = parts[5]!;
    op = parts[6];
  } else return null;
  if (op !== 'get' && op !== 'update' && op !== 'delete') return null;
  const thingName = parts[2]!;
  if (!THING_NAME.test(thingName) || (shadowName !== null && !SHADOW_NAME.test(shadowName))) return null;
  return { thingName, shadowName, operation: op };
}
