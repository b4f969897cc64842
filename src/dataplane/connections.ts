/**
 * GetConnection, DeleteConnection and ListSubscriptions of the IoT data plane, read from and
 * acted on through the broker's in-process API (`describeClient`, `disconnectClient`).
 */
import type { ClientDescription, Messaging } from '../core/index.js';
import { AwsServiceError, type AwsHandlers, type IotDataOperations } from '../http/index.js';
import { requireAllowed, type ResourceNames } from './authorize.js';

type GetConnectionResponse = IotDataOperations['GetConnection']['output'];

const notFound = (clientId: string): AwsServiceError => new AwsServiceError('ResourceNotFoundException', `No connection or session exists for clientId ${clientId}`, 404);

/** Client ids of these calls must not start with `$` (iot-data API reference). */
function checkClientId(clientId: string): void {
  if (clientId.startsWith('$')) throw new AwsServiceError('InvalidRequestException', "clientId must not start with '$'", 400);
}

/** The GetConnection answer for a broker description (fields the broker does not report are left out). */
export function connectionOf(clientId: string, d: ClientDescription, includeSocket: boolean): GetConnectionResponse {
  const out: GetConnectionResponse = { connected: d.connected, clientId };
  const thingName = d.info?.thingName;
  if (thingName !== null && thingName !== undefined) out.thingName = thingName;
  if (d.cleanSession !== undefined) out.cleanSession = d.cleanSession;
  if (d.keepAliveSeconds !== undefined) out.keepAliveDuration = d.keepAliveSeconds;
  if (d.sessionExpirySeconds !== undefined) out.sessionExpiry = d.sessionExpirySeconds;
  // [AWS GetConnection] connectedSince only while connected; disconnectedSince and the reason only after.
  if (d.connected && d.connectedAt !== undefined) out.connectedSince = d.connectedAt;
  if (!d.connected) {
    if (d.disconnectedAt !== null) out.disconnectedSince = d.disconnectedAt;
    if (d.disconnectReason !== undefined) out.disconnectReason = d.disconnectReason;
  }
  if (includeSocket && d.connected) {
    if (d.socket !== undefined) Object.assign(out, d.socket);
    else if (d.info !== null) out.sourceIp = d.info.remoteAddress.replace(/^::ffff:/, '');
  }
  return out;
}

export function createConnectionHandlers(messaging: Pick<Messaging, 'describeClient' | 'disconnectClient'>, resources: ResourceNames): AwsHandlers<IotDataOperations> {
  return {
    GetConnection: (input, ctx) => {
      checkClientId(input.clientId);
      requireAllowed(ctx, 'iot:GetConnection', resources.client(input.clientId));
      const d = messaging.describeClient(input.clientId);
      if (d === null) throw notFound(input.clientId);
      return connectionOf(input.clientId, d, input.includeSocketInformation === true);
    },

    DeleteConnection: (input, ctx) => {
      checkClientId(input.clientId);
      requireAllowed(ctx, 'iot:DeleteConnection', resources.client(input.clientId));
      // [AWS DeleteConnection] cleanSession=true also ends a persistent session; preventWillMessage=true suppresses the will.
      const ok = messaging.disconnectClient(input.clientId, { cleanSession: input.cleanSession === true, preventWill: input.preventWillMessage === true });
      if (!ok) throw notFound(input.clientId);
      return {};
    },

    ListSubscriptions: (input, ctx) => {
      checkClientId(input.clientId);
      requireAllowed(ctx, 'iot:ListSubscriptions', resources.client(input.clientId));
      const d = messaging.describeClient(input.clientId);
      if (d === null) throw notFound(input.clientId);
      const all = [...d.subscriptions].sort((a, b) => (a.filter < b.filter ? -1 : a.filter > b.filter ? 1 : 0));
      const max = input.maxResults ?? 20; // AWS: default 20
      let start = 0;
      if (input.nextToken !== undefined && input.nextToken !== '') {
        const after = Buffer.from(input.nextToken, 'base64url').toString('utf8');
        start = all.findIndex((s) => s.filter > after);
        if (start < 0) start = all.length;
      }
      const page = all.slice(start, start + max);
      const more = start + max < all.length;
      return {
        subscriptions: page.map((s) => ({ topicFilter: s.filter, qos: s.qos })),
        ...(more ? { nextToken: Buffer.from(page[page.length - 1]!.filter).toString('base64url') } : {}),
      };
    },
  };
}
