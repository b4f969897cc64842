/**
 * GetEffectivePolicies and TestAuthorization: which policies apply to a principal/thing, and what
 * they decide for given actions and resources, with the policies that decided.
 *
 * TestAuthorization (API_TestAuthorization): `principal` is a certificate ARN, a thing group ARN or
 * a Cognito identity id; `clientId` fills `iot:ClientId` and names the thing when a thing attached
 * to the certificate has that name (thing-policy-variables.html: "the thing name is obtained from
 * the client ID"); `policyNamesToAdd` / `policyNamesToSkip` are "treated as if they are (not)
 * attached to the principal". Each authInfo has an actionType (PUBLISH, SUBSCRIBE, RECEIVE,
 * CONNECT) and resource ARNs; the result is ALLOWED, EXPLICIT_DENY or IMPLICIT_DENY with the
 * policies that allowed or denied and the context values that were missing.
 */
import type { ConditionContext } from './conditions.js';
import type { AuthzSubject } from './context.js';
import { PolicyError } from './errors.js';
import { bindPolicies, explain, type AuthDecision, type NamedPolicy } from './evaluate.js';
import type { PolicyService } from './service.js';
import { thingGroupTarget } from './targets.js';

export const ACTION_TYPES = { PUBLISH: 'iot:Publish', SUBSCRIBE: 'iot:Subscribe', RECEIVE: 'iot:Receive', CONNECT: 'iot:Connect' } as const;
export type ActionType = keyof typeof ACTION_TYPES;

export interface PolicyRef {
  policyName: string;
  policyArn: string;
}

export interface TestAuthorizationResult {
  authInfo: { actionType: ActionType; resources: string[] };
  allowed: { policies: PolicyRef[] };
  denied: { implicitDeny: { policies: PolicyRef[] }; explicitDeny: { policies: PolicyRef[] } };
  authDecision: AuthDecision;
  missingContextValues: string[];
}

export interface InspectDeps {
  service: PolicyService;
  region: string;
  accountId: string;
  thingExists: (name: string) => boolean;
  groupsForThing: (name: string) => string[];
  thingGroupAncestors: (name: string) => string[] | null | undefined;
  /** Things attached to a certificate, when the certificate capability can tell. */
  principalThings: ((certificateId: string) => string[]) | undefined;
  contextFor: (subject: AuthzSubject) => ConditionContext;
}

const ref = (p: NamedPolicy): PolicyRef => ({ policyName: p.name, policyArn: p.arn });

export function createInspector(deps: InspectDeps) {
  const { service, region, accountId } = deps;
  const namesOfGroups = (groups: readonly string[]): string[] => groups.flatMap((g) => [...service.policiesForTarget(thingGroupTarget(region, accountId, g))]);
  const resolve = (names: readonly string[]): NamedPolicy[] =>
    [...new Set(names)].map((n) => service.namedPolicy(n)).filter((p): p is NamedPolicy => p !== undefined);

  return {
    /** GetEffectivePolicies: the policies of `principal` and of `thingName`'s groups (ancestors included), with documents. */
    effectivePolicies(principal: string | undefined, thingName: string | undefined): Array<NamedPolicy & { text: string }> {
      const names: string[] = [];
      if (principal !== undefined && principal !== '') {
        const t = service.parseTarget(principal, ['cert', 'thinggroup', 'cognito'], 'principal');
        names.push(...service.policiesForTarget(t.key));
      }
      if (thingName !== undefined && thingName !== '') {
        if (!deps.thingExists(thingName)) throw new PolicyError('policy.not_found', `Thing ${thingName} does not exist`);
        names.push(...namesOfGroups(deps.groupsForThing(thingName)));
      }
      return resolve(names).map((p) => ({ ...p, text: service.getPolicy(p.name).document }));
    },

    testAuthorization(input: {
      principal?: string;
      clientId?: string;
      authInfos: Array<{ actionType?: string; resources: string[] }>;
      policyNamesToAdd?: string[];
      policyNamesToSkip?: string[];
    }): TestAuthorizationResult[] {
      const clientId = input.clientId ?? '';
      const names: string[] = [];
      let principalId: string | null = null;
      let thingName: string | null = null;
      if (input.principal !== undefined && input.principal !== '') {
        const t = service.parseTarget(input.principal, ['cert', 'thinggroup', 'cognito'], 'principal');
        names.push(...service.policiesForTarget(t.key));
        if (t.kind === 'thinggroup') names.push(...namesOfGroups(deps.thingGroupAncestors(t.id) ?? []));
        else principalId = t.id;
        if (t.kind === 'cert' && deps.principalThings !== undefined) {
          const things = deps.principalThings(t.id);
          thingName = things.includes(clientId) ? clientId : things.length === 1 ? things[0]! : null;
        }
      }
      // Policies of the thing's groups apply when the client id is the thing name (iot-policies.html).
      if (thingName !== null && thingName === clientId) names.push(...namesOfGroups(deps.groupsForThing(thingName)));
      for (const n of input.policyNamesToAdd ?? []) {
        if (service.namedPolicy(n) === undefined) throw new PolicyError('policy.not_found', `Policy ${n} does not exist`);
        names.push(n);
      }
      const skip = new Set(input.policyNamesToSkip ?? []);
      const policies = resolve(names.filter((n) => !skip.has(n)));
      const subject: AuthzSubject = { clientId, principal: principalId, thingName, sourceIp: '' };
      const binding = bindPolicies(policies, deps.contextFor(subject));

      return input.authInfos.map((info) => {
        const actionType = info.actionType as ActionType | undefined;
        if (actionType === undefined || !(actionType in ACTION_TYPES)) {
          throw new PolicyError('policy.invalid_request', `authInfos: actionType must be one of ${Object.keys(ACTION_TYPES).join(', ')}`);
        }
        const allowedBy = new Set<number>();
        const deniedBy = new Set<number>();
        const missing = new Set<string>();
        let allAllowed = info.resources.length > 0;
        for (const resource of info.resources) {
          const e = explain(binding, ACTION_TYPES[actionType], resource);
          e.allowedBy.forEach((i) => allowedBy.add(i));
          e.deniedBy.forEach((i) => deniedBy.add(i));
          e.missing.forEach((m) => missing.add(m));
          if (e.decision !== 'ALLOWED') allAllowed = false;
        }
        const decision: AuthDecision = deniedBy.size > 0 ? 'EXPLICIT_DENY' : allAllowed ? 'ALLOWED' : 'IMPLICIT_DENY';
        const pick = (set: Set<number>): PolicyRef[] => [...set].sort((a, b) => a - b).map((i) => ref(policies[i]!));
        return {
          authInfo: { actionType, resources: info.resources },
          allowed: { policies: pick(allowedBy) },
          denied: {
            implicitDeny: { policies: decision === 'IMPLICIT_DENY' ? policies.filter((_, i) => !allowedBy.has(i)).map(ref) : [] },
            explicitDeny: { policies: pick(deniedBy) },
          },
          authDecision: decision,
          missingContextValues: [...missing],
        };
      });
    },
  };
}
