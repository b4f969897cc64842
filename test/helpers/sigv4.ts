/**
 * Hand-made SigV4 requests (with @smithy/signature-v4, the signer inside the AWS SDKs) for what
 * the SDK clients never send: presigned URLs, bodies changed after signing, unsigned requests.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AccessKey } from './iot.js';

type SourceData = string | ArrayBuffer | ArrayBufferView;

function bytes(d: SourceData): Buffer {
  if (typeof d === 'string') return Buffer.from(d, 'utf8');
  if (ArrayBuffer.isView(d)) return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  return Buffer.from(d);
}

/** SHA-256 / HMAC-SHA-256 on node:crypto, in the shape SignatureV4 wants (`sha256` option). */
export class NodeSha256 {
  private readonly h: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.h.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.h.digest()));
  }
}

export interface RawRequest {
  method: string;
  /** Path without query, e.g. `/things`. */
  path: string;
  query?: Record<string, string>;
  body?: string;
  headers?: Record<string, string>;
}

function signer(key: AccessKey, region: string, service = 'iot'): SignatureV4 {
  return new SignatureV4({ service, region, credentials: key, sha256: NodeSha256 });
}

function httpRequest(baseUrl: string, r: RawRequest) {
  const u = new URL(baseUrl);
  return {
    method: r.method,
    protocol: u.protocol,
    hostname: u.hostname,
    port: Number(u.port),
    path: r.path,
    query: r.query ?? {},
    headers: { host: u.host, ...(r.body !== undefined ? { 'content-type': 'application/json' } : {}), ...r.headers },
    body: r.body,
  };
}

function urlOf(baseUrl: string, path: string, query: Record<string, string | string[] | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === null) continue;
    for (const one of Array.isArray(v) ? v : [v]) q.append(k, one);
  }
  const qs = q.toString().replace(/\+/g, '%20');
  return `${baseUrl}${path}${qs === '' ? '' : `?${qs}`}`;
}

/** A presigned URL (X-Amz-* query parameters) for `r`, valid `expiresIn` seconds from `signingDate`. */
export async function presignedUrl(baseUrl: string, key: AccessKey, region: string, r: RawRequest, opts: { expiresIn: number; signingDate?: Date }): Promise<string> {
  const signed = await signer(key, region).presign(httpRequest(baseUrl, r), { expiresIn: opts.expiresIn, ...(opts.signingDate ? { signingDate: opts.signingDate } : {}) });
  return urlOf(baseUrl, signed.path, signed.query as Record<string, string | string[] | null>);
}

/** Signs `r` with the Authorization header; returns what fetch needs. */
export async function signRequest(baseUrl: string, key: AccessKey, region: string, r: RawRequest): Promise<{ url: string; init: RequestInit }> {
  const signed = await signer(key, region).sign(httpRequest(baseUrl, r));
  const headers = { ...(signed.headers as Record<string, string>) };
  delete headers.host; // fetch sets it (to the same value)
  return { url: urlOf(baseUrl, signed.path, signed.query as Record<string, string | string[] | null>), init: { method: r.method, headers, ...(r.body !== undefined ? { body: r.body } : {}) } };
}

/** Status, AWS error type (x-amzn-ErrorType) and parsed JSON body of a response. */
export async function readAws(res: Response): Promise<{ status: number; errorType: string | null; body: Record<string, unknown> }> {
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    body = { text };
  }
  return { status: res.status, errorType: res.headers.get('x-amzn-errortype'), body };
}
