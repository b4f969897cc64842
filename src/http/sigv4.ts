/**
 * AWS Signature Version 4 verification, for the Authorization header form and the presigned
 * query-string form. Pure functions: the request, the key and `now` come in, an error is thrown
 * (an AwsServiceError with AWS's name and text) or the request is authentic.
 *
 * Canonical request per AWS's "Create a canonical request for Signature Version 4":
 *   METHOD \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n\n SignedHeaders \n PayloadHash
 * - CanonicalURI: services other than S3 URI-encode each path segment of the path as sent,
 *   so an encoded label is encoded twice (`%2F` -> `%252F`); empty, `.` and `..` segments are
 *   normalised away first, as the SDKs do.
 * - CanonicalQuery: parameters decoded, re-encoded with UriEncode, sorted by name then value,
 *   X-Amz-Signature left out (presigned form).
 * - CanonicalHeaders: the signed headers, names lower-cased, repeated headers joined with `,`,
 *   values trimmed with inner runs of spaces collapsed.
 * - PayloadHash: `x-amz-content-sha256` when sent (it must match the body unless it is
 *   UNSIGNED-PAYLOAD), else the SHA-256 of the raw body.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { protocolErrors } from './aws-errors.js';
import { parseQuery, splitUrl, uriEscape } from './url-parts.js';

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
/** AWS accepts a request signed at most 15 minutes before or after its own clock. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;
/** Longest presigned-URL lifetime AWS allows (X-Amz-Expires), 7 days. */
export const MAX_PRESIGNED_EXPIRES_S = 7 * 24 * 60 * 60;
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

export interface SigV4Request {
  method: string;
  /** The request target exactly as on the request line (path and query, still encoded). */
  url: string;
  /** Header name/value pairs in arrival order (Node's `rawHeaders`, paired). */
  headers: ReadonlyArray<readonly [string, string]>;
  /** The raw body bytes (empty when none). */
  body: Uint8Array;
}

/** What the request claims: the parsed Authorization header or presigned query parameters. */
export interface SigV4Claim {
  form: 'header' | 'query';
  accessKeyId: string;
  /** Credential scope: `date/region/service/aws4_request`. */
  scope: { date: string; region: string; service: string; terminator: string };
  signedHeaders: string[];
  signature: string;
  /** The request time as signed (ISO 8601 basic, `20150830T123600Z`). */
  amzDate: string;
  /** Presigned form only: X-Amz-Expires in seconds. */
  expires?: number;
}

export interface SigV4VerifyOptions {
  secretAccessKey: string;
  /** The region this server serves; a scope naming another region is rejected. */
  region: string;
  /** Signing names accepted (the scope's service must be one of them). */
  services: readonly string[];
  /** Current time, ms since the epoch. */
  now: number;
}

/** The lower-cased header map of a request (repeated headers joined with `,` as SigV4 does). */
export function headerMap(req: SigV4Request): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, value] of req.headers) {
    const key = name.toLowerCase();
    const prev = out.get(key);
    out.set(key, prev === undefined ? value : `${prev},${value}`);
  }
  return out;
}

const AMZ_DATE = /^(\d{8})T\d{6}Z$/;

/**
 * Reads the SigV4 claim from the Authorization header or the X-Amz-* query parameters.
 * Throws MissingAuthenticationTokenException when the request is not signed at all, and
 * IncompleteSignatureException when it is signed but a part is missing or malformed.
 */
export function parseSigV4(req: SigV4Request): SigV4Claim {
  const headers = headerMap(req);
  const authorization = headers.get('authorization');
  const query = new Map(parseQuery(splitUrl(req.url).query));
  if (authorization !== undefined) return parseHeaderForm(authorization, headers);
  if (query.has('X-Amz-Algorithm') || query.has('X-Amz-Credential') || query.has('X-Amz-Signature')) return parseQueryForm(query);
  throw protocolErrors.missingAuthentication();
}

function parseHeaderForm(authorization: string, headers: Map<string, string>): SigV4Claim {
  const trimmed = authorization.trim();
  const space = trimmed.indexOf(' ');
  const algorithm = space === -1 ? trimmed : trimmed.slice(0, space);
  const params = new Map<string, string>();
  if (algorithm === SIGV4_ALGORITHM) {
    for (const part of trimmed.slice(space + 1).split(',')) {
      const p = part.trim();
      const eq = p.indexOf('=');
      if (p === '') continue;
      if (eq === -1) throw protocolErrors.incompleteSignature(`'${p}' not a valid key=value pair (missing equal-sign) in Authorization header: '${authorization}'.`);
      params.set(p.slice(0, eq), p.slice(eq + 1));
    }
  }
  const amzDate = headers.get('x-amz-date') ?? fromHttpDate(headers.get('date'));
  // AWS lists every missing part in one message, then echoes the header.
  const missing: string[] = [];
  for (const name of ['Credential', 'Signature', 'SignedHeaders']) {
    if (!params.get(name)) missing.push(`Authorization header requires '${name}' parameter.`);
  }
  if (amzDate === undefined) missing.push("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
  if (missing.length > 0) throw protocolErrors.incompleteSignature(`${missing.join(' ')} Authorization=${authorization}`);
  return buildClaim('header', params.get('Credential')!, params.get('SignedHeaders')!, params.get('Signature')!, amzDate!);
}

function parseQueryForm(query: Map<string, string>): SigV4Claim {
  const required = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders', 'X-Amz-Expires'];
  const missing = required.filter((k) => !query.get(k));
  if (missing.length > 0) {
    throw protocolErrors.incompleteSignature(`AWS query-string parameters must include ${missing.map((m) => `'${m}'`).join(', ')}. Re-examine the query-string parameters.`);
  }
  if (query.get('X-Amz-Algorithm') !== SIGV4_ALGORITHM) {
    throw protocolErrors.incompleteSignature(`Unsupported AWS 'X-Amz-Algorithm': '${query.get('X-Amz-Algorithm')}'; only '${SIGV4_ALGORITHM}' is supported.`);
  }
  const expiresText = query.get('X-Amz-Expires')!;
  const expires = /^\d{1,9}$/.test(expiresText) ? Number(expiresText) : NaN;
  if (!(expires >= 1 && expires <= MAX_PRESIGNED_EXPIRES_S)) {
    throw protocolErrors.incompleteSignature(`X-Amz-Expires must be a whole number of seconds from 1 to ${MAX_PRESIGNED_EXPIRES_S}, not '${expiresText}'.`);
  }
  const claim = buildClaim('query', query.get('X-Amz-Credential')!, query.get('X-Amz-SignedHeaders')!, query.get('X-Amz-Signature')!, query.get('X-Amz-Date')!);
  claim.expires = expires;
  return claim;
}

function buildClaim(form: SigV4Claim['form'], credential: string, signedHeaders: string, signature: string, amzDate: string): SigV4Claim {
  const parts = credential.split('/');
  if (parts.length !== 5 || parts.some((p) => p === '')) {
    throw protocolErrors.incompleteSignature(`Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${credential}'`);
  }
  if (!AMZ_DATE.test(amzDate)) {
    throw protocolErrors.incompleteSignature(`X-Amz-Date must be in the ISO 8601 basic format yyyyMMdd'T'HHmmss'Z', not '${amzDate}'.`);
  }
  const [accessKeyId, date, region, service, terminator] = parts as [string, string, string, string, string];
  return { form, accessKeyId, scope: { date, region, service, terminator }, signedHeaders: signedHeaders.split(';'), signature, amzDate };
}

/** A `Date` header (RFC 7231) as ISO 8601 basic, the fallback AWS allows for X-Amz-Date. */
function fromHttpDate(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : toAmzDate(t);
}

/** Milliseconds since the epoch as ISO 8601 basic (`20150830T123600Z`). */
export function toAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

function parseAmzDate(amzDate: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate)!;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

/**
 * Checks the claim's scope and time against this server (region, service, terminator,
 * 15-minute skew, presigned expiry). Throws InvalidSignatureException with AWS's texts.
 */
export function checkSigV4Scope(claim: SigV4Claim, opts: Omit<SigV4VerifyOptions, 'secretAccessKey'>): void {
  const { scope, amzDate } = claim;
  const signedDay = AMZ_DATE.exec(amzDate)![1]!;
  if (scope.date !== signedDay) {
    throw protocolErrors.invalidSignature(
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scope.date}' != '${signedDay}', from '${amzDate}'.`,
    );
  }
  if (scope.region !== opts.region) {
    // AWS's text, plus the region to use: Thingport serves exactly one (configured) region.
    throw protocolErrors.invalidSignature(`Credential should be scoped to a valid region, not '${scope.region}'. This server's region is '${opts.region}'.`);
  }
  if (!opts.services.includes(scope.service)) {
    throw protocolErrors.invalidSignature(`Credential should be scoped to correct service: '${opts.services.join("' or '")}'. `);
  }
  if (scope.terminator !== 'aws4_request') {
    throw protocolErrors.invalidSignature(`Credential should be scoped with a valid terminator: 'aws4_request', not '${scope.terminator}'. `);
  }
  if (!claim.signedHeaders.includes('host')) {
    throw protocolErrors.incompleteSignature("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }
  const signedAt = parseAmzDate(amzDate);
  const now = opts.now;
  const fmt = (ms: number): string => toAmzDate(ms);
  // [AWS SigV4: request timestamps must be within 15 minutes of the service's time]
  if (signedAt > now + MAX_CLOCK_SKEW_MS) {
    throw protocolErrors.invalidSignature(`Signature not yet current: ${amzDate} is still later than ${fmt(now + MAX_CLOCK_SKEW_MS)} (${fmt(now)} + 15 min.)`);
  }
  if (claim.expires !== undefined) {
    if (signedAt + claim.expires * 1000 < now) {
      throw protocolErrors.invalidSignature(`Signature expired: ${fmt(signedAt + claim.expires * 1000)} is now earlier than ${fmt(now)} (${amzDate} + ${claim.expires} sec.)`);
    }
  } else if (signedAt < now - MAX_CLOCK_SKEW_MS) {
    throw protocolErrors.invalidSignature(`Signature expired: ${amzDate} is now earlier than ${fmt(now - MAX_CLOCK_SKEW_MS)} (${fmt(now)} - 15 min.)`);
  }
}

/** The canonical URI of a path as sent: segments normalised, then each URI-encoded (again). */
export function canonicalUri(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const normalized = `/${segments.join('/')}${segments.length > 0 && path.endsWith('/') ? '/' : ''}`;
  return uriEscape(normalized).replace(/%2F/g, '/');
}

/** The canonical query string (X-Amz-Signature excluded). */
export function canonicalQuery(query: string): string {
  return parseQuery(query)
    .filter(([k]) => k !== 'X-Amz-Signature')
    .map(([k, v]) => [uriEscape(k), uriEscape(v)] as const)
    .sort(([ka, va], [kb, vb]) => (ka < kb ? -1 : ka > kb ? 1 : va < vb ? -1 : va > vb ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

/** The canonical request for `claim` over `req`, given the payload hash. */
export function canonicalRequest(req: SigV4Request, signedHeaders: readonly string[], payloadHash: string): string {
  const { path, query } = splitUrl(req.url);
  const headers = headerMap(req);
  const lines = signedHeaders.map((h) => `${h}:${(headers.get(h) ?? '').trim().replace(/\s+/g, ' ')}`);
  return [req.method, canonicalUri(path), canonicalQuery(query), ...lines, '', signedHeaders.join(';'), payloadHash].join('\n');
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The string to sign: algorithm, request time, credential scope, hash of the canonical request. */
export function stringToSign(amzDate: string, scope: SigV4Claim['scope'], canonical: string): string {
  return [SIGV4_ALGORITHM, amzDate, `${scope.date}/${scope.region}/${scope.service}/${scope.terminator}`, sha256Hex(canonical)].join('\n');
}

/** The signing key: HMAC chain over date, region, service and `aws4_request`. */
export function signingKey(secretAccessKey: string, date: string, region: string, service: string): Buffer {
  const kDate = createHmac('sha256', `AWS4${secretAccessKey}`).update(date).digest();
  const kRegion = createHmac('sha256', kDate).update(region).digest();
  const kService = createHmac('sha256', kRegion).update(service).digest();
  return createHmac('sha256', kService).update('aws4_request').digest();
}

/** The payload hash the signer used, checking a sent `x-amz-content-sha256` against the body. */
function payloadHash(req: SigV4Request): string {
  const computed = sha256Hex(req.body);
  const sent = headerMap(req).get('x-amz-content-sha256');
  if (sent === undefined || sent === UNSIGNED_PAYLOAD) return sent ?? computed;
  if (sent !== computed) throw protocolErrors.invalidSignature("The provided 'x-amz-content-sha256' header does not match what was computed.");
  return sent;
}

/**
 * Verifies the signature of `req` against `claim` with the caller's secret: scope and time
 * first (checkSigV4Scope), then the signature, compared in constant time. Throws
 * InvalidSignatureException ("The request signature we calculated does not match...", with
 * the canonical request and string to sign as AWS includes them) on a mismatch.
 */
export function verifySigV4(req: SigV4Request, claim: SigV4Claim, opts: SigV4VerifyOptions): void {
  checkSigV4Scope(claim, opts);
  const canonical = canonicalRequest(req, claim.signedHeaders, payloadHash(req));
  const toSign = stringToSign(claim.amzDate, claim.scope, canonical);
  const key = signingKey(opts.secretAccessKey, claim.scope.date, claim.scope.region, claim.scope.service);
  const expected = Buffer.from(createHmac('sha256', key).update(toSign).digest('hex'));
  const given = Buffer.from(claim.signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw protocolErrors.invalidSignature(
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. ' +
        `Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'${canonical}'\n\n` +
        `The String-to-Sign should have been\n'${toSign}'\n`,
    );
  }
}

