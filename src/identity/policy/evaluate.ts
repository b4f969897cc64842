/**
 * Policy evaluation as AWS IoT does it — IAM's logic (developerguide/iot-policies.html: "By
 * default, all policies are implicitly denied. An explicit allow ... overrides the default
 * behavior. An explicit deny in any policy overrides any allows").
 *
 * A subject's policies are first *bound* to its context: variables substituted, resource patterns
 * compiled, and every condition that does not read the clock decided once. Deciding an
 * (action, resource) pair is then pattern matching only.
 *
 * Unresolvable variables (a thing variable without a thing, a certificate attribute that is absent
 * or holds wildcard characters): AWS leaves the `${...}` text in place, "which might cause
 * authorization failure" (cert-policy-variables.html), and "If the device certificate is not
 * associated with the thing, this variable won't be resolved and will result in an access denied
 * error" (thing-policy-examples.html). Thingport makes that exact and fails closed:
 *  - a Resource entry with an unresolved variable matches nothing;
 *  - in an Allow statement, an unresolved variable in NotResource or in a condition value makes the
 *    statement not apply (it can never widen access);
 *  - in a Deny statement, such a NotResource entry excludes nothing, and such a condition value
 *    equals nothing (so `StringNotEquals` guards still deny).
 */
import { evaluateCondition, type Condition, type ConditionContext } from './conditions.js';
import { TIME_KEYS, type PolicyDocument, type Statement } from './document.js';
import { globMatches, resolveTemplateGlob, resolveTemplateText, type Glob } from './pattern.js';

/** A policy as evaluated: its name and ARN (empty for a custom authorizer's document) and compiled default version. */
export interface NamedPolicy {
  readonly name: string;
  readonly arn: string;
  readonly document: PolicyDocument;
}

interface BoundStatement {
  readonly statement: Statement;
  readonly policy: number;
  /** False when the statement can never apply to this subject. */
  readonly applicable: boolean;
  readonly resources: readonly Glob[];
  /** Conditions on the clock, decided per call; null when none. */
  readonly timeConditions: readonly Condition[] | null;
  /** Absent keys and unresolved variables met while binding. */
  readonly missing: readonly string[];
}

/** A subject's policies bound to its context. */
export interface Binding {
  readonly policies: readonly NamedPolicy[];
  readonly statements: readonly BoundStatement[];
  readonly timeDependent: boolean;
  readonly ctx: ConditionContext;
}

function bindStatement(statement: Statement, policy: number, ctx: ConditionContext): BoundStatement {
  const missing: string[] = [];
  const onMissing = (n: string): void => void missing.push(n);
  const allow = statement.effect === 'Allow';
  let applicable = true;
  const resources: Glob[] = [];
  for (const t of statement.resources) {
    const g = resolveTemplateGlob(t, ctx.variable, onMissing);
    if (g !== null) resources.push(g);
    else if (allow && statement.notResource) applicable = false;
  }
  const timeConditions: Condition[] = [];
  for (const c of statement.conditions) {
    if (TIME_KEYS.has(c.key)) {
      timeConditions.push(c);
      continue;
    }
    if (allow && c.values.some((t) => resolveTemplateText(t, ctx.variable) === null)) {
      for (const t of c.values) resolveTemplateText(t, ctx.variable, onMissing);
      applicable = false;
      continue;
    }
    if (!evaluateCondition(c, ctx, onMissing)) applicable = false;
  }
  return { statement, policy, applicable, resources, timeConditions: timeConditions.length > 0 ? timeConditions : null, missing };
}

/** Binds `policies` to `ctx` (see the module comment). */
export function bindPolicies(policies: readonly NamedPolicy[], ctx: ConditionContext): Binding {
  const statements: BoundStatement[] = [];
  let timeDependent = false;
  policies.forEach((p, i) => {
    if (p.document.timeDependent) timeDependent = true;
    for (const s of p.document.statements) statements.push(bindStatement(s, i, ctx));
  });
  return { policies, statements, timeDependent, ctx };
}

/** Does the bound statement apply to (action, resource)? `action` lowercased. */
function applies(b: BoundStatement, action: string, resource: string, ctx: ConditionContext, onMissing?: (n: string) => void): boolean {
  if (!b.applicable) return false;
  const s = b.statement;
  let hit = false;
  for (const g of s.actions) if (globMatches(g, action)) { hit = true; break; }
  if (hit === s.notAction) return false;
  hit = false;
  for (const g of b.resources) if (globMatches(g, resource)) { hit = true; break; }
  if (hit === s.notResource) return false;
  if (b.timeConditions !== null) for (const c of b.timeConditions) if (!evaluateCondition(c, ctx, onMissing)) return false;
  return true;
}

/** The decision alone: true only for an explicit Allow with no explicit Deny. `action` lowercased. */
export function decide(binding: Binding, action: string, resource: string): boolean {
  let allowed = false;
  for (const b of binding.statements) {
    if (b.statement.effect === 'Allow' && allowed) continue;
    if (!applies(b, action, resource, binding.ctx)) continue;
    if (b.statement.effect === 'Deny') return false;
    allowed = true;
  }
  return allowed;
}

export type AuthDecision = 'ALLOWED' | 'EXPLICIT_DENY' | 'IMPLICIT_DENY';

/** The decision with its reasons, for TestAuthorization. */
export interface Explanation {
  decision: AuthDecision;
  /** Indexes into binding.policies of policies with an applying Allow / Deny statement. */
  allowedBy: Set<number>;
  deniedBy: Set<number>;
  /** Context keys and variables that were absent. */
  missing: Set<string>;
}

/** Like decide, evaluating every statement and recording which policies decided. */
export function explain(binding: Binding, action: string, resource: string): Explanation {
  const out: Explanation = { decision: 'IMPLICIT_DENY', allowedBy: new Set(), deniedBy: new Set(), missing: new Set() };
  const onMissing = (n: string): void => void out.missing.add(n);
  const lower = action.toLowerCase();
  for (const b of binding.statements) {
    const s = b.statement;
    let actionHit = false;
    for (const g of s.actions) if (globMatches(g, lower)) actionHit = true;
    if (actionHit !== s.notAction) for (const m of b.missing) out.missing.add(m);
    if (!applies(b, lower, resource, binding.ctx, onMissing)) continue;
    (s.effect === 'Deny' ? out.deniedBy : out.allowedBy).add(b.policy);
  }
  out.decision = out.deniedBy.size > 0 ? 'EXPLICIT_DENY' : out.allowedBy.size > 0 ? 'ALLOWED' : 'IMPLICIT_DENY';
  return out;
}
