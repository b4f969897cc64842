/**
 * The identity error catalog (STYLE.md #7): services throw `IdentityError` with a dotted code; the
 * HTTP adapter maps each code to the AWS error type in one table (`AWS_ERROR_TYPES`), statuses come
 * from the IoT service model.
 */

export const IDENTITY_ERRORS = {
  'request.invalid': 'InvalidRequestException',
  'certificate.not_found': 'ResourceNotFoundException',
  'certificate.already_exists': 'ResourceAlreadyExistsException',
  /** Not parseable, not signed by the CA it claims, expired, not a CA where one is needed... */
  'certificate.invalid': 'CertificateValidationException',
  /** The operation is not allowed in the certificate's (or its CA's) current status. */
  'certificate.state': 'CertificateStateException',
  /** More than one registered CA could have signed it (same subject and key). */
  'certificate.conflict': 'CertificateConflictException',
  /** Still attached to things or policies. */
  'certificate.delete_conflict': 'DeleteConflictException',
  'registration_code.invalid': 'RegistrationCodeValidationException',
  'thing.not_found': 'ResourceNotFoundException',
  'principal.not_found': 'ResourceNotFoundException',
  'endpoint.unavailable': 'InvalidRequestException',
  'limit.exceeded': 'LimitExceededException',
  'authorizer.not_found': 'ResourceNotFoundException',
  'authorizer.already_exists': 'ResourceAlreadyExistsException',
  /** ACTIVE, or the default authorizer. */
  'authorizer.delete_conflict': 'DeleteConflictException',
  /** Signing is enabled and the token or its signature is missing or does not verify. */
  'authorizer.signature_invalid': 'InvalidRequestException',
  /** No function is configured for the authorizer's authorizerFunctionArn. */
  'authorizer.function_unavailable': 'InvalidRequestException',
  /** The function threw, timed out, or its endpoint failed. */
  'authorizer.function_failed': 'InvalidResponseException',
  /** The function answered something that is not a valid authorizer response. */
  'authorizer.invalid_response': 'InvalidResponseException',
} as const;

export type IdentityErrorCode = keyof typeof IDENTITY_ERRORS;

/** An identity service error: a catalog code, a message for the caller, optional extra response fields. */
export class IdentityError extends Error {
  override readonly name = 'IdentityError';
  /** Extra top-level fields of the AWS error body (e.g. `resourceId`, `resourceArn`). */
  readonly fields: Record<string, unknown> | undefined;

  constructor(
    readonly code: IdentityErrorCode,
    message: string,
    options?: { cause?: unknown; fields?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.fields = options?.fields;
  }
}
