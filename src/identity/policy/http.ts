/**
 * The AWS IoT control-plane operations on policies: translation between the service model's
 * shapes and the policy service, and PolicyError codes -> AWS error types (one table, errors.ts).
 * List operations page with `marker` / `pageSize` (PageSize 1..250; Marker is base64, pattern
 * [A-Za-z0-9+/]+={0,2}).
 */
import { AwsServiceError, type AwsHandlers, type IotOperations } from '../../http/index.js';
import { AWS_ERROR_TYPES, PolicyError } from './errors.js';
import type { createInspector } from './inspect.js';
import type { PolicyService } from './service.js';
import type { TargetKind } from './targets.js';

const DEFAULT_PAGE_SIZE = 250;
const ALL_TARGETS: readonly TargetKind[] = ['cert', 'thinggroup', 'cognito'];
const PRINCIPALS: readonly TargetKind[] = ['cert', 'cognito'];

/** One page of `items` from `marker` (opaque base64 offset). */
export function pageOf<T>(items: readonly T[], marker: string | undefined, pageSize: number | undefined): { items: T[]; nextMarker?: string } {
  let start = 0;
  if (marker !== undefined && marker !== '') {
    let o: unknown;
    try {
      o = (JSON.parse(Buffer.from(marker, 'base64').toString('utf8')) as { o?: unknown }).o;
    } catch {
      o = undefined;
    }
    if (typeof o !== 'number' || !Number.isSafeInteger(o) || o < 0) throw new PolicyError('policy.invalid_request', `Invalid marker '${marker.slice(0, 64)}': it was not issued by this server`);
    start = o;
  }
  const end = Math.min(items.length, start + (pageSize ?? DEFAULT_PAGE_SIZE));
  const out: { items: T[]; nextMarker?: string } = { items: items.slice(start, end) };
  if (end < items.length) out.nextMarker = Buffer.from(JSON.stringify({ o: end })).toString('base64');
  return out;
}

function toAwsError(err: unknown): unknown {
  if (!(err instanceof PolicyError)) return err;
  return new AwsServiceError(AWS_ERROR_TYPES[err.code], err.message, undefined, { cause: err, fields: err.fields });
}

/** Wraps every handler so that PolicyErrors reach the client as their AWS error types. */
function mapErrors<H extends Record<string, ((...args: never[]) => unknown) | undefined>>(handlers: H): H {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(handlers)) {
    out[name] = (...args: never[]) => {
      try {
        return fn!(...args);
      } catch (err) {
        throw toAwsError(err);
      }
    };
  }
  return out as H;
}

export function createPolicyHandlers(service: PolicyService, inspector: ReturnType<typeof createInspector>): AwsHandlers<IotOperations> {
  const ref = (name: string) => ({ policyName: name, policyArn: service.policyArn(name) });
  const handlers: AwsHandlers<IotOperations> = {
    CreatePolicy: ({ policyName, policyDocument, tags }) => {
      const r = service.createPolicy(policyName, policyDocument, tags ?? []);
      return { ...ref(policyName), policyDocument: r.document, policyVersionId: String(r.policy.defaultVersionId) };
    },
    GetPolicy: ({ policyName }) => {
      const { policy, document } = service.getPolicy(policyName);
      return {
        ...ref(policyName),
        policyDocument: document,
        defaultVersionId: String(policy.defaultVersionId),
        creationDate: new Date(policy.createdAt),
        lastModifiedDate: new Date(policy.updatedAt),
        generationId: policy.generationId,
      };
    },
    DeletePolicy: ({ policyName }) => (service.deletePolicy(policyName), {}),
    ListPolicies: ({ marker, pageSize, ascendingOrder }) => {
      const page = pageOf(service.listPolicies(ascendingOrder), marker, pageSize);
      return { policies: page.items.map((p) => ref(p.name)), nextMarker: page.nextMarker };
    },
    CreatePolicyVersion: ({ policyName, policyDocument, setAsDefault }) => {
      const r = service.createPolicyVersion(policyName, policyDocument, setAsDefault === true);
      return { policyArn: service.policyArn(policyName), policyDocument, policyVersionId: String(r.versionId), isDefaultVersion: r.isDefault };
    },
    GetPolicyVersion: ({ policyName, policyVersionId }) => {
      const { policy, version } = service.getPolicyVersion(policyName, policyVersionId);
      return {
        ...ref(policyName),
        policyDocument: version.document,
        policyVersionId: String(version.versionId),
        isDefaultVersion: version.versionId === policy.defaultVersionId,
        creationDate: new Date(version.createdAt),
        lastModifiedDate: new Date(version.createdAt),
        generationId: policy.generationId,
      };
    },
    ListPolicyVersions: ({ policyName }) => {
      const { policy, versions } = service.listPolicyVersions(policyName);
      return {
        policyVersions: versions.map((v) => ({ versionId: String(v.versionId), isDefaultVersion: v.versionId === policy.defaultVersionId, createDate: new Date(v.createdAt) })),
      };
    },
    DeletePolicyVersion: ({ policyName, policyVersionId }) => (service.deletePolicyVersion(policyName, policyVersionId), {}),
    SetDefaultPolicyVersion: ({ policyName, policyVersionId }) => (service.setDefaultPolicyVersion(policyName, policyVersionId), {}),
    AttachPolicy: ({ policyName, target }) => (service.attachPolicy(policyName, target, ALL_TARGETS, 'target'), {}),
    DetachPolicy: ({ policyName, target }) => (service.detachPolicy(policyName, target, ALL_TARGETS, 'target'), {}),
    ListAttachedPolicies: ({ target, recursive, marker, pageSize }) => {
      const page = pageOf(service.listAttachedPolicies(target, recursive === true, ALL_TARGETS, 'target'), marker, pageSize);
      return { policies: page.items.map(ref), nextMarker: page.nextMarker };
    },
    ListTargetsForPolicy: ({ policyName, marker, pageSize }) => {
      const page = pageOf(service.listTargetsForPolicy(policyName), marker, pageSize);
      return { targets: page.items, nextMarker: page.nextMarker };
    },
    // The deprecated principal-policy family: certificates and Cognito identities only.
    AttachPrincipalPolicy: ({ policyName, principal }) => (service.attachPolicy(policyName, principal, PRINCIPALS, 'principal'), {}),
    DetachPrincipalPolicy: ({ policyName, principal }) => {
      service.getPolicy(policyName);
      service.detachPolicy(policyName, principal, PRINCIPALS, 'principal');
      return {};
    },
    ListPrincipalPolicies: ({ principal, marker, pageSize, ascendingOrder }) => {
      const names = service.listAttachedPolicies(principal, false, PRINCIPALS, 'principal');
      const page = pageOf(ascendingOrder === false ? names.reverse() : names, marker, pageSize);
      return { policies: page.items.map(ref), nextMarker: page.nextMarker };
    },
    ListPolicyPrincipals: ({ policyName, marker, pageSize, ascendingOrder }) => {
      const principals = service.listTargetsForPolicy(policyName).filter((t) => !t.includes(':thinggroup/'));
      const page = pageOf(ascendingOrder === false ? principals.reverse() : principals, marker, pageSize);
      return { principals: page.items, nextMarker: page.nextMarker };
    },
    GetEffectivePolicies: ({ principal, thingName }) => ({
      effectivePolicies: inspector.effectivePolicies(principal, thingName).map((p) => ({ policyName: p.name, policyArn: p.arn, policyDocument: p.text })),
    }),
    TestAuthorization: (input) => ({ authResults: inspector.testAuthorization(input) }),
  };
  return mapErrors(handlers as Record<string, ((...args: never[]) => unknown) | undefined>) as AwsHandlers<IotOperations>;
}
