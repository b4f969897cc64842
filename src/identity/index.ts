/**
 * identity: who may connect and do what — Thingport's root CA and server certificate, device
 * certificates and registered CAs, thing-principal bindings, mutual-TLS authentication of MQTT
 * clients, custom authorizers, SigV4-signed MQTT over WebSocket, IoT policies enforced on every
 * action, the access keys of the HTTP API, and client certificates on the HTTPS data plane.
 */
import { join } from 'node:path';
import {
  openDatabase,
  type AuthenticateRequest,
  type AuthenticateResult,
  type AuthorizersConfig,
  type ClientInfo,
  type EventBus,
  type Message,
  type Messaging,
  type SqliteDatabase,
} from '../core/index.js';
import type { AccessKeyLookup, AwsHandlers, CertificateAuthenticator, IotOperations } from '../http/index.js';
import type { Logger } from '../lib/index.js';
import { createAuthenticator } from './authenticate.js';
import { createHttpCertificateAuthenticator } from './authenticate-http.js';
import { createSigV4Authenticator, isAccessKeyAuthContext } from './authenticate-sigv4.js';
import { createCustomAuthenticator, isCustomAuthContext } from './authorizers-connect.js';
import { createAuthorizerHandlers } from './authorizers-http.js';
import { createAuthorizerFunctions } from './authorizers-invoke.js';
import { createSqliteAuthorizerStore } from './authorizers-store.js';
import { AuthorizerService } from './authorizers.js';
import { loadCa, type CertificateAuthority } from './ca.js';
import { CaCertificateService } from './certificates-ca.js';
import { certificateArn, certificateIdOfPrincipal, type CertificateContext, type ThingDirectory } from './certificates-context.js';
import { parseCertificatePem } from './certificates-crypto.js';
import { certificateFacts, type CertificateFactsOf } from './certificates-facts.js';
import { ThingPrincipalService } from './certificates-principals.js';
import { CertificateService } from './certificates.js';
import type { ListenerUrls } from './endpoint.js';
import { createIdentityHandlers } from './http.js';
import { createAccessKeyService, type AccessKeyService } from './keys.js';
import { createAuthorizationHooks, createPolicyEngine, type AuthzSubject, type PolicyEngine, type PolicyRegistry } from './policy/index.js';
import { createSqliteIdentityStore } from './store-sqlite.js';

export { ensureServerCertificates, loadCa } from './ca.js';
export type { CertificateAuthority, ServerCertificates } from './ca.js';
export { ADMIN_PROFILE, ensureAdminCredentials, readAdminKey } from './admin-key.js';
export type { AdminCredentials, AdminKey } from './admin-key.js';
export { ADMIN_KEY_NAME } from './keys.js';
export type { AccessKeyService } from './keys.js';
export type { AccessKeyRecord, CertificateRecord, CaCertificateRecord, CertificateStatus, IdentityStore } from './store.js';
export { createSqliteIdentityStore } from './store-sqlite.js';
export { CertificateService } from './certificates.js';
export { CaCertificateService } from './certificates-ca.js';
export { ThingPrincipalService } from './certificates-principals.js';
export type { CertificateAuthContext } from './authenticate.js';
export { SIGV4_SERVICE } from './authenticate-sigv4.js';
export type { AccessKeyAuthContext } from './authenticate-sigv4.js';
export { AuthorizerService } from './authorizers.js';
export type { CreateAuthorizerInput, UpdateAuthorizerInput } from './authorizers.js';
export type { CustomAuthContext } from './authorizers-connect.js';
export type { AuthorizerEvent, AuthorizerDecision } from './authorizers-event.js';
export type { AuthorizerFunctionConfig } from './authorizers-invoke.js';
export type { AuthorizerRecord, AuthorizerStatus } from './authorizers-store.js';
export type { CertificateFactsOf } from './certificates-facts.js';
export { describeEndpoint, ENDPOINT_TYPES } from './endpoint.js';
export type { EndpointType, ListenerUrls } from './endpoint.js';
export { IdentityError, IDENTITY_ERRORS } from './errors.js';
export { PolicyError, parsePolicyDocument } from './policy/index.js';
export type { AuthzSubject, CertificateFacts, PolicyDocument, PolicyEngine } from './policy/index.js';
export type { IdentityErrorCode } from './errors.js';

/**
 * The registry as identity uses it (RegistryService from registry/index.ts fits): thing lookup and
 * groups for policies, and (when offered) a veto on deleting things that have principals.
 */
export interface IdentityRegistry extends ThingDirectory, PolicyRegistry {
  getThing(thingName: string): ReturnType<PolicyRegistry['getThing']>;
  addThingDeleteGuard?(guard: (thingName: string) => string | null): () => void;
}

export interface IdentityDeps {
  db: SqliteDatabase;
  bus: EventBus;
  /** Holds the root CA (`ca/`) and keys.json. */
  dataDir: string;
  region: string;
  accountId: string;
  registry: IdentityRegistry;
  messaging: Messaging;
  logger: Logger;
  /** Admit MQTT clients without a certificate from anywhere. */
  allowAnonymous: boolean;
  /** Admit MQTT clients without a certificate from loopback (a development convenience; default true in config). */
  anonymousLoopback: boolean;
  /** The listeners' URLs, for DescribeEndpoint (read per call: ports are known only once listening). */
  endpoints: () => ListenerUrls;
  /**
   * Custom authorizers (config `authorizers`): the functions they may call (by authorizerFunctionArn
   * or Lambda function name), the call timeout (default 5000 ms) and the smallest TTL a function may
   * answer (default 300 s, AWS's). Without functions, authorizers exist but every invocation fails.
   */
  authorizers?: Partial<AuthorizersConfig>;
  now?: () => number;
}

/** The broker hooks identity provides (`main.ts` puts them in BrokerHooks). */
export interface IdentityHooks {
  authenticate: (req: AuthenticateRequest) => Promise<AuthenticateResult>;
  authorizePublish: (client: ClientInfo, message: Message) => boolean;
  authorizeSubscribe: (client: ClientInfo, filter: string) => boolean;
  authorizeReceive: (client: ClientInfo, message: Message) => boolean;
}

export interface Identity {
  /** Certificate, CA, principal, endpoint and policy operations for `createAwsRestRouter` with `iotModel`. */
  iotHandlers: AwsHandlers<IotOperations>;
  /** Access key lookup for `createAwsRestRouter`'s `authenticate`. */
  accessKeys: AccessKeyLookup;
  /**
   * Client certificates of unsigned HTTPS requests, for `createAwsRestRouter`'s
   * `authenticateCertificate` (the data plane): accepted like MQTT certificates, actions decided
   * by the certificate's IoT policies (authenticate-http.ts).
   */
  authenticateHttpCertificate: CertificateAuthenticator;
  hooks: IdentityHooks;
  /** The services, for other capabilities, the CLI and tests. */
  certificates: CertificateService;
  caCertificates: CaCertificateService;
  thingPrincipals: ThingPrincipalService;
  accessKeyService: AccessKeyService;
  /** The IoT policy engine (policy management, decisions, TestAuthorization). */
  policies: PolicyEngine;
  /** Custom authorizers (CreateAuthorizer ... TestInvokeAuthorizer). */
  authorizers: AuthorizerService;
  /** `${iot:Certificate.*}` facts of a certificate (id or certificate ARN), or null. */
  certificateFacts: (principal: string) => CertificateFactsOf | null;
  /** Stops listening to the bus and removes the registry guard (the database stays open: it is the caller's). */
  close(): void;
}

/**
 * Builds the identity capability on the shared database: certificate services, the policy engine,
 * the broker hooks and the HTTP handlers. Imports the admin key from keys.json when it exists.
 */
export async function createIdentity(deps: IdentityDeps): Promise<Identity> {
  const now = deps.now ?? Date.now;
  const logger = deps.logger.child({ component: 'identity' });
  const store = createSqliteIdentityStore(deps.db);

  let ca: Promise<CertificateAuthority> | null = null;
  const rootCa = (): Promise<CertificateAuthority> => {
    ca ??= loadCa(deps.dataDir).catch((err: unknown) => {
      ca = null; // try again next time (the CA may be created later)
      throw err;
    });
    return ca;
  };
  const ctx: CertificateContext = {
    store,
    bus: deps.bus,
    messaging: deps.messaging,
    registry: deps.registry,
    region: deps.region,
    accountId: deps.accountId,
    logger,
    now,
    signingCa: rootCa,
    policyTargets: null,
  };
  const certificates = new CertificateService(ctx);
  const caCertificates = new CaCertificateService(ctx);
  const thingPrincipals = new ThingPrincipalService(ctx);
  // AWS refuses to delete a thing that still has principals attached.
  const removeGuard = deps.registry.addThingDeleteGuard?.((thingName) => {
    const n = store.listThingPrincipals(thingName).length;
    return n > 0 ? `Thing ${thingName} has ${n} principal(s) attached; detach them with DetachThingPrincipal first` : null;
  });

  // Facts of certificates that authenticated (and of any asked for), for `${iot:Certificate.*}`.
  const facts = new Map<string, CertificateFactsOf>();
  const certificateFactsOf = (principal: string): CertificateFactsOf | null => {
    let id = principal;
    if (principal.startsWith('arn:')) {
      try {
        id = certificateIdOfPrincipal(ctx, principal);
      } catch {
        return null;
      }
    }
    const rec = store.getCertificate(id); // also answers "does it still exist" (AttachPolicy asks)
    if (rec === null) {
      facts.delete(id);
      return null;
    }
    const known = facts.get(id);
    if (known !== undefined) return known;
    const f = certificateFacts(parseCertificatePem(rec.certificatePem, 'certificate').certificate, id);
    facts.set(id, f);
    return f;
  };

  const policies = createPolicyEngine({
    db: deps.db,
    bus: deps.bus,
    region: deps.region,
    accountId: deps.accountId,
    registry: deps.registry,
    certificateFacts: certificateFactsOf,
    principalThings: (certificateId) => store.listPrincipalThings(certificateId).map((b) => b.thingName),
    logger: deps.logger,
    now,
  });
  ctx.policyTargets = {
    hasAttachedPolicies: (certificateId) => policies.policiesOfPrincipal(certificateId).length > 0,
    detachAllPolicies: (certificateId) => {
      const target = certificateArn(ctx, certificateId);
      for (const name of [...policies.policiesOfPrincipal(certificateId)]) policies.service.detachPolicy(name, target, ['cert'], 'target');
    },
  };
  // One subject per connection (the hooks keep it); its thing is read live, so attaching or
  // detaching a thing applies to connected clients at once (the engine re-binds on the bus event).
  // A custom-authorized connection's policies are exactly what its authorizer returned (see
  // authorizers-connect.ts): no principal, no thing.
  const subjectOf = (client: ClientInfo): AuthzSubject => {
    const ctx = client.authContext;
    if (isCustomAuthContext(ctx)) return { clientId: client.clientId, principal: null, thingName: null, sourceIp: client.remoteAddress, extraPolicies: ctx.policies };
    return {
      clientId: client.clientId,
      principal: client.principal,
      get thingName(): string | null {
        return client.principal === null ? null : thingPrincipals.thingOf(client.principal, client.clientId);
      },
      sourceIp: client.remoteAddress,
    };
  };
  const authz = createAuthorizationHooks(policies, { region: deps.region, accountId: deps.accountId, subjectOf });

  const accessKeyService = createAccessKeyService({ store, dataDir: deps.dataDir, now });
  await accessKeyService.importAdminKey().catch((err: unknown) => logger.warn({ err }, 'could not import the admin key from keys.json'));

  const authorizerFunctions = createAuthorizerFunctions({
    functions: deps.authorizers?.functions ?? {},
    timeoutMs: deps.authorizers?.timeoutMs ?? 5_000,
    logger: logger.child({ component: 'authorizers' }),
  });
  const authorizers = new AuthorizerService({
    store: createSqliteAuthorizerStore(deps.db),
    functions: authorizerFunctions,
    region: deps.region,
    accountId: deps.accountId,
    minTtlSeconds: deps.authorizers?.minTtlSeconds ?? 300,
    now,
  });
  const customAuth = createCustomAuthenticator({ service: authorizers, authorizeConnect: authz.authorizeConnect, messaging: deps.messaging, logger, now });

  const authenticate = createAuthenticator({
    store,
    certificates,
    cas: caCertificates,
    principals: thingPrincipals,
    thingportCa: async () => (await rootCa()).certificate,
    messaging: deps.messaging,
    accountId: deps.accountId,
    allowAnonymous: deps.allowAnonymous,
    anonymousLoopback: deps.anonymousLoopback,
    authorizeConnect: authz.authorizeConnect,
    rememberFacts: (f) => facts.set(f.certificateId, f),
    customAuth,
    sigv4: createSigV4Authenticator({ accessKeys: accessKeyService.lookup, region: deps.region, logger, now }),
    logger,
    now,
  });

  const authenticateHttpCertificate = createHttpCertificateAuthenticator({
    store,
    cas: caCertificates,
    thingportCa: async () => (await rootCa()).certificate,
    now,
    principals: thingPrincipals,
    authorize: (subject, action, resourceArn) => policies.authorize(subject, action, resourceArn),
    rememberFacts: (f) => facts.set(f.certificateId, f),
    onRefused: (reason, certificateId) => logger.debug({ reason, certificateId }, 'HTTPS client certificate refused'),
  });

  const iotHandlers: AwsHandlers<IotOperations> = {
    ...policies.iotHandlers,
    ...createIdentityHandlers({ ctx, certificates, cas: caCertificates, principals: thingPrincipals, endpoints: deps.endpoints }),
    ...createAuthorizerHandlers(authorizers),
  };
  // Anonymous clients (admitted by configuration) are not subject to policies; nor are SigV4
  // clients, whose access keys are the API's administrator credentials (authenticate-sigv4.ts).
  const unrestricted = (client: ClientInfo): boolean => client.principal === null || isAccessKeyAuthContext(client.authContext);
  return {
    iotHandlers,
    accessKeys: accessKeyService.lookup,
    authenticateHttpCertificate,
    hooks: {
      authenticate,
      authorizePublish: (client, message) => unrestricted(client) || authz.authorizePublish(client, message),
      authorizeSubscribe: (client, filter) => unrestricted(client) || authz.authorizeSubscribe(client, filter),
      authorizeReceive: (client, message) => unrestricted(client) || authz.authorizeReceive(client, message),
    },
    certificates,
    caCertificates,
    thingPrincipals,
    accessKeyService,
    policies,
    authorizers,
    certificateFacts: certificateFactsOf,
    close: () => {
      customAuth.close();
      authorizerFunctions.close();
      policies.close();
      thingPrincipals.close();
      removeGuard?.();
    },
  };
}

/**
 * Opens the access keys of a data directory without a running server (`thingport keys`): the
 * database `<dataDir>/thingport.db`, with the admin key imported from keys.json. Close when done.
 */
export async function openAccessKeys(dataDir: string): Promise<{ keys: AccessKeyService; close: () => void }> {
  const db = openDatabase(join(dataDir, 'thingport.db'));
  try {
    const keys = createAccessKeyService({ store: createSqliteIdentityStore(db), dataDir, now: Date.now });
    await keys.importAdminKey();
    return { keys, close: () => db.close() };
  } catch (err) {
    db.close();
    throw err;
  }
}
