/**
 * The broker's authenticate hook: who is connecting.
 *
 * - A client certificate (MQTT over TLS, MQTT over secure WebSocket) must parse, be within its
 *   validity, be registered, still chain to what vouched for it (Thingport's CA, or the registered
 *   CA it was registered with; certificates registered without a CA chain to nothing) and be ACTIVE.
 *   The chain is checked here with @peculiar/x509, not by the TLS stack, because registered CAs
 *   change at run time. Principal = certificate id; thing = the bound thing (certificates-principals).
 *   Then the policies decide `iot:Connect`.
 * - An unregistered certificate signed by an ACTIVE registered CA with auto-registration enabled is
 *   registered PENDING_ACTIVATION and `$aws/events/certificates/registered/{caCertificateId}` is
 *   published (just-in-time registration); this connection is refused, as on AWS.
 * - A client naming a custom authorizer (`x-amz-customauthorizer-name` in the MQTT user name's query
 *   string, or a header or query parameter of the WebSocket upgrade) is authenticated by that
 *   authorizer (authorizers-connect.ts), whatever else it presents.
 * - A WebSocket upgrade signed with SigV4 (service `iotdevicegateway`) is authenticated by its access
 *   key (authenticate-sigv4.ts).
 * - Without a certificate: the default authorizer when one is set and ACTIVE ("AWS IoT Core uses
 *   this authorizer if a device doesn't pass AWS IoT Core credentials and doesn't specify an
 *   authorizer"), else admitted anonymously when `allowAnonymous`, or from loopback when
 *   `anonymousLoopback` (a development convenience; anonymous clients are not subject to policies).
 * - MQTT usernames `?SDK=...&Version=...&Platform=...` (AWS device SDK metrics) are ignored.
 *
 * Refusals: 0x86 (bad user name or password) when the credentials are not valid at all (an
 * unregistered or expired certificate, a bad SigV4 or custom-authorizer token signature), 0x87 (not
 * authorized) when they are valid but not allowed (not ACTIVE, iot:Connect denied, anonymous, a
 * custom authorizer that says no or fails).
 */
import type * as x509 from '@peculiar/x509';
import type { AuthenticateRequest, AuthenticateResult, Messaging } from '../core/index.js';
import type { Logger } from '../lib/index.js';
import { RC } from '../protocol/index.js';
import { authorizerNameOf, inputOfConnect } from './authorizers-event.js';
import type { CustomAuthenticator } from './authorizers-connect.js';
import { isSigV4Upgrade } from './authenticate-sigv4.js';
import type { CaCertificateService } from './certificates-ca.js';
import { isSignedBy, isWithinValidity, parseCertificateDer, type ParsedCertificate } from './certificates-crypto.js';
import { certificateFacts, type CertificateFactsOf } from './certificates-facts.js';
import type { ThingPrincipalService } from './certificates-principals.js';
import type { CertificateService } from './certificates.js';
import type { CertificateRecord, IdentityStore } from './store.js';

/** What the authenticator attaches to a connection (ClientInfo.authContext). */
export interface CertificateAuthContext {
  kind: 'certificate';
  certificateId: string;
  /** The thing resolved at connect time (policies re-resolve it when bindings change). */
  thingName: string | null;
}

/** The subject `iot:Connect` is decided for (the policy engine's AuthzSubject). */
export interface ConnectSubject {
  clientId: string;
  principal: string;
  thingName: string | null;
  sourceIp: string;
}

export interface AuthenticatorDeps {
  store: IdentityStore;
  certificates: CertificateService;
  cas: CaCertificateService;
  principals: ThingPrincipalService;
  /** Thingport's root CA certificate. */
  thingportCa: () => Promise<x509.X509Certificate>;
  messaging: Messaging;
  accountId: string;
  allowAnonymous: boolean;
  anonymousLoopback: boolean;
  /** Decides iot:Connect; null = no policy engine (every authenticated certificate may connect). */
  authorizeConnect: ((subject: ConnectSubject) => boolean) | null;
  /** Remembers the facts of a certificate that authenticated, for `${iot:Certificate.*}`. */
  rememberFacts: (facts: CertificateFactsOf) => void;
  /** Custom authorizers; null = none (a client naming one is refused). */
  customAuth: CustomAuthenticator | null;
  /** SigV4-signed WebSocket upgrades; null = not accepted. */
  sigv4: ((req: AuthenticateRequest) => Promise<AuthenticateResult>) | null;
  logger: Logger;
  now: () => number;
}

type Refusal = Extract<AuthenticateResult, { ok: false }>;
const refuse = (reasonCode: number, reason: string): Refusal => ({ ok: false, reasonCode, reason });

/** Builds the authenticate hook. */
export function createAuthenticator(deps: AuthenticatorDeps): (req: AuthenticateRequest) => Promise<AuthenticateResult> {
  const log = deps.logger;

  async function unregistered(parsed: ParsedCertificate, req: AuthenticateRequest): Promise<Refusal> {
    const signer = await deps.cas.findSigner(parsed);
    if (signer === null || signer.record.status !== 'ACTIVE' || signer.record.autoRegistrationStatus !== 'ENABLE') {
      return refuse(RC.BAD_USERNAME_OR_PASSWORD, 'client certificate is not registered');
    }
    const rec = deps.certificates.registerJustInTime(parsed, signer.record);
    if (rec !== null) {
      const caId = signer.record.certificateId;
      log.info({ certificateId: rec.certificateId, caCertificateId: caId, clientId: req.clientId }, 'certificate registered just in time (PENDING_ACTIVATION)');
      // Payload fields: developer guide, just-in-time registration.
      const payload = {
        certificateId: rec.certificateId,
        caCertificateId: caId,
        timestamp: rec.createdAt,
        certificateStatus: rec.status,
        awsAccountId: deps.accountId,
        certificateRegistrationTimestamp: rec.createdAt,
      };
      deps.messaging
        .publish({ topic: `$aws/events/certificates/registered/${caId}`, payload: JSON.stringify(payload), qos: 1 })
        .catch((err: unknown) => log.warn({ err, certificateId: rec.certificateId }, 'could not publish the just-in-time registration event'));
    }
    return refuse(RC.NOT_AUTHORIZED, 'client certificate was registered just in time as PENDING_ACTIVATION; activate it to connect');
  }

  async function withCertificate(req: AuthenticateRequest, der: Uint8Array): Promise<AuthenticateResult> {
    const checked = await checkCertificate(deps, der);
    if (!checked.ok) {
      if (checked.problem === 'unregistered') return unregistered(checked.parsed, req);
      return refuse(checked.problem === 'inactive' ? RC.NOT_AUTHORIZED : RC.BAD_USERNAME_OR_PASSWORD, checked.reason);
    }
    const id = checked.record.certificateId;
    const thingName = deps.principals.thingOf(id, req.clientId);
    deps.rememberFacts(certificateFacts(checked.parsed.certificate, id));
    const authorize = deps.authorizeConnect;
    if (authorize !== null && !authorize({ clientId: req.clientId, principal: id, thingName, sourceIp: req.remoteAddress })) {
      return refuse(RC.NOT_AUTHORIZED, 'not authorized to connect (iot:Connect)');
    }
    const authContext: CertificateAuthContext = { kind: 'certificate', certificateId: id, thingName };
    return { ok: true, principal: id, thingName, authContext };
  }

  return async (req) => {
    // An authorizer is named in the upgrade request or in the user name's query: a plain MQTT
    // CONNECT without `?` in its user name names none (no per-connection parsing for those).
    const mayName = req.httpRequest !== null || (req.username !== null && req.username.includes('?'));
    const named = mayName ? authorizerNameOf(inputOfConnect(req)) : null;
    if (named !== null) {
      return deps.customAuth === null ? refuse(RC.NOT_AUTHORIZED, `custom authorizer ${named} not found`) : deps.customAuth.authenticate(req, named);
    }
    if (isSigV4Upgrade(req)) return deps.sigv4 === null ? refuse(RC.BAD_USERNAME_OR_PASSWORD, 'SigV4 authentication is not enabled') : deps.sigv4(req);
    const secure = req.transport === 'tls' || req.transport === 'wss';
    const der = secure ? req.peerCertificate?.raw : undefined;
    if (der !== undefined && der.length > 0) return withCertificate(req, der);
    const fallback = deps.customAuth?.defaultName() ?? null;
    if (fallback !== null) return deps.customAuth!.authenticate(req, fallback);
    if (deps.allowAnonymous || (deps.anonymousLoopback && isLoopback(req.remoteAddress))) return { ok: true, principal: null, thingName: null };
    return refuse(RC.NOT_AUTHORIZED, 'a registered client certificate is required (MQTT over TLS on the mqtts port)');
  };
}

/** What checkCertificate needs: the registered certificates and CAs, Thingport's CA, the clock. */
export type CertificateCheckDeps = Pick<AuthenticatorDeps, 'store' | 'cas' | 'thingportCa' | 'now'>;

/** A presented certificate that is accepted, or why not (`parsed` when it parsed). */
export type CertificateCheck =
  | { ok: true; parsed: ParsedCertificate; record: CertificateRecord }
  | { ok: false; problem: 'unparseable' | 'expired'; reason: string }
  | { ok: false; problem: 'unregistered' | 'untrusted' | 'inactive'; reason: string; parsed: ParsedCertificate };

/**
 * Is a presented client certificate (DER) accepted: it parses, is within its validity, is
 * registered, still chains to what vouched for it (Thingport's CA, or the registered CA it was
 * registered with; certificates registered without a CA chain to nothing) and is ACTIVE. Checked
 * in that order, for MQTT (authenticate hook) and the HTTPS data plane alike.
 */
export async function checkCertificate(deps: CertificateCheckDeps, der: Uint8Array): Promise<CertificateCheck> {
  const parsed = parseCertificateDer(der);
  if (parsed === null) return { ok: false, problem: 'unparseable', reason: 'client certificate cannot be parsed' };
  if (!isWithinValidity(parsed.certificate, deps.now())) return { ok: false, problem: 'expired', reason: 'client certificate is expired or not yet valid' };
  const record = deps.store.getCertificate(parsed.certificateId);
  if (record === null) return { ok: false, problem: 'unregistered', reason: 'client certificate is not registered', parsed };
  if (!(await chainHolds(deps, record, parsed))) {
    return { ok: false, problem: 'untrusted', reason: "client certificate does not chain to Thingport's CA or to the registered CA it was registered with", parsed };
  }
  if (record.status !== 'ACTIVE') return { ok: false, problem: 'inactive', reason: `client certificate is ${record.status}`, parsed };
  return { ok: true, parsed, record };
}

async function chainHolds(deps: CertificateCheckDeps, record: CertificateRecord, parsed: ParsedCertificate): Promise<boolean> {
  if (record.origin === 'none') return true; // RegisterCertificateWithoutCA: the registration is the trust
  if (record.origin === 'thingport') return isSignedBy(parsed.certificate, await deps.thingportCa());
  const ca = record.caCertificateId === null ? null : deps.store.getCaCertificate(record.caCertificateId);
  if (ca === null) return false; // the CA was deleted
  return isSignedBy(parsed.certificate, deps.cas.parse(ca).certificate);
}

/** The query part of an MQTT user name (`anything?k=v&...`, AWS's convention), or null. */
export function usernameQuery(username: string | null): URLSearchParams | null {
  if (username === null) return null;
  const i = username.indexOf('?');
  return i < 0 ? null : new URLSearchParams(username.slice(i + 1));
}

function isLoopback(address: string): boolean {
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || a.startsWith('127.') || a === 'localhost';
}
