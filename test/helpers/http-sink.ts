/**
 * A test-owned HTTP endpoint for rule actions: it records every request (method, path, headers,
 * body), answers the statuses a test scripts per path (200 otherwise), and can check SigV4
 * signatures with Thingport's own verifier (src/http verifySigV4), answering 403 when they fail.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { parseSigV4, verifySigV4 } from '../../src/http/index.js';

export interface SinkRequest {
  method: string;
  /** The request target as sent (path and query, still encoded). */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  status: number;
  /** For signed paths: null when the signature verified, else why not. */
  signatureError: string | null;
}

export interface SigV4Check {
  region: string;
  service: string;
  keys: Record<string, string>;
  /**
   * S3 signs the path as sent, without the second URI-encoding other services apply; the
   * verifier is handed the decoded path so that its one encoding gives S3's form.
   */
  s3?: boolean;
}

/** Reads the whole body of a request. */
export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Verifies a request's SigV4 Authorization header; returns null when authentic, else the error (name: message). */
export function checkSigV4(req: IncomingMessage, body: Buffer, check: SigV4Check): { name: string; message: string } | null {
  const pairs: [string, string][] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) pairs.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  const url = check.s3 ? decodeURIComponent(q < 0 ? raw : raw.slice(0, q)) + (q < 0 ? '' : raw.slice(q)) : raw;
  const sreq = { method: req.method ?? 'GET', url, headers: pairs, body };
  try {
    const claim = parseSigV4(sreq);
    const secret = check.keys[claim.accessKeyId];
    if (secret === undefined) return { name: 'InvalidAccessKeyId', message: `unknown access key ${claim.accessKeyId}` };
    verifySigV4(sreq, claim, { secretAccessKey: secret, region: check.region, services: [check.service], now: Date.now() });
    return null;
  } catch (err) {
    return { name: (err as Error).name, message: (err as Error).message };
  }
}

/** How long `until` waits by default: rule actions retry with backoff, and S3 calls time out after seconds. */
export const UNTIL_TIMEOUT_MS = 15_000;

/** A promise resolved by whoever checks `pred` after each event; rejected after `timeoutMs`. */
export function waitUntil(pred: () => boolean, what: string, timeoutMs: number, register: (w: { pred: () => boolean; resolve: () => void }) => void): Promise<void> {
  if (pred()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
    register({
      pred,
      resolve: () => {
        clearTimeout(timer);
        resolve();
      },
    });
  });
}

export class HttpSink {
  readonly requests: SinkRequest[] = [];
  /** Statuses to answer, in order, per path prefix (then 200). */
  readonly script = new Map<string, number[]>();
  /** Paths under these prefixes must be SigV4-signed. */
  readonly signed = new Map<string, SigV4Check>();
  private waiters: { pred: () => boolean; resolve: () => void }[] = [];
  url = '';

  constructor(private readonly server: Server) {}

  /** Requests whose path starts with `prefix`. */
  to(prefix: string): SinkRequest[] {
    return this.requests.filter((r) => r.url.startsWith(prefix));
  }

  /** Resolves once `pred` holds (checked on every request); rejects naming `what` after `timeoutMs`. */
  until(pred: () => boolean, what: string, timeoutMs = UNTIL_TIMEOUT_MS): Promise<void> {
    return waitUntil(pred, what, timeoutMs, (w) => this.waiters.push(w));
  }

  record(r: SinkRequest): void {
    this.requests.push(r);
    this.waiters = this.waiters.filter((w) => {
      if (!w.pred()) return true;
      w.resolve();
      return false;
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

export async function startHttpSink(): Promise<HttpSink> {
  const server = createServer();
  const sink = new HttpSink(server);
  server.on('request', (req, res) => {
    void readBody(req).then((body) => {
      const url = req.url ?? '/';
      let signatureError: string | null = null;
      for (const [prefix, check] of sink.signed) {
        if (!url.startsWith(prefix)) continue;
        const e = checkSigV4(req, body, check);
        signatureError = e === null ? null : `${e.name}: ${e.message}`;
      }
      let status = 200;
      for (const [prefix, statuses] of sink.script) if (url.startsWith(prefix) && statuses.length > 0) status = statuses.shift()!;
      if (signatureError !== null) status = 403;
      sink.record({ method: req.method ?? '', url, headers: req.headers, body, status, signatureError });
      res.statusCode = status;
      res.end(status === 200 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  sink.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return sink;
}
