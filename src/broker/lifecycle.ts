/**
 * AWS IoT lifecycle events (developer guide, "Lifecycle events"): presence and subscription messages
 * the broker publishes on `$aws/events/...`. Client ids containing `#` or `+` produce none.
 */
import type { ClientInfo } from './hooks.js';
import type { DisconnectReason } from './connection.js';

export const PRESENCE_CONNECTED = '$aws/events/presence/connected/';
export const PRESENCE_DISCONNECTED = '$aws/events/presence/disconnected/';
export const SUBSCRIBED = '$aws/events/subscriptions/subscribed/';
export const UNSUBSCRIBED = '$aws/events/subscriptions/unsubscribed/';

export function emitsLifecycleEvents(clientId: string): boolean {
  return clientId.indexOf('#') === -1 && clientId.indexOf('+') === -1;
}

function common(info: ClientInfo, eventType: string, versionNumber: number): Record<string, unknown> {
  const o: Record<string, unknown> = {
    clientId: info.clientId,
    timestamp: Date.now(),
    eventType,
    sessionIdentifier: info.sessionIdentifier,
    principalIdentifier: info.principal ?? 'anonymous',
  };
  if (info.thingName !== null) o.thingName = info.thingName;
  if (versionNumber >= 0) o.versionNumber = versionNumber;
  return o;
}

export function connectedEvent(info: ClientInfo, versionNumber: number): Buffer {
  const o = common(info, 'connected', versionNumber);
  o.ipAddress = info.remoteAddress;
  return Buffer.from(JSON.stringify(o));
}

export function disconnectedEvent(info: ClientInfo, versionNumber: number, reason: DisconnectReason, clientInitiated: boolean): Buffer {
  const o = common(info, 'disconnected', versionNumber);
  o.clientInitiatedDisconnect = clientInitiated;
  o.disconnectReason = reason;
  o.ipAddress = info.remoteAddress;
  return Buffer.from(JSON.stringify(o));
}

export function subscriptionEvent(info: ClientInfo, subscribed: boolean, topics: string[]): Buffer {
  const o = common(info, subscribed ? 'subscribed' : 'unsubscribed', -1);
  o.topics = topics;
  return Buffer.from(JSON.stringify(o));
}
