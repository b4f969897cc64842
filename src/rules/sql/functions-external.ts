/**
 * Functions that reach outside the message: aws_lambda() (Thingport's local functions) and
 * get_secret() (secrets from configuration). decode(…, 'proto', …) lives in proto.ts.
 */
import { randomUUID } from 'node:crypto';
import type { SecretValue, SqlContext, SqlFunctionsPort } from './context.js';
import { toJsonText, toPlainJson } from './json.js';

/** Most aws_lambda() calls one message may make (each is one more evaluation pass). */
export const MAX_LAMBDA_CALLS = 10;

/**
 * aws_lambda(functionArn, inputJson). Evaluation is synchronous, so a call without a result yet
 * records what it needs and yields Undefined; the async driver (compile.ts) runs it and evaluates
 * again with the result. Without the driver (rule tests) the call is Undefined.
 */
export function awsLambda([functionArn, input]: unknown[], ctx: SqlContext): unknown {
  const calls = ctx.calls;
  if (typeof functionArn !== 'string' || calls === undefined) return undefined;
  // A binary payload (`*` of non-JSON) reaches the function as base64 text.
  const event = Buffer.isBuffer(input) ? input.toString('base64') : toPlainJson(input);
  const key = `${functionArn}\n${toJsonText(event ?? null)}`;
  if (calls.results.has(key)) return calls.results.get(key);
  if (!calls.wanted.some((w) => w.key === key)) calls.wanted.push({ key, functionArn, event: event ?? null });
  return undefined;
}

/**
 * newuuid() and rand() during a multi-pass evaluation: the n-th value of a pass is the n-th value
 * of the first pass, so that what a rule computed before a call is what it computes after.
 */
export function stableVolatile(ctx: SqlContext, make: () => unknown): unknown {
  const calls = ctx.calls;
  if (calls === undefined) return make();
  const i = calls.next++;
  if (i < calls.stable.length) return calls.stable[i];
  const v = make();
  calls.stable.push(v);
  return v;
}

export const newUuid = (ctx: SqlContext): unknown => stableVolatile(ctx, randomUUID);

/** Runs the first call a pass wanted; rejects with the error the rule's evaluation reports. */
export async function runWantedCall(ctx: SqlContext, functions: SqlFunctionsPort): Promise<void> {
  const w = ctx.calls!.wanted[0]!;
  let result: unknown;
  try {
    result = await functions.invoke(w.functionArn, w.event);
  } catch (err) {
    throw new Error(`aws_lambda(${w.functionArn}) failed: ${(err as Error).message}`);
  }
  ctx.calls!.results.set(w.key, result ?? null);
}

/** The secret of an id: the configured name or ARN, a Secrets Manager ARN's name, or the name of a configured ARN. */
export function resolveSecret(secrets: Readonly<Record<string, SecretValue>>, secretId: string): SecretValue | undefined {
  if (Object.hasOwn(secrets, secretId)) return secrets[secretId];
  // arn:aws:secretsmanager:region:account:secret:NAME-AbCdEf (the 6-character suffix is optional)
  const nameOf = (arn: string): string | null => {
    const m = /^arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:(.+)$/.exec(arn);
    return m === null ? null : m[1]!;
  };
  const name = nameOf(secretId);
  if (name !== null) {
    for (const n of [name, name.replace(/-[A-Za-z0-9]{6}$/, '')]) if (Object.hasOwn(secrets, n)) return secrets[n];
    return undefined;
  }
  for (const k of Object.keys(secrets)) {
    const n = nameOf(k);
    if (n !== null && (n === secretId || n.replace(/-[A-Za-z0-9]{6}$/, '') === secretId)) return secrets[k];
  }
  return undefined;
}

export const SECRET_TYPES = ['SecretString', 'SecretBinary'];

/**
 * get_secret(secretId, secretType[, key], roleArn) per the functions reference: SecretString is the
 * secret's text (or its JSON object), with a key the value of that key in the JSON object;
 * SecretBinary is the secret's bytes as base64 and takes no key. What cannot be read fails the action.
 */
export function getSecretFn(lookup: (id: string) => SecretValue | undefined): (args: unknown[]) => unknown {
  return (args) => {
    const [secretId, secretType] = args;
    const key = args.length === 4 ? args[2] : undefined;
    if (typeof secretId !== 'string' || typeof secretType !== 'string') return undefined;
    const secret = lookup(secretId);
    if (secret === undefined) throw new Error(`get_secret(): secret ${secretId} is not configured (rules.secrets)`);
    if (secretType === 'SecretBinary') {
      if (key !== undefined) throw new Error(`get_secret(): a key cannot be read from the SecretBinary of ${secretId}`);
      if (typeof secret !== 'string') throw new Error(`get_secret(): secret ${secretId} has no SecretBinary (it is a JSON SecretString)`);
      return Buffer.from(secret, 'utf8').toString('base64');
    }
    if (secretType !== 'SecretString') throw new Error(`get_secret(): secretType must be SecretString or SecretBinary, got ${secretType}`);
    if (key === undefined) return typeof secret === 'string' ? secret : { ...secret };
    if (typeof key !== 'string') return undefined;
    let obj: unknown = secret;
    if (typeof secret === 'string') {
      try {
        obj = JSON.parse(secret) as unknown;
      } catch {
        obj = undefined;
      }
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new Error(`get_secret(): secret ${secretId} is not a JSON object, so key ${key} cannot be read`);
    if (!Object.hasOwn(obj, key)) throw new Error(`get_secret(): secret ${secretId} has no key ${key}`);
    return (obj as Record<string, unknown>)[key];
  };
}
