/**
 * Client certificates on the HTTPS data plane (AWS's port 8443, "HTTPS publish with X.509"; the
 * Device Shadow REST API "accepts two forms of authentication: Signature Version 4 with IAM
 * credentials or TLS mutual authentication with a client certificate"): the router
 * (`createAwsRestRouter`'s `authenticateCertificate`) hands over the certificate of an unsigned
 * request; it is accepted exactly as for MQTT (checkCertificate: registered, chaining to Thingport's
 * CA or its registered CA, ACTIVE, within validity) and the caller's actions are decided by the IoT
 * policies of the certificate.
 *
 * HTTP has no client id ("HTTPS doesn't support a clientId value like MQTT does", developer guide,
 * HTTPS): `${iot:ClientId}` is not available, and the caller's thing is the certificate's exclusively
 * bound thing, else its only bound thing (ThingPrincipalService.thingOf with no client id), so
 * `${iot:Connection.Thing.ThingName}` works for a certificate attached to one thing. No iot:Connect
 * is checked (there is no connection to authorize) and an unregistered certificate is refused
 * without just-in-time registration (that happens on MQTT connects).
 */
import type { PeerCertificate } from 'node:tls';
import type { CertificateAuthenticator, CertificateCaller } from '../http/index.js';
import { checkCertificate, type CertificateCheckDeps } from './authenticate.js';
import { certificateFacts, type CertificateFactsOf } from './certificates-facts.js';
import type { ThingPrincipalService } from './certificates-principals.js';
import type { AuthzSubject } from './policy/index.js';

export interface HttpCertificateDeps extends CertificateCheckDeps {
  principals: Pick<ThingPrincipalService, 'thingOf'>;
  /** The policy engine's decision. */
  authorize: (subject: AuthzSubject, action: string, resourceArn: string) => boolean;
  /** Remembers the facts of a certificate that authenticated, for `${iot:Certificate.*}`. */
  rememberFacts: (facts: CertificateFactsOf) => void;
  /** Told why a certificate was refused (debug logging). */
  onRefused?: (reason: string, certificateId: string | null) => void;
}

/** Builds `identity.authenticateHttpCertificate`. */
export function createHttpCertificateAuthenticator(deps: HttpCertificateDeps): CertificateAuthenticator {
  return async (peer: PeerCertificate, client: { remoteAddress: string }): Promise<CertificateCaller | null> => {
    const checked = await checkCertificate(deps, peer.raw);
    if (!checked.ok) {
      deps.onRefused?.(checked.reason, 'parsed' in checked ? checked.parsed.certificateId : null);
      return null;
    }
    const principal = checked.record.certificateId;
    deps.rememberFacts(certificateFacts(checked.parsed.certificate, principal));
    // One subject per request: the engine memoises decisions on it; the thing is read live.
    const subject: AuthzSubject = {
      clientId: '',
      principal,
      get thingName(): string | null {
        return deps.principals.thingOf(principal, '');
      },
      sourceIp: client.remoteAddress,
    };
    return { principal, authorize: (action, resourceArn) => deps.authorize(subject, action, resourceArn) };
  };
}
