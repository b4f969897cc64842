/**
 * Policy checks of the non-shadow data-plane operations for callers authenticated by a client
 * certificate (`ctx.authorize`; SigV4 callers are administrators and have none). Actions and
 * resources as AWS IoT Core defines them (developerguide/iot-action-resources.html and
 * iot-policy-actions.html):
 *  - Publish             `iot:Publish` on `topic/{topic}`, and `iot:RetainPublish` too when `retain`;
 *  - GetRetainedMessage  `iot:GetRetainedMessage` on `topic/{topic}`;
 *  - ListRetainedMessages `iot:ListRetainedMessages` on `*` ("The resource ARN specified for this
 *    action must be *");
 *  - DeleteConnection    `iot:DeleteConnection` on `client/{clientId}`;
 *  - GetConnection, ListSubscriptions, SendDirectMessage: `iot:GetConnection`,
 *    `iot:ListSubscriptions`, `iot:SendDirectMessage` on `client/{clientId}`.
 */
import { AwsServiceError, type AwsRequestContext } from '../http/index.js';

export interface ResourceNames {
  topic(topic: string): string;
  client(clientId: string): string;
}

export function resourceNames(region: string, accountId: string): ResourceNames {
  const prefix = `arn:aws:iot:${region}:${accountId}:`;
  return { topic: (t) => `${prefix}topic/${t}`, client: (c) => `${prefix}client/${c}` };
}

/** Throws 403 ForbiddenException unless the caller may do `action` on `resource` (always may without `ctx.authorize`). */
export function requireAllowed(ctx: AwsRequestContext | undefined, action: string, resource: string): void {
  if (ctx?.authorize !== undefined && !ctx.authorize(action, resource)) throw new AwsServiceError('ForbiddenException', 'Forbidden', 403);
}
