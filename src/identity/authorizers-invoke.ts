/**
 * Runs custom authorizer functions, Thingport's stand-in for AWS Lambda. Configuration
 * (`authorizers.functions`) maps an authorizer's `authorizerFunctionArn`, or the Lambda function
 * name inside it (`arn:aws:lambda:{region}:{account}:function:{name}[:{qualifier}]`), to
 *  - `{ url }`: an HTTP(S) endpoint; the event is POSTed as JSON and the response body is the
 *    function's answer (a non-2xx status is a failure);
 *  - `{ module }`: a local ES module whose default export (or `handler` export, Lambda style) is
 *    `async (event) => response`. It runs in a worker thread, loaded once and kept, so a module
 *    that loops forever cannot block the broker's event loop: it is stopped at the timeout (and
 *    every call still pending on it fails); the next call starts it afresh.
 * Nothing else runs: the API cannot make the server call an arbitrary URL or load an arbitrary file.
 * Every call is bounded by `timeoutMs` (AWS: an authorizer's Lambda times out after 5 s).
 */
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../lib/index.js';
import type { AuthorizerEvent } from './authorizers-event.js';
import { IdentityError } from './errors.js';

export type AuthorizerFunctionConfig = { url: string } | { module: string };

export interface AuthorizerFunctionsOptions {
  functions: Readonly<Record<string, AuthorizerFunctionConfig>>;
  timeoutMs: number;
  logger: Logger;
}

export interface AuthorizerFunctions {
  /** The configured function of an authorizerFunctionArn, or null. */
  resolve(functionArn: string): AuthorizerFunctionConfig | null;
  /** Calls the function; throws IdentityError `authorizer.function_unavailable` / `authorizer.function_failed`. */
  invoke(functionArn: string, event: AuthorizerEvent): Promise<unknown>;
  /** Stops the module workers. */
  close(): void;
}

/** Largest answer read from an HTTP function (an authorizer response is a few KB: 10 policies of 2 KB). */
const MAX_RESPONSE_BYTES = 256 * 1024;
const LAMBDA_ARN = /^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)(?::[^:]+)?$/;

/** The worker: loads the module once, then answers `{id, event}` messages with `{id, ok, result|error}`. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
let fn = null;
parentPort.on('message', async ({ id, event }) => {
  if (fn === null) {
    try {
      const m = await import(workerData.url);
      fn = typeof m.default === 'function' ? m.default : typeof m.handler === 'function' ? m.handler : null;
      if (fn === null) throw new Error('the module exports neither a default function nor a handler function');
    } catch (err) {
      // fatal: a failed import stays cached in this thread, so the next call needs a new worker
      parentPort.postMessage({ id, ok: false, fatal: true, error: 'cannot load ' + workerData.url + ': ' + (err && err.message || String(err)) });
      return;
    }
  }
  try {
    const result = await fn(event);
    parentPort.postMessage({ id, ok: true, result: JSON.parse(JSON.stringify(result === undefined ? null : result)) });
  } catch (err) {
    parentPort.postMessage({ id, ok: false, error: (err && err.message) || String(err) });
  }
});
`;

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout;
}

/** One module's worker with its calls in flight. */
class ModuleRunner {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(
    private readonly url: string,
    private readonly timeoutMs: number,
  ) {}

  call(event: AuthorizerEvent): Promise<unknown> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.stop(`timed out after ${this.timeoutMs} ms`), this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      worker.postMessage({ id, event });
    });
  }

  private start(): Worker {
    if (this.worker !== null) return this.worker;
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { url: this.url } });
    w.unref(); // never keeps the process alive
    w.on('message', (m: { id: number; ok: boolean; result?: unknown; error?: string; fatal?: boolean }) => {
      if (m.fatal === true) return this.stop(m.error ?? 'cannot load the module', w);
      const p = this.pending.get(m.id);
      if (p === undefined) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.result);
      else p.reject(failed(m.error ?? 'failed'));
    });
    w.on('error', (err) => this.stop(`crashed: ${err.message}`, w));
    w.on('exit', (code) => this.stop(`stopped (exit code ${code})`, w));
    this.worker = w;
    return w;
  }

  /** Ends the worker (if `only` is given: only if it is still that one) and fails every pending call. */
  stop(why: string, only?: Worker): void {
    const w = this.worker;
    if (only !== undefined && w !== only) return;
    this.worker = null;
    if (w !== null) void w.terminate().catch(() => {});
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(failed(`${why}`));
    }
    this.pending.clear();
  }
}

const failed = (why: string): IdentityError => new IdentityError('authorizer.function_failed', `The authorizer function failed: ${why}`);

/** Builds the function runner over the configured functions. */
export function createAuthorizerFunctions(opts: AuthorizerFunctionsOptions): AuthorizerFunctions {
  const runners = new Map<string, ModuleRunner>();
  const log = opts.logger;

  const resolve = (functionArn: string): AuthorizerFunctionConfig | null => {
    const exact = opts.functions[functionArn];
    if (exact !== undefined) return exact;
    const name = LAMBDA_ARN.exec(functionArn)?.[1];
    return name === undefined ? null : (opts.functions[name] ?? null);
  };

  async function post(url: string, event: AuthorizerEvent): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(event),
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
    } catch (err) {
      const e = err as Error;
      throw failed(e.name === 'TimeoutError' ? `${url} timed out after ${opts.timeoutMs} ms` : `${url}: ${e.message}`);
    }
    const text = await res.text().catch(() => '');
    if (!res.ok) throw failed(`${url} answered HTTP ${res.status}`);
    if (text.length > MAX_RESPONSE_BYTES) throw failed(`${url} answered more than ${MAX_RESPONSE_BYTES} bytes`);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw failed(`${url} did not answer JSON`);
    }
  }

  return {
    resolve,
    async invoke(functionArn, event) {
      const fn = resolve(functionArn);
      if (fn === null) {
        throw new IdentityError(
          'authorizer.function_unavailable',
          `No authorizer function is configured for '${functionArn}': add it (or its Lambda function name) to the authorizers.functions setting`,
        );
      }
      if ('url' in fn) return post(fn.url, event);
      const url = fn.module.startsWith('file:') ? fn.module : pathToFileURL(resolvePath(fn.module)).href;
      let runner = runners.get(url);
      if (runner === undefined) {
        runner = new ModuleRunner(url, opts.timeoutMs);
        runners.set(url, runner);
        log.debug({ module: url }, 'authorizer function module registered');
      }
      return runner.call(event);
    },
    close() {
      for (const r of runners.values()) r.stop('Thingport is shutting down');
      runners.clear();
    },
  };
}
