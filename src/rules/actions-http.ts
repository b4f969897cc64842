/**
 * The `http` action (AWS's HttpAction): POST of the rule output to `url` (templates) with
 * `headers` (templates), only under an ENABLED topic rule destination, retried with backoff.
 * - `auth.sigv4`: the POST is signed with SigV4 for `serviceName` / `signingRegion` using the
 *   credentials configured under `rules.httpSigV4` (the action's roleArn cannot be assumed here).
 * - `enableBatching` + `batchConfig`: messages for the same rendered URL, headers and topic (any
 *   topic with `batchAcrossTopics`) are POSTed together as one JSON array, closed by whichever
 *   limit comes first: `maxBatchSize` messages, `maxBatchSizeBytes` of body, `maxBatchOpenMs`
 *   after its first message. A batch that fails fails every message in it.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { outputBytes, toJsonText } from './output.js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { CompiledAction, Invocation } from './actions.js';
import type { Destinations } from './destinations.js';
import { rulesErrors } from './errors.js';
import type { RuleAction } from './model.js';
import { actionTemplate as template, type TemplateOptions } from './action-template.js';

type HttpAction = NonNullable<RuleAction['http']>;

export interface SigV4Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface HttpActionDeps {
  destinations: Destinations;
  http: { attempts: number; backoffMs: number; timeoutMs: number };
  /** `rules.httpSigV4`: what signs `auth.sigv4` actions; null refuses them. */
  httpSigV4: SigV4Credentials | null;
  fetch?: typeof fetch;
}

/** [HTTP action batching] limits and defaults of BatchConfig. */
export const BATCH_LIMITS = {
  maxBatchOpenMs: { min: 5, max: 200, default: 20 },
  maxBatchSize: { min: 2, max: 10, default: 10 },
  maxBatchSizeBytes: { min: 100, max: 131_072, default: 5_120 },
} as const;

type Batching = { maxBatchOpenMs: number; maxBatchSize: number; maxBatchSizeBytes: number; batchAcrossTopics: boolean };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function compileHttpAction(c: HttpAction, deps: HttpActionDeps, where: string, L: TemplateOptions): CompiledAction {
  const url = template(c.url, `${where}.http.url`, L);
  const headers = (c.headers ?? []).map((x) => ({ key: x.key.toLowerCase(), value: template(x.value, `${where}.http.headers`, L) }));
  const signer = compileSigner(c, deps.httpSigV4, where);
  const batching = c.enableBatching === true ? batchingOf(c.batchConfig, where) : null;
  const confirmationUrl = c.confirmationUrl ?? c.url;
  if (confirmationUrl.includes('${')) throw rulesErrors.invalid(`${where}.http.confirmationUrl cannot contain substitution templates; set confirmationUrl`);
  if (!c.url.startsWith(confirmationUrl)) throw rulesErrors.invalid(`${where}.http.url must start with its confirmationUrl`);
  // AWS creates the destination (and sends the confirmation) when a rule first names the URL.
  if (deps.destinations.forUrl(confirmationUrl) === null) deps.destinations.create(confirmationUrl);
  const send = (target: string, hdrs: Record<string, string>, body: Buffer) => post(target, hdrs, body, deps, signer);
  const batcher = batching === null ? null : new Batcher(batching, send);
  return {
    kind: 'http',
    failedAction: 'HttpAction',
    failedResource: c.url,
    run: async ({ output, doc, ctx }: Invocation) => {
      const target = url(doc, ctx);
      const dest = deps.destinations.forUrl(target);
      if (dest === null || dest.status !== 'ENABLED') throw new Error(`the topic rule destination for ${target} is not confirmed and enabled`);
      const hdrs: Record<string, string> = {};
      for (const x of headers) hdrs[x.key] = x.value(doc, ctx);
      // [HTTP action] application/json for JSON output, else application/octet-stream, unless a header says otherwise.
      hdrs['content-type'] ??= Buffer.isBuffer(output) ? 'application/octet-stream' : 'application/json';
      // Bytes are not JSON: they cannot be an element of a batch, so they go alone, as they are.
      if (batcher === null || Buffer.isBuffer(output)) return send(target, hdrs, outputBytes(output));
      return batcher.add(target, hdrs, ctx.topic, toJsonText(output));
    },
  };
}

function batchingOf(cfg: HttpAction['batchConfig'], where: string): Batching {
  const pick = (name: keyof typeof BATCH_LIMITS): number => {
    const v = cfg?.[name];
    const lim = BATCH_LIMITS[name];
    if (v === undefined || v === null) return lim.default;
    if (!Number.isInteger(v) || v < lim.min || v > lim.max) throw rulesErrors.invalid(`${where}.http.batchConfig.${name} must be an integer from ${lim.min} to ${lim.max}`);
    return v;
  };
  return { maxBatchOpenMs: pick('maxBatchOpenMs'), maxBatchSize: pick('maxBatchSize'), maxBatchSizeBytes: pick('maxBatchSizeBytes'), batchAcrossTopics: cfg?.batchAcrossTopics === true };
}

/** SHA-256 / HMAC-SHA-256 on node:crypto, in the shape SignatureV4 wants. */
class NodeSha256 {
  private readonly h: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.h.update(toBuffer(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.h.digest()));
  }
}

function toBuffer(d: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof d === 'string') return Buffer.from(d, 'utf8');
  if (ArrayBuffer.isView(d)) return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  return Buffer.from(d);
}

type Signer = ((target: URL, headers: Record<string, string>, body: Buffer) => Promise<Record<string, string>>) | null;

function compileSigner(c: HttpAction, creds: SigV4Credentials | null, where: string): Signer {
  const s = c.auth?.sigv4;
  if (s === undefined || s === null) return null;
  if (creds === null)
    throw rulesErrors.invalid(
      `${where}.http.auth.sigv4 needs signing credentials: set rules.httpSigV4.accessKeyId and rules.httpSigV4.secretAccessKey in Thingport's configuration (the roleArn cannot be assumed)`,
    );
  if (typeof s.signingRegion !== 'string' || s.signingRegion === '') throw rulesErrors.invalid(`${where}.http.auth.sigv4.signingRegion is required`);
  if (typeof s.serviceName !== 'string' || s.serviceName === '') throw rulesErrors.invalid(`${where}.http.auth.sigv4.serviceName is required`);
  const signer = new SignatureV4({ service: s.serviceName, region: s.signingRegion, credentials: { ...creds }, sha256: NodeSha256 });
  return async (target, headers, body) => {
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of target.searchParams) {
      const prev = query[k];
      query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    const signed = await signer.sign({
      method: 'POST',
      protocol: target.protocol,
      hostname: target.hostname,
      ...(target.port !== '' ? { port: Number(target.port) } : {}),
      path: target.pathname,
      query,
      // fetch sends Host from the URL: the same value, so it is signed but not passed on.
      headers: { ...headers, host: target.host },
      body,
    });
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(signed.headers)) if (k.toLowerCase() !== 'host') out[k] = v;
    return out;
  };
}

/** One POST with retries (network errors, 5xx, 429) and exponential backoff; each attempt signed afresh. */
async function post(target: string, headers: Record<string, string>, body: Buffer, deps: HttpActionDeps, signer: Signer): Promise<void> {
  const f = deps.fetch ?? globalThis.fetch;
  let last = '';
  for (let attempt = 0; attempt < deps.http.attempts; attempt++) {
    if (attempt > 0) await sleep(deps.http.backoffMs * 2 ** (attempt - 1));
    try {
      const hdrs = signer === null ? headers : await signer(new URL(target), headers, body);
      const res = await f(target, { method: 'POST', headers: hdrs, body, signal: AbortSignal.timeout(deps.http.timeoutMs) });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return;
      last = `HTTP ${res.status}`;
      // Client errors other than throttling are not retried.
      if (res.status < 500 && res.status !== 429) break;
    } catch (err) {
      last = (err as Error).message;
    }
  }
  throw new Error(`POST ${target} failed: ${last}`);
}

interface Waiting {
  resolve: () => void;
  reject: (err: Error) => void;
}

interface OpenBatch {
  key: string;
  target: string;
  headers: Record<string, string>;
  items: string[];
  waiting: Waiting[];
  /** Bytes of the JSON array body so far. */
  bytes: number;
  timer: NodeJS.Timeout;
}

/** Open batches of one compiled http action, by rendered URL, headers and (unless batchAcrossTopics) topic. */
class Batcher {
  private readonly open = new Map<string, OpenBatch>();

  constructor(
    private readonly cfg: Batching,
    private readonly send: (target: string, headers: Record<string, string>, body: Buffer) => Promise<void>,
  ) {}

  add(target: string, headers: Record<string, string>, topic: string, json: string): Promise<void> {
    const key = JSON.stringify([target, Object.entries(headers).sort(([a], [b]) => (a < b ? -1 : 1)), this.cfg.batchAcrossTopics ? '' : topic]);
    const len = Buffer.byteLength(json);
    let b = this.open.get(key);
    // [HTTP action batching] the first limit reached closes the batch: this message would overflow it.
    if (b !== undefined && b.bytes + 1 + len > this.cfg.maxBatchSizeBytes) {
      this.flush(b);
      b = undefined;
    }
    if (b === undefined) {
      const nb: OpenBatch = { key, target, headers, items: [], waiting: [], bytes: 2, timer: setTimeout(() => this.flush(nb), this.cfg.maxBatchOpenMs) };
      this.open.set(key, nb);
      b = nb;
    }
    const batch = b;
    batch.bytes += (batch.items.length > 0 ? 1 : 0) + len;
    batch.items.push(json);
    // The batched request carries the headers of the last message added (AWS does the same).
    batch.headers = headers;
    const done = new Promise<void>((resolve, reject) => batch.waiting.push({ resolve, reject }));
    // A message larger than the byte limit goes alone.
    if (batch.items.length >= this.cfg.maxBatchSize || batch.bytes >= this.cfg.maxBatchSizeBytes) this.flush(batch);
    return done;
  }

  private flush(b: OpenBatch): void {
    clearTimeout(b.timer);
    if (this.open.get(b.key) === b) this.open.delete(b.key);
    // [HTTP action batching] a batch is a JSON array and always application/json.
    const body = Buffer.from(`[${b.items.join(',')}]`);
    this.send(b.target, { ...b.headers, 'content-type': 'application/json' }, body).then(
      () => {
        for (const w of b.waiting) w.resolve();
      },
      (err: Error) => {
        const e = new Error(`${err.message} (a batch of ${b.items.length} message${b.items.length === 1 ? '' : 's'})`, { cause: err });
        for (const w of b.waiting) w.reject(e);
      },
    );
  }
}
