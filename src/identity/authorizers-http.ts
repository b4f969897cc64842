/**
 * The custom authorizer operations of the AWS IoT API: CreateAuthorizer, DescribeAuthorizer,
 * UpdateAuthorizer, ListAuthorizers, DeleteAuthorizer, SetDefaultAuthorizer,
 * DescribeDefaultAuthorizer, ClearDefaultAuthorizer and TestInvokeAuthorizer. Adapters only:
 * TestInvokeAuthorizer runs the very path a connecting client takes (AuthorizerService.authorize).
 */
import type { AwsHandlers, IotOperations } from '../http/index.js';
import type { AuthorizerInput } from './authorizers-event.js';
import type { AuthorizerRecord } from './authorizers-store.js';
import type { AuthorizerService } from './authorizers.js';
import { IdentityError } from './errors.js';
import { aws, decodeMarker, encodeMarker } from './http.js';

type Out<K extends keyof IotOperations> = IotOperations[K]['output'];
type In<K extends keyof IotOperations> = IotOperations[K]['input'];

/** ListAuthorizers page size when the caller gives none (the model's maximum). */
const DEFAULT_PAGE_SIZE = 250;

/** What TestInvokeAuthorizer's contexts describe, as a connection would offer it. */
export function inputOfTest(input: In<'TestInvokeAuthorizer'>): AuthorizerInput {
  const http = input.httpContext;
  const mqtt = input.mqttContext;
  return {
    tls: input.tlsContext === undefined ? null : input.tlsContext.serverName !== undefined ? { serverName: input.tlsContext.serverName } : {},
    http: http === undefined ? null : { headers: { ...(http.headers ?? {}) }, ...(http.queryString !== undefined ? { queryString: http.queryString } : {}) },
    mqtt:
      mqtt === undefined
        ? null
        : {
            ...(mqtt.username !== undefined ? { username: mqtt.username } : {}),
            ...(mqtt.password !== undefined ? { password: mqtt.password } : {}),
            ...(mqtt.clientId !== undefined ? { clientId: mqtt.clientId } : {}),
          },
  };
}

/** Builds the handlers. */
export function createAuthorizerHandlers(service: AuthorizerService): AwsHandlers<IotOperations> {
  const named = (r: AuthorizerRecord) => ({ authorizerName: r.authorizerName, authorizerArn: service.arnOf(r.authorizerName) });
  const description = (r: AuthorizerRecord): NonNullable<Out<'DescribeAuthorizer'>['authorizerDescription']> => ({
    ...named(r),
    authorizerFunctionArn: r.authorizerFunctionArn,
    ...(r.tokenKeyName !== null ? { tokenKeyName: r.tokenKeyName } : {}),
    tokenSigningPublicKeys: r.tokenSigningPublicKeys,
    status: r.status,
    creationDate: new Date(r.createdAt),
    lastModifiedDate: new Date(r.lastModifiedAt),
    signingDisabled: r.signingDisabled,
    enableCachingForHttp: r.enableCachingForHttp,
  });

  return {
    CreateAuthorizer: (input) => aws(() => named(service.create(input))),
    DescribeAuthorizer: (input) => aws(() => ({ authorizerDescription: description(service.describe(input.authorizerName)) })),
    UpdateAuthorizer: (input) => aws(() => named(service.update(input.authorizerName, input))),
    ListAuthorizers: (input) =>
      aws(() => {
        const offset = decodeMarker(input.marker);
        const page = service.list({
          offset,
          limit: input.pageSize ?? DEFAULT_PAGE_SIZE,
          ascending: input.ascendingOrder === true,
          ...(input.status !== undefined ? { status: input.status } : {}),
        });
        return { authorizers: page.items.map(named), nextMarker: page.more ? encodeMarker(offset + page.items.length) : undefined };
      }),
    DeleteAuthorizer: (input) =>
      aws(() => {
        service.delete(input.authorizerName);
        return {};
      }),
    SetDefaultAuthorizer: (input) => aws(() => named(service.setDefault(input.authorizerName))),
    DescribeDefaultAuthorizer: () =>
      aws(() => {
        const r = service.defaultAuthorizer();
        if (r === null) throw new IdentityError('authorizer.not_found', 'No default authorizer is set');
        return { authorizerDescription: description(r) };
      }),
    ClearDefaultAuthorizer: () =>
      aws(() => {
        service.clearDefault();
        return {};
      }),
    TestInvokeAuthorizer: (input) =>
      aws(async () => {
        const rec = service.describe(input.authorizerName);
        const explicit = { ...(input.token !== undefined ? { token: input.token } : {}), ...(input.tokenSignature !== undefined ? { signature: input.tokenSignature } : {}) };
        const { decision } = await service.authorize(rec, inputOfTest(input), explicit);
        const out: Out<'TestInvokeAuthorizer'> = { isAuthenticated: decision.isAuthenticated };
        if (decision.isAuthenticated) {
          out.principalId = decision.principalId;
          out.policyDocuments = decision.policyDocuments;
          if (decision.disconnectAfterInSeconds !== undefined) out.disconnectAfterInSeconds = decision.disconnectAfterInSeconds;
          if (decision.refreshAfterInSeconds !== undefined) out.refreshAfterInSeconds = decision.refreshAfterInSeconds;
        }
        return out;
      }),
  };
}
