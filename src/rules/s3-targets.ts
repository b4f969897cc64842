/**
 * Where the `s3` action puts a bucket's objects: files under `<dataDir>/s3/<bucket>/<key>` (the
 * default), or PutObject to an S3-compatible endpoint (or AWS S3) configured under `rules.s3`,
 * for every bucket (top-level keys) or per bucket (`rules.s3.buckets.<name>`, over the top level).
 * One S3 client per distinct endpoint/credentials, made on first use; the SDK is loaded only then.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type * as S3Sdk from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import type { RulesConfig } from './config.js';

export type S3Config = RulesConfig['s3'];

/** A resolved remote target: everything a client needs. */
export interface S3Remote {
  endpoint: string | undefined;
  region: string;
  forcePathStyle: boolean;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string | undefined;
}

export type S3Target = { kind: 'local'; dir: string } | { kind: 'remote'; remote: S3Remote } | { kind: 'none' };

/** AWS's CannedAccessControlList. */
export const CANNED_ACLS = new Set(['private', 'public-read', 'public-read-write', 'aws-exec-read', 'authenticated-read', 'bucket-owner-read', 'bucket-owner-full-control', 'log-delivery-write']);

/** S3 bucket names: 3-63 of a-z, 0-9, `.` and `-`, starting and ending with a letter or digit. */
export const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** [S3 object keys] at most 1024 bytes of UTF-8. */
const MAX_KEY_BYTES = 1024;

/**
 * Where `bucket` goes. A bucket entry with `local: true` stays local; any other entry, or
 * top-level credentials, make it remote (entry settings over top-level ones). The config schema
 * guarantees both keys are present for a remote bucket.
 */
export function resolveS3Target(config: S3Config, bucket: string, objectsDir: string | null, defaultRegion: string): S3Target {
  const entry = Object.hasOwn(config.buckets, bucket) ? config.buckets[bucket] : undefined;
  const local: S3Target = objectsDir === null ? { kind: 'none' } : { kind: 'local', dir: objectsDir };
  if (entry?.local === true) return local;
  if (entry === undefined && config.accessKeyId === undefined) return local;
  const pick = <K extends keyof S3Remote & keyof S3Config>(k: K) => (entry?.[k] ?? config[k]) as S3Config[K];
  const endpoint = pick('endpoint');
  const accessKeyId = pick('accessKeyId');
  const secretAccessKey = pick('secretAccessKey');
  if (accessKeyId === undefined || secretAccessKey === undefined) return local;
  return {
    kind: 'remote',
    remote: {
      endpoint,
      region: pick('region') ?? defaultRegion,
      // S3-compatible servers are usually reached by address, not by bucket.host DNS names.
      forcePathStyle: pick('forcePathStyle') ?? endpoint !== undefined,
      accessKeyId,
      secretAccessKey,
      sessionToken: pick('sessionToken'),
    },
  };
}

export interface S3PutRequest {
  bucket: string;
  key: string;
  body: Buffer;
  cannedAcl?: string;
}

export class S3Targets {
  private readonly clients = new Map<string, S3Client>();
  private sdk: Promise<typeof S3Sdk> | null = null;

  constructor(
    private readonly config: S3Config,
    private readonly objectsDir: string | null,
    private readonly defaultRegion: string,
  ) {}

  target(bucket: string): S3Target {
    return resolveS3Target(this.config, bucket, this.objectsDir, this.defaultRegion);
  }

  /** True when some bucket can be written (a data directory or any remote target). */
  available(): boolean {
    return this.objectsDir !== null || this.config.accessKeyId !== undefined || Object.values(this.config.buckets).some((b) => b.local !== true);
  }

  /** Writes one object; rejects (so the rule's errorAction runs) when it cannot. */
  async put(req: S3PutRequest): Promise<void> {
    if (!BUCKET.test(req.bucket)) throw new Error(`bucket name ${req.bucket} is not valid`);
    if (req.key === '') throw new Error('the object key is empty');
    const t = this.target(req.bucket);
    if (t.kind === 'none') throw new Error(`bucket ${req.bucket} has no S3 endpoint configured (rules.s3) and there is no data directory`);
    if (t.kind === 'local') return putLocal(t.dir, req);
    if (Buffer.byteLength(req.key) > MAX_KEY_BYTES) throw new Error(`object key is longer than ${MAX_KEY_BYTES} bytes`);
    const client = await this.client(t.remote);
    const { PutObjectCommand } = await this.loadSdk();
    const where = `s3://${req.bucket}/${req.key}${t.remote.endpoint === undefined ? '' : ` at ${t.remote.endpoint}`}`;
    try {
      await client.send(
        new PutObjectCommand({ Bucket: req.bucket, Key: req.key, Body: req.body, ...(req.cannedAcl !== undefined ? { ACL: req.cannedAcl as never } : {}) }),
        // Bounds the whole call, SDK retries included.
        { abortSignal: AbortSignal.timeout(this.config.timeoutMs) },
      );
    } catch (err) {
      throw new Error(`PutObject ${where} failed: ${describe(err)}`, { cause: err });
    }
  }

  /** Closes the clients' connections. */
  close(): void {
    for (const c of this.clients.values()) c.destroy();
    this.clients.clear();
  }

  private loadSdk(): Promise<typeof S3Sdk> {
    this.sdk ??= import('@aws-sdk/client-s3');
    return this.sdk;
  }

  private async client(r: S3Remote): Promise<S3Client> {
    const id = JSON.stringify(r);
    const cached = this.clients.get(id);
    if (cached !== undefined) return cached;
    const { S3Client } = await this.loadSdk();
    const again = this.clients.get(id);
    if (again !== undefined) return again;
    const client = new S3Client({
      region: r.region,
      ...(r.endpoint !== undefined ? { endpoint: r.endpoint } : {}),
      forcePathStyle: r.forcePathStyle,
      credentials: { accessKeyId: r.accessKeyId, secretAccessKey: r.secretAccessKey, ...(r.sessionToken !== undefined ? { sessionToken: r.sessionToken } : {}) },
      maxAttempts: this.config.maxAttempts,
      // Many S3-compatible servers reject the CRC checksums newer SDKs add by default; the
      // payload is covered by the SigV4 payload hash anyway.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: this.config.timeoutMs, requestTimeout: this.config.timeoutMs },
    });
    this.clients.set(id, client);
    return client;
  }
}

/** `<dir>/<bucket>/<key>`, never outside the bucket's directory whatever the key template produced. */
async function putLocal(dir: string, req: S3PutRequest): Promise<void> {
  const root = resolve(dir);
  if (req.key.split('/').some((p) => p === '..' || p === '.')) throw new Error(`object key ${req.key} is not valid`);
  const file = resolve(join(root, req.bucket, req.key));
  if (!file.startsWith(join(root, req.bucket) + sep)) throw new Error(`object key ${req.key} is not valid`);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, req.body);
}

/** An SDK error as one line: S3's error code, the HTTP status, the message. */
function describe(err: unknown): string {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  const parts = [e.name && e.name !== 'Error' ? e.name : '', status !== undefined ? `HTTP ${status}` : '', e.message ?? String(err)].filter((p) => p !== '');
  return parts.join(': ');
}
