/**
 * The policy engine: decides (subject, action, resource) from the policies that apply to the
 * subject, and serves the policy operations of the AWS IoT API.
 *
 * Which policies apply (developerguide/iot-policies.html): those attached to the connection's
 * principal (certificate or Cognito identity), those attached to the thing groups of its thing and
 * their ancestors ("The policies attached to a thing group apply to any thing within that group.
 * For the policy to take effect, the clientId and the thing name must match"), and for custom
 * authorizers the documents the authorizer returned (AuthzSubject.extraPolicies).
 *
 * Decisions are memoised per subject object and generation; the generation bumps on every event
 * that can change a decision (policy, version, attachment, thing, group membership, principal-thing
 * binding, certificate status), so a change takes effect on the next check. AWS itself caches for
 * "6 to 8 minutes" (iot-policies.html); Thingport applies changes at once.
 */
import type { BusEventName, EventBus, SqliteDatabase } from '../../core/index.js';
import type { AwsHandlers, IotOperations } from '../../http/index.js';
import type { Logger } from '../../lib/index.js';
import { createEvalContext, type AuthzSubject, type CertificateFacts, type ThingFacts } from './context.js';
import { bindPolicies, decide, explain, type Binding, type Explanation, type NamedPolicy } from './evaluate.js';
import { createPolicyHandlers } from './http.js';
import { createInspector } from './inspect.js';
import { createPolicyService, type PolicyService } from './service.js';
import { createSqlitePolicyStore } from './store-sqlite.js';
import type { PolicyStore } from './store.js';
import { principalTargetKey, thingGroupTarget } from './targets.js';

/** What the engine needs from the thing registry (RegistryService fits). */
export interface PolicyRegistry {
  getThing(name: string): ThingFacts | null;
  /** The thing's groups, ancestors included. */
  listGroupsForThingSync(name: string): string[];
  /**
   * A thing group with its ancestors, or null when it does not exist (RegistryService.getThingGroup).
   * Optional: without it AttachPolicy cannot check that a group exists, ListAttachedPolicies
   * `recursive` does not reach parent groups, and deleted groups keep their attachments.
   */
  getThingGroup?(groupName: string): { rootToParentThingGroups: ReadonlyArray<{ groupName: string }> } | null;
}

export interface PolicyEngineDeps {
  db: SqliteDatabase;
  bus: EventBus;
  region: string;
  accountId: string;
  registry: PolicyRegistry;
  /** Facts of a certificate by id (null when it is not a known certificate). */
  certificateFacts: (principal: string) => CertificateFacts | null;
  /** Things attached to a certificate (for TestAuthorization's thing variables). Optional. */
  principalThings?: (certificateId: string) => string[];
  logger: Logger;
  now?: () => number;
  /** Another PolicyStore implementation (default: SQLite tables `policy_*` in `db`). */
  store?: PolicyStore;
}

export interface PolicyEngine {
  /** May `subject` do `action` (e.g. `iot:Publish`) on `resource` (a full ARN)? Never throws; errors deny. */
  authorize(subject: AuthzSubject, action: string, resource: string): boolean;
  /** Bumps on every change that can alter a decision; caches keyed on it stay valid while it is unchanged. */
  readonly generation: number;
  /** False when the subject's policies read the clock (aws:CurrentTime): then decisions must not be cached. */
  decisionsCacheable(subject: AuthzSubject): boolean;
  /** The decision with the policies that made it and the missing context values. */
  explain(subject: AuthzSubject, action: string, resource: string): Explanation & { policies: readonly NamedPolicy[] };
  /** Handlers of the policy operations for createAwsRestRouter. */
  readonly iotHandlers: AwsHandlers<IotOperations>;
  /** Policy management for other callers (CLI, certificate and registry capabilities). */
  readonly service: PolicyService;
  /** Names of the policies attached to a principal (certificate id or Cognito id): DeleteCertificate refuses while there are any. */
  policiesOfPrincipal(principal: string): readonly string[];
  /** Detaches every policy from a thing group (call when the group is deleted). */
  detachAllFromThingGroup(groupName: string): void;
  /** Stops listening to the bus. */
  close(): void;
}

const INVALIDATING_EVENTS: readonly BusEventName[] = [
  'policy.changed', 'policy.attachment.changed', 'thing.created', 'thing.updated', 'thing.deleted',
  'thinggroup.membership.changed', 'thinggroup.changed', 'principal.thing.changed', 'certificate.status.changed',
];
const MAX_MEMO_ENTRIES = 4096;

interface SubjectState {
  generation: number;
  binding: Binding;
  decisions: Map<string, boolean>;
}

/** Creates the engine over `deps.db` (tables `policy_*`), loading every stored policy. */
export function createPolicyEngine(deps: PolicyEngineDeps): PolicyEngine {
  const { region, accountId, registry } = deps;
  const now = deps.now ?? Date.now;
  const log = deps.logger.child({ component: 'policy' });
  const store = deps.store ?? createSqlitePolicyStore(deps.db);
  /** Parent chain of a group, nearest first; null when it does not exist; undefined when the registry cannot tell. */
  const ancestors = (name: string): string[] | null | undefined => {
    if (registry.getThingGroup === undefined) return undefined;
    const g = registry.getThingGroup(name);
    return g === null ? null : g.rootToParentThingGroups.map((r) => r.groupName).reverse();
  };
  const service = createPolicyService({
    store,
    bus: deps.bus,
    region,
    accountId,
    now,
    certificateExists: (id) => deps.certificateFacts(id) !== null,
    thingGroupAncestors: ancestors,
    onCorruptPolicy: (name, err) => log.error({ err, policyName: name }, 'stored policy does not parse; it grants nothing until replaced'),
  });

  let generation = 0;
  const unsubscribe = INVALIDATING_EVENTS.map((e) => deps.bus.on(e, () => void generation++));
  // A deleted thing group takes its policy attachments with it (a group created later under the
  // same name, hence the same ARN, starts without policies).
  unsubscribe.push(
    deps.bus.on('thinggroup.changed', ({ groupName }) => {
      const key = thingGroupTarget(region, accountId, groupName);
      if (service.policiesForTarget(key).length > 0 && ancestors(groupName) === null) service.detachAllFromTarget(key);
    }),
  );

  const contextFor = (subject: AuthzSubject) =>
    createEvalContext(subject, {
      thing: () => (subject.thingName === null ? null : registry.getThing(subject.thingName)),
      certificate: () => (subject.principal === null ? null : deps.certificateFacts(subject.principal)),
      now,
    });

  const policiesOf = (subject: AuthzSubject): NamedPolicy[] => {
    const names: string[] = [];
    if (subject.principal !== null && subject.principal !== '') names.push(...service.policiesForTarget(principalTargetKey(subject.principal, region, accountId)));
    if (subject.thingName !== null && subject.thingName === subject.clientId) {
      for (const g of registry.listGroupsForThingSync(subject.thingName)) names.push(...service.policiesForTarget(thingGroupTarget(region, accountId, g)));
    }
    const out = [...new Set(names)].map((n) => service.namedPolicy(n)).filter((p): p is NamedPolicy => p !== undefined);
    subject.extraPolicies?.forEach((document, i) => out.push({ name: `authorizer-policy-${i + 1}`, arn: '', document }));
    return out;
  };

  const states = new WeakMap<AuthzSubject, SubjectState>();
  const stateOf = (subject: AuthzSubject): SubjectState => {
    let st = states.get(subject);
    if (st === undefined || st.generation !== generation) {
      st = { generation, binding: bindPolicies(policiesOf(subject), contextFor(subject)), decisions: new Map() };
      states.set(subject, st);
    }
    return st;
  };

  const inspector = createInspector({
    service,
    region,
    accountId,
    thingExists: (name) => registry.getThing(name) !== null,
    groupsForThing: (name) => registry.listGroupsForThingSync(name),
    thingGroupAncestors: ancestors,
    principalThings: deps.principalThings,
    contextFor,
  });

  return {
    authorize(subject, action, resource) {
      try {
        const st = stateOf(subject);
        if (st.binding.timeDependent) return decide(st.binding, action.toLowerCase(), resource);
        const key = `${action} ${resource}`;
        let d = st.decisions.get(key);
        if (d === undefined) {
          d = decide(st.binding, action.toLowerCase(), resource);
          if (st.decisions.size >= MAX_MEMO_ENTRIES) st.decisions.clear();
          st.decisions.set(key, d);
        }
        return d;
      } catch (err) {
        log.error({ err, clientId: subject.clientId, action, resource }, 'policy evaluation failed; denying');
        return false;
      }
    },
    get generation() {
      return generation;
    },
    decisionsCacheable: (subject) => {
      try {
        return !stateOf(subject).binding.timeDependent;
      } catch {
        return false;
      }
    },
    explain(subject, action, resource) {
      const { binding } = stateOf(subject);
      return { ...explain(binding, action, resource), policies: binding.policies };
    },
    iotHandlers: createPolicyHandlers(service, inspector),
    service,
    policiesOfPrincipal: (principal) => service.policiesForTarget(principalTargetKey(principal, region, accountId)),
    detachAllFromThingGroup: (groupName) => service.detachAllFromTarget(thingGroupTarget(region, accountId, groupName)),
    close: () => unsubscribe.forEach((u) => u()),
  };
}
