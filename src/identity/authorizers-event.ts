/**
 * Custom authorizers without I/O: where a connection's credentials are (token, signature,
 * authorizer name), token signature verification, the event the function receives and the
 * validation of what it answers. AWS IoT developer guide:
 *
 * - custom-auth.html: HTTP and MQTT over WebSocket pass `x-amz-customauthorizer-name`,
 *   `x-amz-customauthorizer-signature` and `{tokenKeyName}: token` as request headers or query
 *   parameters; MQTT passes them in the query string of the CONNECT user name
 *   (`username?x-amz-customauthorizer-name=...&x-amz-customauthorizer-signature=...&{tokenKeyName}=...`).
 *   The signature is the base64 RSA SHA-256 signature of the token (`openssl dgst -sha256 -sign`).
 * - custom-auth-lambda.html: the event `{token, signatureVerified, protocols, protocolData: {tls:
 *   {serverName}, http: {headers, queryString}, mqtt: {username, password (base64), clientId}},
 *   connectionMetadata: {id}}` ("fields that aren't relevant to the connection request aren't
 *   included"); the response `isAuthenticated`, `principalId` (`[a-zA-Z0-9]{1,128}`),
 *   `policyDocuments` (at most 10, each at most 2,048 characters), `disconnectAfterInSeconds` and
 *   `refreshAfterInSeconds` (300 to 86,400).
 * - config-custom-auth.html: the token signing public key's "minimum length is 2,048 bits".
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { AuthenticateRequest } from '../core/index.js';
import { IdentityError } from './errors.js';
import { parsePolicyDocument, type PolicyDocument } from './policy/index.js';

export const AUTHORIZER_NAME_KEY = 'x-amz-customauthorizer-name';
export const SIGNATURE_KEY = 'x-amz-customauthorizer-signature';
/** custom-auth-lambda.html: "The maximum number of policy documents is 10". */
export const MAX_POLICY_DOCUMENTS = 10;
/** custom-auth-lambda.html: disconnectAfterInSeconds and refreshAfterInSeconds are at most 86,400 s. */
export const MAX_TTL_SECONDS = 86_400;
/** config-custom-auth.html: token signing public keys have at least 2,048 bits. */
export const MIN_PUBLIC_KEY_BITS = 2048;
const PRINCIPAL_ID = /^[a-zA-Z0-9]{1,128}$/;

/** What a connection (or a TestInvokeAuthorizer request) offers an authorizer. */
export interface AuthorizerInput {
  /** Present when the client came over TLS (serverName = SNI, when sent). */
  tls: { serverName?: string } | null;
  /** The WebSocket upgrade request (or TestInvokeAuthorizer's httpContext). */
  http: { headers: Record<string, string>; queryString?: string } | null;
  /** The CONNECT packet's fields (or TestInvokeAuthorizer's mqttContext). */
  mqtt: { username?: string; password?: Uint8Array; clientId?: string } | null;
}

/** The event the function receives (custom-auth-lambda.html). */
export interface AuthorizerEvent {
  token?: string;
  signatureVerified: boolean;
  protocols: Array<'tls' | 'http' | 'mqtt'>;
  protocolData: {
    tls?: { serverName?: string };
    http?: { headers: Record<string, string>; queryString?: string };
    mqtt?: { username?: string; password?: string; clientId?: string };
  };
  connectionMetadata: { id: string };
}

/** A validated function response. */
export interface AuthorizerDecision {
  isAuthenticated: boolean;
  principalId?: string;
  /** The documents as JSON text (TestInvokeAuthorizer returns them so) and compiled. */
  policyDocuments: string[];
  policies: PolicyDocument[];
  disconnectAfterInSeconds?: number;
  refreshAfterInSeconds?: number;
}

/**
 * Query parameters in order, percent-decoded. Unlike URLSearchParams a `+` stays a plus: a
 * base64 signature sent without URL-encoding must survive.
 */
export function parseQuery(query: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const part of query.replace(/^\?/, '').split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    out.push(eq === -1 ? [decode(part), ''] : [decode(part.slice(0, eq)), decode(part.slice(eq + 1))]);
  }
  return out;
}

function decode(text: string): string {
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The query string of an MQTT user name (`anything?k=v&...`, AWS's convention), or ''. */
function usernameQueryString(username: string | undefined): string {
  const i = username?.indexOf('?') ?? -1;
  return i < 0 ? '' : username!.slice(i + 1);
}

/**
 * A credential by name: a request header (case-insensitive), then a query parameter of the
 * upgrade URL, then a query parameter of the MQTT user name (custom-auth.html).
 */
export function findCredential(input: AuthorizerInput, name: string): string | undefined {
  const lower = name.toLowerCase();
  if (input.http !== null) {
    for (const [k, v] of Object.entries(input.http.headers)) if (k.toLowerCase() === lower && v !== '') return v;
    for (const [k, v] of parseQuery(input.http.queryString ?? '')) if (k === name && v !== '') return v;
  }
  for (const [k, v] of parseQuery(usernameQueryString(input.mqtt?.username))) if (k === name && v !== '') return v;
  return undefined;
}

/** The authorizer a client names (`x-amz-customauthorizer-name`), or null. */
export function authorizerNameOf(input: AuthorizerInput): string | null {
  return findCredential(input, AUTHORIZER_NAME_KEY) ?? null;
}

/** What a CONNECT offers: the CONNECT fields, the upgrade request (WebSocket) and TLS facts. */
export function inputOfConnect(req: AuthenticateRequest): AuthorizerInput {
  const secure = req.transport === 'tls' || req.transport === 'wss';
  let http: AuthorizerInput['http'] = null;
  if (req.httpRequest !== null) {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.httpRequest.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v;
    const q = req.httpRequest.url.indexOf('?');
    http = q < 0 || q === req.httpRequest.url.length - 1 ? { headers } : { headers, queryString: req.httpRequest.url.slice(q) };
  }
  const mqtt: NonNullable<AuthorizerInput['mqtt']> = {};
  if (req.username !== null) mqtt.username = req.username;
  if (req.password !== null) mqtt.password = req.password;
  if (req.clientId !== '') mqtt.clientId = req.clientId;
  return { tls: secure ? (req.serverName !== null ? { serverName: req.serverName } : {}) : null, http, mqtt };
}

/** The event for `input` (fields that do not apply are left out, as AWS does). */
export function buildAuthorizerEvent(input: AuthorizerInput, token: string | undefined, signatureVerified: boolean, connectionId: string): AuthorizerEvent {
  const event: AuthorizerEvent = { signatureVerified, protocols: [], protocolData: {}, connectionMetadata: { id: connectionId } };
  if (token !== undefined) event.token = token;
  if (input.tls !== null) {
    event.protocols.push('tls');
    event.protocolData.tls = input.tls.serverName !== undefined ? { serverName: input.tls.serverName } : {};
  }
  if (input.http !== null) {
    event.protocols.push('http');
    event.protocolData.http = { headers: { ...input.http.headers }, ...(input.http.queryString ? { queryString: input.http.queryString } : {}) };
  }
  if (input.mqtt !== null) {
    event.protocols.push('mqtt');
    const m: NonNullable<AuthorizerEvent['protocolData']['mqtt']> = {};
    if (input.mqtt.username !== undefined) m.username = input.mqtt.username;
    // "Data in the password field is base64-encoded by AWS IoT Core. Your Lambda function must decode it."
    if (input.mqtt.password !== undefined) m.password = Buffer.from(input.mqtt.password).toString('base64');
    if (input.mqtt.clientId !== undefined) m.clientId = input.mqtt.clientId;
    event.protocolData.mqtt = m;
  }
  return event;
}

/** Why a public key is not acceptable as a token signing key, or null when it is. */
export function publicKeyProblem(pem: string): string | null {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    return 'is not a PEM-encoded public key';
  }
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType !== 'rsa' || details?.modulusLength === undefined) return 'must be an RSA public key';
  if (details.modulusLength < MIN_PUBLIC_KEY_BITS) return `has ${details.modulusLength} bits; the minimum is ${MIN_PUBLIC_KEY_BITS}`;
  return null;
}

/** Verifies a token's signature; see createTokenVerifier. */
export type TokenVerifier = (token: string, signature: string, publicKeys: Readonly<Record<string, string>>) => boolean;

/** Parsed public keys kept per verifier, by PEM text (keys are few and immutable). */
const MAX_CACHED_KEYS = 256;

/**
 * A verifier: does `signature` (base64) sign `token` (UTF-8) with RSA SHA-256 under any of
 * `publicKeys`? Several keys let an operator rotate them. A signature form-decoded on the way (`+`
 * turned into a space) is repaired first.
 */
export function createTokenVerifier(): TokenVerifier {
  const keys = new Map<string, KeyObject | null>();
  const keyOf = (pem: string): KeyObject | null => {
    let key = keys.get(pem);
    if (key === undefined) {
      try {
        key = createPublicKey(pem);
      } catch {
        key = null;
      }
      if (keys.size >= MAX_CACHED_KEYS) keys.clear();
      keys.set(pem, key);
    }
    return key;
  };
  return (token, signature, publicKeys) => {
    const sig = Buffer.from(signature.trim().replace(/ /g, '+'), 'base64');
    if (sig.length === 0) return false;
    const data = Buffer.from(token, 'utf8');
    for (const pem of Object.values(publicKeys)) {
      const key = keyOf(pem);
      try {
        if (key !== null && verify('sha256', data, key, sig)) return true;
      } catch {
        // a key of another type, or a signature of the wrong size: not this key
      }
    }
    return false;
  };
}

const invalid = (message: string): IdentityError => new IdentityError('authorizer.invalid_response', `The authorizer function's response is invalid: ${message}`);

function ttl(raw: Record<string, unknown>, field: string, minSeconds: number): number | undefined {
  const v = raw[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < minSeconds || v > MAX_TTL_SECONDS) {
    throw invalid(`${field} must be a whole number of seconds from ${minSeconds} to ${MAX_TTL_SECONDS}, not ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * Validates a function's answer. Policy documents may be JSON text (what TestInvokeAuthorizer
 * reports) or objects (what AWS's own sample function returns); each must be a valid IoT policy.
 * When isAuthenticated is false "the rest of the response fields should be ignored".
 * Throws IdentityError `authorizer.invalid_response` naming the problem.
 */
export function parseAuthorizerResponse(raw: unknown, limits: { minTtlSeconds: number }): AuthorizerDecision {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid('it must be a JSON object');
  const r = raw as Record<string, unknown>;
  if (typeof r.isAuthenticated !== 'boolean') throw invalid('isAuthenticated must be true or false');
  if (!r.isAuthenticated) return { isAuthenticated: false, policyDocuments: [], policies: [] };
  if (typeof r.principalId !== 'string' || !PRINCIPAL_ID.test(r.principalId)) {
    throw invalid(`principalId must be 1-128 letters and digits ([a-zA-Z0-9]{1,128}), not ${JSON.stringify(r.principalId ?? null)}`);
  }
  const docs = r.policyDocuments ?? [];
  if (!Array.isArray(docs)) throw invalid('policyDocuments must be a list of policy documents');
  if (docs.length > MAX_POLICY_DOCUMENTS) throw invalid(`policyDocuments has ${docs.length} documents; the limit is ${MAX_POLICY_DOCUMENTS}`);
  const texts = docs.map((d, i) => {
    if (typeof d === 'string') return d;
    if (typeof d === 'object' && d !== null && !Array.isArray(d)) return JSON.stringify(d);
    throw invalid(`policyDocuments[${i}] must be a policy document (JSON text or object)`);
  });
  const policies = texts.map((text, i) => {
    try {
      return parsePolicyDocument(text);
    } catch (err) {
      throw invalid(`policyDocuments[${i}]: ${(err as Error).message}`);
    }
  });
  const decision: AuthorizerDecision = { isAuthenticated: true, principalId: r.principalId, policyDocuments: texts, policies };
  const disconnect = ttl(r, 'disconnectAfterInSeconds', limits.minTtlSeconds);
  const refresh = ttl(r, 'refreshAfterInSeconds', limits.minTtlSeconds);
  if (disconnect !== undefined) decision.disconnectAfterInSeconds = disconnect;
  if (refresh !== undefined) decision.refreshAfterInSeconds = refresh;
  return decision;
}
