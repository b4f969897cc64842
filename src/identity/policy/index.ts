/**
 * identity/policy: AWS IoT policies — documents, versions, attachments, evaluation, the policy
 * operations of the AWS IoT API, and the broker's authorization hooks.
 * The identity capability imports this folder as `./policy/index.js` and re-exports what
 * main.ts needs.
 */

/**
 * Creates the policy engine (tables `policy_*` in `deps.db`): `authorize()` for every decision,
 * `iotHandlers` for createAwsRestRouter, `service` for other callers.
 */
export { createPolicyEngine } from './engine.js';
export type { PolicyEngine, PolicyEngineDeps, PolicyRegistry } from './engine.js';

/**
 * The broker hooks (CONNECT, PUBLISH incl. RetainPublish, SUBSCRIBE, delivery) decided by the
 * engine, with per-connection decision caches.
 */
export { createAuthorizationHooks } from './hooks.js';
export type { AuthorizationHookOptions, AuthorizationHooks } from './hooks.js';

/** Who asks (AuthzSubject) and what the certificate and registry tell policies about them. */
export { CERTIFICATE_NAME_ATTRIBUTES, DN_ATTRIBUTE_OIDS } from './context.js';
export type { AlternativeNames, AuthzSubject, CertificateFacts, CertificateNameAttribute, ThingFacts } from './context.js';

/**
 * Validates and compiles a policy document (throws PolicyError `policy.malformed`); custom
 * authorizers pass their returned documents through this into AuthzSubject.extraPolicies.
 */
export { MAX_POLICY_DOCUMENT_CHARS, parsePolicyDocument } from './document.js';
export type { PolicyDocument } from './document.js';

/** The error class and codes of this module, and the AWS error type of each code. */
export { AWS_ERROR_TYPES, PolicyError } from './errors.js';
export type { PolicyErrorCode } from './errors.js';

export type { AuthDecision, Explanation, NamedPolicy } from './evaluate.js';
export { MAX_POLICIES_PER_TARGET, MAX_POLICY_VERSIONS } from './service.js';
export type { PolicyService } from './service.js';

/** The storage port, its SQLite implementation, and the conformance suite every implementation runs. */
export { createSqlitePolicyStore } from './store-sqlite.js';
export type { PolicyAttachment, PolicyStore, PolicyTag, StoredPolicy, StoredVersion } from './store.js';
export { certificateTarget, thingGroupTarget } from './targets.js';
