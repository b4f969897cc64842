/**
 * Policy documents: the JSON text validated and compiled once (at CreatePolicy /
 * CreatePolicyVersion, at start-up for stored policies, and for custom authorizers' returned
 * documents), so evaluation never parses.
 *
 * Grammar as IAM's (AWS IoT policies "follow the same conventions as IAM policies",
 * developerguide/iot-policies.html): `Version` (2012-10-17, or 2008-10-17 which predates policy
 * variables), `Id`, `Statement` (one object or an array) of `Sid`, `Effect` Allow|Deny,
 * `Action`|`NotAction`, `Resource`|`NotResource`, `Condition`. IoT policies name no `Principal`.
 */
import { checkConditionValue, parseOperator, type Condition } from './conditions.js';
import { PolicyError } from './errors.js';
import { compileGlob, normalizeKey, parseTemplate, type Glob, type Template } from './pattern.js';

/** AWS: "policyDocument must have a minimum length of 1, with a maximum length of 2048, excluding whitespace" (API_CreatePolicy). */
export const MAX_POLICY_DOCUMENT_CHARS = 2048;

export const POLICY_VERSIONS = ['2012-10-17', '2008-10-17'] as const;
export type PolicyLanguageVersion = (typeof POLICY_VERSIONS)[number];

export interface Statement {
  readonly sid: string | null;
  readonly effect: 'Allow' | 'Deny';
  /** Compiled case-insensitively: match against the lowercased action name. */
  readonly actions: readonly Glob[];
  readonly notAction: boolean;
  readonly resources: readonly Template[];
  readonly notResource: boolean;
  readonly conditions: readonly Condition[];
}

/** A validated, compiled policy document. Immutable; shared by every evaluation. */
export interface PolicyDocument {
  readonly version: PolicyLanguageVersion;
  readonly statements: readonly Statement[];
  /** Some condition reads the clock (`aws:CurrentTime`, `aws:EpochTime`): decisions must not be cached. */
  readonly timeDependent: boolean;
}

const TOP_KEYS = new Set(['Version', 'Id', 'Statement']);
const STATEMENT_KEYS = new Set(['Sid', 'Effect', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition']);
export const TIME_KEYS = new Set(['aws:currenttime', 'aws:epochtime']);
const ACTION_RE = /^(\*|[A-Za-z0-9*?-]+:[A-Za-z0-9*?]+)$/;

const malformed = (message: string): PolicyError => new PolicyError('policy.malformed', message);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A string or a non-empty array of strings, as the `Action`/`Resource` elements take. */
function stringList(v: unknown, what: string, where: string): string[] {
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0) throw malformed(`${where}: ${what} must be a string or a non-empty array of strings`);
  for (const item of list) if (typeof item !== 'string' || item === '') throw malformed(`${where}: every ${what} entry must be a non-empty string`);
  return list as string[];
}

/**
 * Parses and validates `text`. Throws PolicyError `policy.malformed` (AWS MalformedPolicyException)
 * with a message naming the problem.
 */
export function parsePolicyDocument(text: string): PolicyDocument {
  const chars = text.replace(/\s/g, '').length;
  if (chars === 0) throw malformed('Policy document is empty');
  if (chars > MAX_POLICY_DOCUMENT_CHARS) throw malformed(`Policy document is ${chars} characters long excluding whitespace; the limit is ${MAX_POLICY_DOCUMENT_CHARS}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw malformed(`Policy document is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(json)) throw malformed('Policy document must be a JSON object');
  for (const k of Object.keys(json)) if (!TOP_KEYS.has(k)) throw malformed(`Policy document has an unknown element '${k}' (allowed: Version, Id, Statement)`);
  const version = json.Version ?? '2008-10-17';
  if (typeof version !== 'string' || !(POLICY_VERSIONS as readonly string[]).includes(version)) {
    throw malformed(`Version must be one of ${POLICY_VERSIONS.join(', ')}, not ${JSON.stringify(json.Version)}`);
  }
  if (json.Id !== undefined && typeof json.Id !== 'string') throw malformed('Id must be a string');
  const raw = json.Statement;
  if (raw === undefined) throw malformed('Policy document has no Statement');
  const list = Array.isArray(raw) ? raw : [raw];
  const variables = version === '2012-10-17';
  let timeDependent = false;
  const statements = list.map((s, i) => {
    const st = parseStatement(s, `Statement ${i + 1}`, variables);
    if (st.conditions.some((c) => TIME_KEYS.has(c.key))) timeDependent = true;
    return st;
  });
  return { version: version as PolicyLanguageVersion, statements, timeDependent };
}

function parseStatement(s: unknown, where: string, variables: boolean): Statement {
  if (!isObject(s)) throw malformed(`${where} must be a JSON object`);
  for (const k of Object.keys(s)) {
    if (k === 'Principal' || k === 'NotPrincipal') throw malformed(`${where}: AWS IoT policies do not take a ${k}; attach the policy to its targets instead`);
    if (!STATEMENT_KEYS.has(k)) throw malformed(`${where} has an unknown element '${k}'`);
  }
  if (s.Sid !== undefined && typeof s.Sid !== 'string') throw malformed(`${where}: Sid must be a string`);
  if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw malformed(`${where}: Effect must be 'Allow' or 'Deny', not ${JSON.stringify(s.Effect ?? null)}`);
  if ((s.Action === undefined) === (s.NotAction === undefined)) throw malformed(`${where} must have exactly one of Action or NotAction`);
  if ((s.Resource === undefined) === (s.NotResource === undefined)) throw malformed(`${where} must have exactly one of Resource or NotResource`);
  const notAction = s.Action === undefined;
  const actionNames = stringList(notAction ? s.NotAction : s.Action, notAction ? 'NotAction' : 'Action', where);
  for (const a of actionNames) if (!ACTION_RE.test(a)) throw malformed(`${where}: '${a}' is not an action (expected e.g. 'iot:Publish', 'iot:*' or '*')`);
  const notResource = s.Resource === undefined;
  const resources = stringList(notResource ? s.NotResource : s.Resource, notResource ? 'NotResource' : 'Resource', where).map((r) => {
    if (r !== '*' && !(r.startsWith('arn:') && r.split(':').length >= 6)) throw malformed(`${where}: resource '${r}' must be an ARN (arn:partition:service:region:account:resource) or '*'`);
    const t = parseTemplate(r, variables);
    if (typeof t === 'string') throw malformed(`${where}: ${t}`);
    return t;
  });
  return {
    sid: (s.Sid as string | undefined) ?? null,
    effect: s.Effect,
    actions: actionNames.map((a) => compileGlob(a, true)),
    notAction,
    resources,
    notResource,
    conditions: s.Condition === undefined ? [] : parseConditions(s.Condition, where, variables),
  };
}

function parseConditions(block: unknown, where: string, variables: boolean): Condition[] {
  if (!isObject(block)) throw malformed(`${where}: Condition must be a JSON object of operators`);
  const out: Condition[] = [];
  for (const [opName, entries] of Object.entries(block)) {
    const op = parseOperator(opName);
    if (op === null) throw malformed(`${where}: '${opName}' is not a condition operator`);
    if (!isObject(entries)) throw malformed(`${where}: ${opName} must map condition keys to values`);
    for (const [keyName, raw] of Object.entries(entries)) {
      if (keyName.trim() === '') throw malformed(`${where}: ${opName} has an empty condition key`);
      const list = Array.isArray(raw) ? raw : [raw];
      if (list.length === 0) throw malformed(`${where}: ${opName} ${keyName} has no values`);
      const values = list.map((v) => {
        if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
          throw malformed(`${where}: values of ${opName} ${keyName} must be strings, numbers or booleans`);
        }
        const t = parseTemplate(String(v), variables);
        if (typeof t === 'string') throw malformed(`${where}: ${t}`);
        if (t.variables.length === 0) {
          const problem = checkConditionValue(op, String(v));
          if (problem !== null) throw malformed(`${where}: ${problem}`);
        }
        return t;
      });
      out.push({ op, keyName, key: normalizeKey(keyName), values });
    }
  }
  return out;
}
