/**
 * The policy module's error catalog (STYLE.md #7): one error class with a dotted code; the HTTP
 * adapter maps each code to the AWS error type in one table (`AWS_ERROR_TYPES`).
 */

export const POLICY_ERROR_CODES = [
  'policy.malformed',
  'policy.not_found',
  'policy.already_exists',
  'policy.versions_limit',
  'policy.delete_conflict',
  'policy.invalid_request',
  'policy.limit_exceeded',
] as const;
export type PolicyErrorCode = (typeof POLICY_ERROR_CODES)[number];

/** AWS IoT error type per code (statuses come from the service model). */
export const AWS_ERROR_TYPES: Record<PolicyErrorCode, string> = {
  'policy.malformed': 'MalformedPolicyException',
  'policy.not_found': 'ResourceNotFoundException',
  'policy.already_exists': 'ResourceAlreadyExistsException',
  'policy.versions_limit': 'VersionsLimitExceededException',
  'policy.delete_conflict': 'DeleteConflictException',
  'policy.invalid_request': 'InvalidRequestException',
  'policy.limit_exceeded': 'LimitExceededException',
};

export class PolicyError extends Error {
  override readonly name = 'PolicyError';
  readonly code: PolicyErrorCode;
  /** Extra fields for the AWS error body (e.g. `resourceId`, `resourceArn`). */
  readonly fields: Record<string, unknown> | undefined;

  constructor(code: PolicyErrorCode, message: string, options?: { cause?: unknown; fields?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.fields = options?.fields;
  }
}
