/**
 * A minimal S3-compatible server owned by the tests: path-style PutObject and GetObject on
 * in-memory buckets, every request SigV4-verified (service `s3`) with Thingport's own verifier.
 * Errors are S3's XML (`SignatureDoesNotMatch`, `InvalidAccessKeyId`, `NoSuchBucket`, `NoSuchKey`),
 * so the AWS SDK reads them as it reads S3's. No npm S3 server verifies SigV4 signatures (s3rver
 * accepts any V4 signature), which the wrong-secret tests need.
 */
import { createHash } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import { checkSigV4, readBody, UNTIL_TIMEOUT_MS, waitUntil } from './http-sink.js';

export interface StoredObject {
  body: Buffer;
  /** The request headers PutObject came with (x-amz-acl, content-type...). */
  headers: Record<string, string | string[] | undefined>;
}

export interface S3TestServer {
  /** `http://127.0.0.1:PORT`, the endpoint to configure. */
  url: string;
  /** `bucket/key` -> object. */
  objects: Map<string, StoredObject>;
  /** Every request: method, path, status and the S3 error code when it failed. */
  log: { method: string; path: string; status: number; code?: string }[];
  /** Resolves once `pred` holds (checked after every request); rejects naming `what` after `timeoutMs`. */
  until(pred: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

function xmlError(res: ServerResponse, status: number, code: string, message: string): void {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  res.statusCode = status;
  res.setHeader('content-type', 'application/xml');
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${esc(message)}</Message></Error>`);
}

/** Starts the server on 127.0.0.1 with the given buckets and access keys (id -> secret). */
export async function startS3Server(opts: { region: string; keys: Record<string, string>; buckets: string[] }): Promise<S3TestServer> {
  const objects = new Map<string, StoredObject>();
  const log: S3TestServer['log'] = [];
  const buckets = new Set(opts.buckets);
  let waiters: { pred: () => boolean; resolve: () => void }[] = [];
  const checkWaiters = () => {
    waiters = waiters.filter((w) => {
      if (!w.pred()) return true;
      w.resolve();
      return false;
    });
  };
  const server = createServer((req, res) => {
    res.on('finish', checkWaiters);
    void readBody(req).then((body) => {
      const path = (req.url ?? '/').split('?')[0]!;
      const fail = (status: number, code: string, message: string) => {
        log.push({ method: req.method ?? '', path, status, code });
        xmlError(res, status, code, message);
      };
      const bad = checkSigV4(req, body, { region: opts.region, service: 's3', keys: opts.keys, s3: true });
      if (bad !== null) {
        if (bad.name === 'InvalidAccessKeyId') return fail(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
        return fail(403, bad.name === 'InvalidSignatureException' ? 'SignatureDoesNotMatch' : 'AccessDenied', bad.message);
      }
      const slash = path.indexOf('/', 1);
      const bucket = decodeURIComponent(slash < 0 ? path.slice(1) : path.slice(1, slash));
      const key = slash < 0 ? '' : decodeURIComponent(path.slice(slash + 1));
      if (!buckets.has(bucket)) return fail(404, 'NoSuchBucket', 'The specified bucket does not exist');
      if (key === '') return fail(501, 'NotImplemented', 'only object operations are served');
      if (req.method === 'PUT') {
        objects.set(`${bucket}/${key}`, { body, headers: req.headers });
        log.push({ method: 'PUT', path, status: 200 });
        res.setHeader('etag', `"${createHash('md5').update(body).digest('hex')}"`);
        return res.end();
      }
      if (req.method === 'GET') {
        const o = objects.get(`${bucket}/${key}`);
        if (o === undefined) return fail(404, 'NoSuchKey', 'The specified key does not exist.');
        log.push({ method: 'GET', path, status: 200 });
        res.setHeader('content-length', o.body.length);
        res.setHeader('etag', `"${createHash('md5').update(o.body).digest('hex')}"`);
        return res.end(o.body);
      }
      return fail(405, 'MethodNotAllowed', `${req.method} is not served`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    objects,
    log,
    until: (pred, what, timeoutMs = UNTIL_TIMEOUT_MS) => waitUntil(pred, what, timeoutMs, (w) => waiters.push(w)),
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
