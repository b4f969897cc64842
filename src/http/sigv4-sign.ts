/**
 * AWS Signature Version 4 signing (Authorization header form), for Thingport's own tools that
 * call its HTTP API (the CLI's `thingport rules traces`). Built from the verifier's canonical
 * request, string to sign and signing key, so what we sign is exactly what we verify.
 */
import { createHmac } from 'node:crypto';
import { SIGV4_ALGORITHM, canonicalRequest, sha256Hex, signingKey, stringToSign, toAmzDate } from './sigv4.js';

export interface SignInput {
  method: string;
  /** The full URL the request goes to (its host, path and query are signed). */
  url: string;
  /** Extra headers to send and sign (names in any case). */
  headers?: Record<string, string>;
  body?: Uint8Array | string;
}

export interface SigningKey {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** Signing name, e.g. `iot`. */
  service: string;
}

/**
 * Returns the headers to send with the request: the given ones plus `host`, `x-amz-date`,
 * `x-amz-content-sha256` and `authorization`. Every header returned is signed.
 */
export function signSigV4(input: SignInput, key: SigningKey, now: number = Date.now()): Record<string, string> {
  const url = new URL(input.url);
  const body = typeof input.body === 'string' ? Buffer.from(input.body) : (input.body ?? new Uint8Array(0));
  const amzDate = toAmzDate(now);
  const payloadHash = sha256Hex(body);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.headers ?? {})) headers[k.toLowerCase()] = v;
  headers.host = url.host;
  headers['x-amz-date'] = amzDate;
  headers['x-amz-content-sha256'] = payloadHash;
  const signedHeaders = Object.keys(headers).sort();
  const scope = { date: amzDate.slice(0, 8), region: key.region, service: key.service, terminator: 'aws4_request' };
  const canonical = canonicalRequest({ method: input.method, url: `${url.pathname}${url.search}`, headers: Object.entries(headers), body }, signedHeaders, payloadHash);
  const signature = createHmac('sha256', signingKey(key.secretAccessKey, scope.date, scope.region, scope.service)).update(stringToSign(amzDate, scope, canonical)).digest('hex');
  headers.authorization = `${SIGV4_ALGORITHM} Credential=${key.accessKeyId}/${scope.date}/${scope.region}/${scope.service}/aws4_request, SignedHeaders=${signedHeaders.join(';')}, Signature=${signature}`;
  return headers;
}
