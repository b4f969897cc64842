/**
 * The `lambda` action's stand-in: configuration maps a function ARN (or the function name inside
 * it) to a local ES module whose default (or `handler`) export is `async (event) => result`. Each
 * invocation runs in its own worker thread with a timeout and a heap cap, so a module that loops
 * or leaks cannot stall the broker. Nothing but configured modules can run.
 */
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { toPlainJson } from './sql/index.js';

export interface FunctionConfig {
  module: string;
}

export interface LocalFunctions {
  /** The configured function of an ARN or name, or null. */
  resolve(functionArn: string): FunctionConfig | null;
  /** Runs the function in a worker; `timeoutMs` lowers the configured limit (aws_lambda() in SQL: 2 s). */
  invoke(functionArn: string, event: unknown, opts?: { timeoutMs?: number }): Promise<unknown>;
}

const LAMBDA_ARN = /^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)(?::[^:]+)?$/;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  try {
    const m = await import(workerData.url);
    const fn = typeof m.default === 'function' ? m.default : typeof m.handler === 'function' ? m.handler : null;
    if (fn === null) throw new Error('the module exports neither a default function nor a handler function');
    const result = await fn(workerData.event);
    parentPort.postMessage({ ok: true, result: result === undefined ? null : JSON.parse(JSON.stringify(result)) });
  } catch (err) {
    parentPort.postMessage({ ok: false, error: (err && err.message) || String(err) });
  }
})();
`;

export function createLocalFunctions(
  functions: Readonly<Record<string, FunctionConfig>>,
  opts: { timeoutMs: number; memoryMb: number; /** Workers running at once; later calls wait their turn (default 8). */ maxConcurrent?: number },
): LocalFunctions {
  const maxConcurrent = opts.maxConcurrent ?? 8;
  let running = 0;
  const waiting: (() => void)[] = [];
  /** Waits for a free worker slot; the returned function frees it. */
  const release = (): void => {
    const next = waiting.shift();
    if (next === undefined) running--;
    else next(); // the slot passes straight to the next caller
  };
  const acquire = async (): Promise<() => void> => {
    if (running >= maxConcurrent) await new Promise<void>((r) => waiting.push(r));
    else running++;
    return release;
  };
  const resolve = (arn: string): FunctionConfig | null => {
    const direct = functions[arn];
    if (direct !== undefined) return direct;
    const m = LAMBDA_ARN.exec(arn);
    return m === null ? null : (functions[m[1]!] ?? null);
  };
  return {
    resolve,
    invoke(arn, event, call = {}) {
      const cfg = resolve(arn);
      if (cfg === null) return Promise.reject(new Error(`function ${arn} is not configured (rules.functions)`));
      const url = pathToFileURL(resolvePath(cfg.module)).href;
      const timeoutMs = Math.min(opts.timeoutMs, call.timeoutMs ?? opts.timeoutMs);
      return acquire().then((release) => run(arn, url, event, timeoutMs).finally(release));
    },
  };

  function run(arn: string, url: string, event: unknown, timeoutMs: number): Promise<unknown> {
    return new Promise((res, rej) => {
      // The event as JSON data: SQL Decimals (7.0) reach the function as numbers.
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { url, event: toPlainJson(event) }, resourceLimits: { maxOldGenerationSizeMb: opts.memoryMb } });
      let settled = false;
      const done = (f: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        void w.terminate();
        f();
      };
      const timer = setTimeout(() => done(() => rej(new Error(`function ${arn} timed out after ${timeoutMs} ms`))), timeoutMs);
      w.once('message', (m: { ok: boolean; result?: unknown; error?: string }) => done(() => (m.ok ? res(m.result) : rej(new Error(m.error)))));
      w.once('error', (err) => done(() => rej(err)));
      w.once('exit', (code) => done(() => rej(new Error(`function ${arn} exited with code ${code}`))));
    });
  }
}
