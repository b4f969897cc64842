/**
 * The shadow operations of the IoT data plane (`iot-data`, SigV4 signing name `iotdata`):
 * GetThingShadow, UpdateThingShadow, DeleteThingShadow (the raw JSON document is the HTTP body)
 * and ListNamedShadowsForThing. An accepted update publishes the same MQTT messages as one over
 * MQTT (the service does that); an error answers HTTP only — no MQTT `rejected` (AWS: "If the
 * client updates the document using the REST API, then it receives the HTTP error code … and no
 * MQTT error messages are emitted").
 */
import { AwsServiceError, type AwsHandlers, type AwsRequestContext, type IotDataOperations } from '../http/index.js';
import { ShadowError } from './errors.js';
import type { ShadowService } from './service.js';

/**
 * Decides an HTTP caller's shadow action (`iot:GetThingShadow`, `iot:UpdateThingShadow`,
 * `iot:DeleteThingShadow`, `iot:ListNamedShadowsForThing`) on a resource ARN. Absent: every
 * authenticated caller may (Thingport's access keys are administrators; it has no IAM). Callers
 * authenticated by a client certificate are also decided by their policies (`ctx.authorize`).
 */
export type ShadowHttpAuthorizer = (ctx: AwsRequestContext, action: string, resourceArn: string) => boolean;

/** AWS error type of each shadow status on the data plane (iot-data model errors). */
const ERROR_TYPES: Record<number, string> = {
  400: 'InvalidRequestException',
  401: 'UnauthorizedException',
  403: 'ForbiddenException',
  404: 'ResourceNotFoundException',
  405: 'MethodNotAllowedException',
  409: 'ConflictException',
  413: 'RequestEntityTooLargeException',
  415: 'UnsupportedDocumentEncodingException',
  429: 'ThrottlingException',
  500: 'InternalFailureException',
};

/** The data plane's error for a ShadowError (status and AWS's message text kept). */
export function toAwsError(err: unknown): unknown {
  if (!(err instanceof ShadowError)) return err;
  return new AwsServiceError(ERROR_TYPES[err.status] ?? 'InternalFailureException', err.message, err.status, { cause: err });
}

export interface ShadowHandlerDeps {
  service: ShadowService;
  region: string;
  accountId: string;
  authorize?: ShadowHttpAuthorizer;
}

/** The four shadow handlers for createAwsRestRouter with `iotDataModel`. */
export function createShadowHandlers(deps: ShadowHandlerDeps): AwsHandlers<IotDataOperations> {
  const { service } = deps;
  // AWS IoT Core action resources (developerguide/iot-action-resources.html): Get/Update/Delete
  // take `thing/{thingName}`, a named shadow `thing/{thingName}/{shadowName}`;
  // iot:ListNamedShadowsForThing has no resource-level permission: its resource is `*`.
  const arn = (thingName: string, shadowName: string | undefined): string =>
    `arn:aws:iot:${deps.region}:${deps.accountId}:thing/${thingName}${shadowName === undefined ? '' : `/${shadowName}`}`;
  const allowed = (ctx: AwsRequestContext, action: string, resource: string): boolean =>
    (deps.authorize?.(ctx, action, resource) ?? true) && (ctx.authorize?.(action, resource) ?? true);
  const check = (ctx: AwsRequestContext, action: string, thingName: string, shadowName?: string): void => {
    const resource = action === 'iot:ListNamedShadowsForThing' ? '*' : arn(thingName, shadowName);
    if (!allowed(ctx, action, resource)) throw new AwsServiceError('ForbiddenException', 'Forbidden', 403);
  };
  const call = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      throw toAwsError(err);
    }
  };
  const empty = new Uint8Array(0);

  return {
    GetThingShadow: (input, ctx) => {
      check(ctx, 'iot:GetThingShadow', input.thingName, input.shadowName);
      return { payload: Buffer.from(call(() => service.get(input.thingName, input.shadowName ?? null, empty))) };
    },
    UpdateThingShadow: (input, ctx) => {
      check(ctx, 'iot:UpdateThingShadow', input.thingName, input.shadowName);
      const r = call(() => service.update(input.thingName, input.shadowName ?? null, input.payload, { principal: ctx.principal, clientId: null }));
      return { payload: Buffer.from(r.payload) };
    },
    DeleteThingShadow: (input, ctx) => {
      check(ctx, 'iot:DeleteThingShadow', input.thingName, input.shadowName);
      const r = call(() => service.delete(input.thingName, input.shadowName ?? null, empty, { principal: ctx.principal, clientId: null }));
      return { payload: Buffer.from(r.payload) };
    },
    ListNamedShadowsForThing: (input, ctx) => {
      check(ctx, 'iot:ListNamedShadowsForThing', input.thingName);
      let after: string | null = null;
      if (input.nextToken !== undefined && input.nextToken !== '') {
        after = Buffer.from(input.nextToken, 'base64url').toString('utf8');
        if (after === '') throw new AwsServiceError('InvalidRequestException', 'Invalid nextToken', 400);
      }
      const page = service.listNamedShadows(input.thingName, after, input.pageSize ?? 100);
      const last = page.results[page.results.length - 1];
      return {
        results: page.results,
        ...(page.more && last !== undefined ? { nextToken: Buffer.from(last).toString('base64url') } : {}),
        timestamp: page.timestamp,
      };
    },
  };
}
