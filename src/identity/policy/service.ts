/**
 * Policy management (what the AWS API, the CLI and other capabilities call): policies, versions
 * and attachments, written to the store and mirrored in an in-memory index so that deciding never
 * touches storage. Every change is announced on the bus (`policy.changed`,
 * `policy.attachment.changed`), which bumps the engine's generation.
 *
 * AWS rules enforced here (AWS IoT API reference unless noted):
 *  - CreatePolicy "creates a policy version with a version identifier of 1 and sets 1 as the
 *    policy's default version";
 *  - at most 5 versions: CreatePolicyVersion "...you must use DeletePolicyVersion to delete an
 *    existing version before you create a new one" -> VersionsLimitExceededException;
 *  - DeletePolicy: "A policy cannot be deleted if it has non-default versions or it is attached to
 *    any certificate" (nor a thing group) -> DeleteConflictException;
 *  - DeletePolicyVersion: "You cannot delete the default version of a policy using this action";
 *  - 10 policies per target (AWS IoT Core quotas: policies attached to a certificate) -> LimitExceededException.
 */
import { randomBytes } from 'node:crypto';
import { arn, type EventBus } from '../../core/index.js';
import { parsePolicyDocument, type PolicyDocument } from './document.js';
import { PolicyError } from './errors.js';
import type { NamedPolicy } from './evaluate.js';
import type { PolicyStore, PolicyTag, StoredPolicy, StoredVersion } from './store.js';
import { parseTarget, type Target, type TargetKind, thingGroupTarget } from './targets.js';

export const MAX_POLICY_VERSIONS = 5;
export const MAX_POLICIES_PER_TARGET = 10;

export interface PolicyServiceDeps {
  store: PolicyStore;
  bus: EventBus;
  region: string;
  accountId: string;
  now: () => number;
  /** Does certificate `id` exist? (AttachPolicy to an unknown certificate is ResourceNotFoundException.) */
  certificateExists: (id: string) => boolean;
  /** Parent chain of a thing group (nearest first), or null when it does not exist; undefined when unknown. */
  thingGroupAncestors: (name: string) => string[] | null | undefined;
  onCorruptPolicy: (name: string, err: unknown) => void;
}

export type PolicyService = ReturnType<typeof createPolicyService>;

const notFound = (what: string): PolicyError => new PolicyError('policy.not_found', what);
const newGenerationId = (): string => randomBytes(32).toString('hex');

/** Parses a `policyVersionId` path member (pattern [0-9]+, validated by the router). */
function versionNumber(id: string): number {
  const n = Number(id);
  if (!Number.isSafeInteger(n) || n < 1) throw new PolicyError('policy.invalid_request', `Invalid policyVersionId '${id}'`);
  return n;
}

export function createPolicyService(deps: PolicyServiceDeps) {
  const { store, bus, region, accountId, now } = deps;
  const policyArn = (name: string): string => arn(region, accountId, `policy/${name}`);
  /** Default versions, compiled; policy names by target. */
  const policies = new Map<string, NamedPolicy>();
  const byTarget = new Map<string, string[]>();

  const indexPolicy = (name: string, text: string): void => {
    policies.set(name, { name, arn: policyArn(name), document: parsePolicyDocument(text) });
  };
  for (const p of store.listPolicies()) {
    try {
      indexPolicy(p.name, store.getVersion(p.name, p.defaultVersionId)!.document);
    } catch (err) {
      deps.onCorruptPolicy(p.name, err); // stays out of the index: grants nothing
    }
  }
  for (const a of store.attachments()) byTarget.set(a.target, [...(byTarget.get(a.target) ?? []), a.policyName]);

  const mustGet = (name: string): StoredPolicy => {
    const p = store.getPolicy(name);
    if (p === null) throw notFound(`Policy ${name} does not exist`);
    return p;
  };
  const mustGetVersion = (name: string, versionId: string): StoredVersion => {
    const v = store.getVersion(name, versionNumber(versionId));
    if (v === null) throw notFound(`Version ${versionId} of policy ${name} does not exist`);
    return v;
  };
  const changed = (policyName: string): void => bus.emit('policy.changed', { policyName });
  const target = (text: string, kinds: readonly TargetKind[], field: string): Target => parseTarget(text, kinds, region, accountId, field);

  return {
    policyArn,
    /** Parses a target/principal string (see targets.ts) into its canonical form. */
    parseTarget: target,
    /** The compiled default version of `name`, or undefined. */
    namedPolicy: (name: string): NamedPolicy | undefined => policies.get(name),
    /** Names of the policies attached to a stored target key. */
    policiesForTarget: (key: string): readonly string[] => byTarget.get(key) ?? [],

    createPolicy(name: string, document: string, tags: PolicyTag[] = []): { policy: StoredPolicy; document: string } {
      if (store.getPolicy(name) !== null) {
        throw new PolicyError('policy.already_exists', `Policy ${name} already exists`, { fields: { resourceId: name, resourceArn: policyArn(name) } });
      }
      const compiled = parsePolicyDocument(document);
      store.insertPolicy({ name, document, generationId: newGenerationId(), tags, now: now() });
      policies.set(name, { name, arn: policyArn(name), document: compiled });
      changed(name);
      return { policy: mustGet(name), document };
    },

    getPolicy(name: string): { policy: StoredPolicy; document: string } {
      const policy = mustGet(name);
      return { policy, document: store.getVersion(name, policy.defaultVersionId)!.document };
    },

    deletePolicy(name: string): void {
      mustGet(name);
      const targets = store.targetsOf(name);
      if (targets.length > 0) throw new PolicyError('policy.delete_conflict', `Policy ${name} is attached to ${targets.length} target(s); detach it first`);
      if (store.listVersions(name).length > 1) throw new PolicyError('policy.delete_conflict', `Policy ${name} has non-default versions; delete them first`);
      store.deletePolicy(name);
      policies.delete(name);
      changed(name);
    },

    /** Every policy in creation order (reversed when `ascending` is false). */
    listPolicies(ascending?: boolean): StoredPolicy[] {
      const all = store.listPolicies();
      return ascending === false ? all.reverse() : all;
    },

    createPolicyVersion(name: string, document: string, setAsDefault: boolean): { policy: StoredPolicy; versionId: number; isDefault: boolean } {
      mustGet(name);
      const compiled: PolicyDocument = parsePolicyDocument(document);
      if (store.listVersions(name).length >= MAX_POLICY_VERSIONS) {
        throw new PolicyError('policy.versions_limit', `Policy ${name} already has the maximum of ${MAX_POLICY_VERSIONS} versions; delete one with DeletePolicyVersion first`);
      }
      const versionId = store.insertVersion(name, document, now());
      if (setAsDefault) {
        store.setDefaultVersion(name, versionId, newGenerationId(), now());
        policies.set(name, { name, arn: policyArn(name), document: compiled });
        changed(name);
      }
      return { policy: mustGet(name), versionId, isDefault: setAsDefault };
    },

    getPolicyVersion(name: string, versionId: string): { policy: StoredPolicy; version: StoredVersion } {
      const policy = mustGet(name);
      return { policy, version: mustGetVersion(name, versionId) };
    },

    listPolicyVersions(name: string): { policy: StoredPolicy; versions: StoredVersion[] } {
      const policy = mustGet(name);
      return { policy, versions: store.listVersions(name) };
    },

    deletePolicyVersion(name: string, versionId: string): void {
      const policy = mustGet(name);
      const v = mustGetVersion(name, versionId);
      if (v.versionId === policy.defaultVersionId) {
        throw new PolicyError('policy.delete_conflict', `Version ${versionId} is the default version of policy ${name}; set another default first, or delete the policy`);
      }
      store.deleteVersion(name, v.versionId);
    },

    setDefaultPolicyVersion(name: string, versionId: string): void {
      mustGet(name);
      const v = mustGetVersion(name, versionId);
      const compiled = parsePolicyDocument(v.document);
      store.setDefaultVersion(name, v.versionId, newGenerationId(), now());
      policies.set(name, { name, arn: policyArn(name), document: compiled });
      changed(name);
    },

    /** Attaches `name` to `targetText` (one of `kinds`; `field` names the input member in errors). */
    attachPolicy(name: string, targetText: string, kinds: readonly TargetKind[], field: string): void {
      mustGet(name);
      const t = target(targetText, kinds, field);
      if (t.kind === 'cert' && !deps.certificateExists(t.id)) throw notFound(`Certificate ${t.id} does not exist`);
      if (t.kind === 'thinggroup' && deps.thingGroupAncestors(t.id) === null) throw notFound(`Thing group ${t.id} does not exist`);
      const current = byTarget.get(t.key) ?? [];
      if (current.includes(name)) return;
      if (current.length >= MAX_POLICIES_PER_TARGET) {
        throw new PolicyError('policy.limit_exceeded', `${targetText} already has the maximum of ${MAX_POLICIES_PER_TARGET} policies attached`);
      }
      store.attach(name, t.key, now());
      byTarget.set(t.key, [...current, name]);
      bus.emit('policy.attachment.changed', { policyName: name, target: t.key });
    },

    /** Detaches; a no-op when it was not attached (AWS DetachPolicy declares no ResourceNotFoundException). */
    detachPolicy(name: string, targetText: string, kinds: readonly TargetKind[], field: string): void {
      const t = target(targetText, kinds, field);
      if (!store.detach(name, t.key)) return;
      const rest = (byTarget.get(t.key) ?? []).filter((n) => n !== name);
      if (rest.length > 0) byTarget.set(t.key, rest);
      else byTarget.delete(t.key);
      bus.emit('policy.attachment.changed', { policyName: name, target: t.key });
    },

    /** Detaches every policy from a stored target key (e.g. when its thing group is deleted). */
    detachAllFromTarget(key: string): void {
      for (const name of [...(byTarget.get(key) ?? [])]) {
        store.detach(name, key);
        bus.emit('policy.attachment.changed', { policyName: name, target: key });
      }
      byTarget.delete(key);
    },

    /**
     * Policies attached to a target; with `recursive` and a thing group, also those of its
     * ancestors (a thing in the group inherits them).
     */
    listAttachedPolicies(targetText: string, recursive: boolean, kinds: readonly TargetKind[], field: string): string[] {
      const t = target(targetText, kinds, field);
      const keys = [t.key];
      if (recursive && t.kind === 'thinggroup') for (const g of deps.thingGroupAncestors(t.id) ?? []) keys.push(thingGroupTarget(region, accountId, g));
      return [...new Set(keys.flatMap((k) => byTarget.get(k) ?? []))];
    },

    listTargetsForPolicy(name: string): string[] {
      mustGet(name);
      return store.targetsOf(name);
    },
  };
}
