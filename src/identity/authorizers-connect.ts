/**
 * Custom authorizers on the connect path: run the authorizer a CONNECT names (or the default one),
 * turn its decision into the broker's AuthenticateResult, and end the connection when the
 * function's `disconnectAfterInSeconds` runs out.
 *
 * The connection's policies are exactly the documents the function returned (custom-auth-lambda.html;
 * "AWS IoT Core evaluates the activity on the connection against the policies it received from the
 * Lambda function", custom-authorizer.html): they must allow `iot:Connect` too. The policy subject
 * therefore carries no principal — a principalId that happens to equal a certificate id must not
 * pick up that certificate's attached policies — while ClientInfo.principal is the principalId.
 *
 * CONNACK reason codes (MQTT 3.1.1 return codes in brackets):
 *  - 0x86 [4] bad user name or password: signing is enabled and the token or its signature is
 *    missing or does not verify (the function is not called);
 *  - 0x87 [5] not authorized: the authorizer does not exist or is INACTIVE, the function answered
 *    isAuthenticated false, its policies deny iot:Connect, or it failed (threw, timed out,
 *    answered an invalid response, is not configured) — failures are also logged.
 */
import type { AuthenticateRequest, AuthenticateResult, Messaging } from '../core/index.js';
import type { Logger } from '../lib/index.js';
import { RC } from '../protocol/index.js';
import { inputOfConnect } from './authorizers-event.js';
import type { AuthorizerOutcome, AuthorizerService } from './authorizers.js';
import { IdentityError } from './errors.js';
import type { AuthzSubject, PolicyDocument } from './policy/index.js';

/** What a custom-authorized connection carries (ClientInfo.authContext). */
export interface CustomAuthContext {
  kind: 'customAuthorizer';
  authorizerName: string;
  principalId: string;
  /** The compiled policy documents the function returned: the connection's only policies. */
  policies: readonly PolicyDocument[];
  /** When the connection is ended (disconnectAfterInSeconds), ms since the epoch; null = no limit. */
  disconnectAt: number | null;
}

export interface CustomAuthenticatorDeps {
  service: AuthorizerService;
  /** Decides iot:Connect for a subject (the policy hooks' authorizeConnect). */
  authorizeConnect: (subject: AuthzSubject) => boolean;
  messaging: Messaging;
  logger: Logger;
  now: () => number;
}

export interface CustomAuthenticator {
  /** Authenticates `req` with authorizer `name`. Never throws. */
  authenticate(req: AuthenticateRequest, name: string): Promise<AuthenticateResult>;
  /** The default authorizer's name when one is set and ACTIVE, else null. */
  defaultName(): string | null;
  /** Cancels the pending disconnectAfterInSeconds timers. */
  close(): void;
}

type Refusal = Extract<AuthenticateResult, { ok: false }>;
const refuse = (reasonCode: number, reason: string): Refusal => ({ ok: false, reasonCode, reason });

/** Builds the custom-authorizer part of the authenticate hook. */
export function createCustomAuthenticator(deps: CustomAuthenticatorDeps): CustomAuthenticator {
  const log = deps.logger;
  const timers = new Set<NodeJS.Timeout>();
  // A timer holds its connection's context weakly; once the connection (hence the context) is
  // gone the timer is cancelled, so connections that come and go leave no timers behind.
  const finalizer = new FinalizationRegistry<NodeJS.Timeout>((t) => {
    clearTimeout(t);
    timers.delete(t);
  });

  const expire = (clientId: string, ctx: CustomAuthContext): void => {
    const d = deps.messaging.describeClient(clientId);
    // Only this connection: the client may have reconnected (with a new context) meanwhile.
    if (d === null || !d.connected || d.info?.authContext !== ctx) return;
    log.info({ clientId, authorizer: ctx.authorizerName, principalId: ctx.principalId }, 'custom authorizer disconnectAfterInSeconds reached; disconnecting');
    // The lifecycle event says CUSTOMAUTH_TTL_EXPIRATION, as AWS reports it.
    deps.messaging.disconnectClient(clientId, { reason: 'CUSTOMAUTH_TTL_EXPIRATION' });
  };

  const schedule = (clientId: string, ctx: CustomAuthContext, delayMs: number): void => {
    const ref = new WeakRef(ctx);
    const t = setTimeout(() => {
      timers.delete(t);
      const c = ref.deref();
      if (c === undefined) return;
      finalizer.unregister(c);
      expire(clientId, c);
    }, delayMs);
    t.unref();
    timers.add(t);
    finalizer.register(ctx, t, ctx);
  };

  async function authenticate(req: AuthenticateRequest, name: string): Promise<AuthenticateResult> {
    const rec = deps.service.describeOrNull(name);
    if (rec === null) return refuse(RC.NOT_AUTHORIZED, `custom authorizer ${name} not found`);
    if (rec.status !== 'ACTIVE') return refuse(RC.NOT_AUTHORIZED, `custom authorizer ${name} is ${rec.status}`);
    let outcome: AuthorizerOutcome;
    try {
      outcome = await deps.service.authorize(rec, inputOfConnect(req));
    } catch (err) {
      if (err instanceof IdentityError && err.code === 'authorizer.signature_invalid') return refuse(RC.BAD_USERNAME_OR_PASSWORD, err.message);
      log.warn({ err, clientId: req.clientId, authorizer: name }, 'custom authorizer failed; refusing the connection');
      return refuse(RC.NOT_AUTHORIZED, err instanceof IdentityError ? err.message : `custom authorizer ${name} failed`);
    }
    const { decision } = outcome;
    if (!decision.isAuthenticated) return refuse(RC.NOT_AUTHORIZED, `custom authorizer ${name} did not authenticate the client`);
    const principalId = decision.principalId!;
    const subject: AuthzSubject = { clientId: req.clientId, principal: null, thingName: null, sourceIp: req.remoteAddress, extraPolicies: decision.policies };
    if (!deps.authorizeConnect(subject)) return refuse(RC.NOT_AUTHORIZED, 'not authorized to connect (iot:Connect) by the custom authorizer\'s policies');
    const ttl = decision.disconnectAfterInSeconds;
    const ctx: CustomAuthContext = {
      kind: 'customAuthorizer',
      authorizerName: name,
      principalId,
      policies: decision.policies,
      disconnectAt: ttl === undefined ? null : deps.now() + ttl * 1000,
    };
    if (ttl !== undefined) schedule(req.clientId, ctx, ttl * 1000);
    return { ok: true, principal: principalId, thingName: null, authContext: ctx };
  }

  return {
    authenticate: async (req, name) => {
      try {
        return await authenticate(req, name);
      } catch (err) {
        log.error({ err, clientId: req.clientId, authorizer: name }, 'custom authentication failed unexpectedly');
        return refuse(RC.NOT_AUTHORIZED, 'custom authentication failed');
      }
    },
    defaultName: () => {
      const rec = deps.service.defaultAuthorizer();
      return rec !== null && rec.status === 'ACTIVE' ? rec.authorizerName : null;
    },
    close: () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}

/** Is this ClientInfo.authContext a custom authorizer's? */
export function isCustomAuthContext(ctx: unknown): ctx is CustomAuthContext {
  return typeof ctx === 'object' && ctx !== null && (ctx as { kind?: unknown }).kind === 'customAuthorizer';
}
