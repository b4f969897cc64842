/**
 * MQTT over WebSocket authenticated with AWS Signature Version 4, as AWS's device SDKs and the
 * developer guide's mqtt-ws sample do it: the upgrade URL `/mqtt?X-Amz-Algorithm=AWS4-HMAC-SHA256
 * &X-Amz-Credential=...&X-Amz-Date=...&X-Amz-Expires=...&X-Amz-SignedHeaders=host&X-Amz-Signature=...`
 * presigned for service `iotdevicegateway`, method GET and the empty payload. A session token is
 * appended after signing (`&X-Amz-Security-Token=...`, not part of the canonical query: the guide's
 * sample, and aws/aws-sdk-go#820 "it cannot be part of the canonical query parameters"); a URL whose
 * signer did include it verifies too. An `Authorization: AWS4-HMAC-SHA256 ...` header on the upgrade
 * request is accepted the same way.
 *
 * The key must be one of Thingport's ACTIVE access keys (`thingport keys`); principal = the key's
 * name. Thingport has no IAM and issues no session tokens, so a token is not checked. Access keys
 * are the API's administrator credentials (they can already create certificates and attach any
 * policy), so a SigV4 client is not subject to IoT policies: it may connect with any client id and
 * publish, subscribe and receive anywhere.
 *
 * The WebSocket upgrade has already succeeded when CONNECT arrives, so a bad signature is refused in
 * CONNACK: 0x86 bad user name or password (MQTT 3.1.1: return code 4), the reason logged at debug.
 */
import type { AuthenticateRequest, AuthenticateResult } from '../core/index.js';
import { AwsServiceError, parseSigV4, verifySigV4, type AccessKeyLookup, type SigV4Claim, type SigV4Request } from '../http/index.js';
import type { Logger } from '../lib/index.js';
import { RC } from '../protocol/index.js';

/** The SigV4 signing name of the AWS IoT device gateway (MQTT over WebSocket). */
export const SIGV4_SERVICE = 'iotdevicegateway';
const SECURITY_TOKEN = 'X-Amz-Security-Token';

/** What a SigV4-authenticated connection carries (ClientInfo.authContext). */
export interface AccessKeyAuthContext {
  kind: 'accessKey';
  accessKeyId: string;
  /** The key's name: the connection's principal. */
  name: string;
}

/** Is this ClientInfo.authContext an access key's (a SigV4 WebSocket client)? */
export function isAccessKeyAuthContext(ctx: unknown): ctx is AccessKeyAuthContext {
  return typeof ctx === 'object' && ctx !== null && (ctx as { kind?: unknown }).kind === 'accessKey';
}

/** Does the WebSocket upgrade request carry a SigV4 signature (query or Authorization header)? */
export function isSigV4Upgrade(req: AuthenticateRequest): boolean {
  const http = req.httpRequest;
  if (http === null) return false;
  const q = http.url.indexOf('?');
  if (q >= 0 && /(?:^|&)X-Amz-(?:Algorithm|Credential|Signature)=/.test(http.url.slice(q + 1))) return true;
  const auth = http.headers.authorization;
  return typeof auth === 'string' && auth.trimStart().startsWith('AWS4-HMAC-SHA256');
}

/** `url` without the query parameter `name` (the rest kept exactly as sent). */
function withoutParam(url: string, name: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const kept = url
    .slice(q + 1)
    .split('&')
    .filter((p) => p.split('=', 1)[0] !== name);
  return kept.length === 0 ? url.slice(0, q) : `${url.slice(0, q)}?${kept.join('&')}`;
}

export interface SigV4AuthenticatorDeps {
  accessKeys: AccessKeyLookup;
  region: string;
  logger: Logger;
  now: () => number;
}

type Refusal = Extract<AuthenticateResult, { ok: false }>;
const refuse = (reason: string): Refusal => ({ ok: false, reasonCode: RC.BAD_USERNAME_OR_PASSWORD, reason });
const firstLine = (err: unknown): string => (err instanceof Error ? err.message.split('\n')[0]! : String(err));

/** Builds the SigV4 part of the authenticate hook (for requests where isSigV4Upgrade holds). */
export function createSigV4Authenticator(deps: SigV4AuthenticatorDeps): (req: AuthenticateRequest) => Promise<AuthenticateResult> {
  return async (req) => {
    const http = req.httpRequest;
    if (http === null) return refuse('SigV4 authentication needs MQTT over WebSocket');
    const headers: Array<[string, string]> = [];
    for (const [k, v] of Object.entries(http.headers)) {
      if (v === undefined) continue;
      for (const one of Array.isArray(v) ? v : [v]) headers.push([k, one]);
    }
    const signed: SigV4Request = { method: 'GET', url: http.url, headers, body: new Uint8Array(0) };
    let claim: SigV4Claim;
    try {
      claim = parseSigV4(signed);
    } catch (err) {
      deps.logger.debug({ clientId: req.clientId, err: firstLine(err) }, 'malformed SigV4 WebSocket signature');
      return refuse(`malformed SigV4 signature: ${firstLine(err)}`);
    }
    const key = await deps.accessKeys(claim.accessKeyId);
    if (key === null) return refuse(`unknown or revoked access key ${claim.accessKeyId}`);
    const opts = { secretAccessKey: key.secretAccessKey, region: deps.region, services: [SIGV4_SERVICE], now: deps.now() };
    // The token appended after signing first (what AWS's SDKs do), then the URL as sent.
    const candidates = claim.form === 'query' && http.url.includes(`${SECURITY_TOKEN}=`) ? [{ ...signed, url: withoutParam(http.url, SECURITY_TOKEN) }, signed] : [signed];
    let failure: unknown = null;
    for (const candidate of candidates) {
      try {
        verifySigV4(candidate, claim, opts);
        const authContext: AccessKeyAuthContext = { kind: 'accessKey', accessKeyId: claim.accessKeyId, name: key.principal };
        return { ok: true, principal: key.principal, thingName: null, authContext };
      } catch (err) {
        failure ??= err;
        if (!(err instanceof AwsServiceError)) break;
      }
    }
    deps.logger.debug({ clientId: req.clientId, accessKeyId: claim.accessKeyId, err: firstLine(failure) }, 'SigV4 WebSocket signature refused');
    return refuse(`SigV4 signature refused: ${firstLine(failure)}`);
  };
}
