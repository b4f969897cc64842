/**
 * AWS-style errors. Handlers throw `AwsServiceError(name, message, status?)`; the router answers
 * with the status, header `x-amzn-ErrorType: <name>` and body `{"message": ...}`.
 *
 * What the AWS SDK for JavaScript v3 reads (rest-json, @smithy/core `loadRestJsonErrorCode`):
 * the `x-amzn-errortype` header first (text after `:` is dropped), then a body `code`, then a
 * body `__type`; the message from body `message` or `Message`. A name the service model declares
 * becomes that exception class (`ResourceNotFoundException`); any other name becomes the
 * service's base exception with `name` set to it (e.g. `InvalidSignatureException`).
 */

export class AwsServiceError extends Error {
  /** The AWS error type, e.g. `ResourceNotFoundException`. */
  override readonly name: string;
  /** HTTP status; when undefined the router takes it from the service model (else 400). */
  readonly status: number | undefined;
  /** Extra top-level fields for the JSON body (e.g. `resourceId` of ResourceAlreadyExists). */
  readonly fields: Record<string, unknown> | undefined;

  constructor(name: string, message: string, status?: number, options?: { cause?: unknown; fields?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = name;
    this.status = status;
    this.fields = options?.fields;
  }
}

/** The body and headers of an AWS error response. */
export function errorPayload(name: string, message: string, fields?: Record<string, unknown>): { body: string; errorType: string } {
  // `__type` too: AWS's JSON protocols carry it, and older or other clients (botocore, v2) read it.
  return { body: JSON.stringify({ ...fields, __type: name, message }), errorType: name };
}

/**
 * The errors Thingport itself raises at the protocol edge, with AWS's names, statuses and texts
 * where AWS publishes them (see docs of each function for the source).
 */
export const protocolErrors = {
  /** Unsigned request. AWS REST endpoints: 403 MissingAuthenticationTokenException "Missing Authentication Token". */
  missingAuthentication: () => new AwsServiceError('MissingAuthenticationTokenException', 'Missing Authentication Token', 403),
  /** Malformed signature parameters. AWS common errors: IncompleteSignature, 400. */
  incompleteSignature: (message: string) => new AwsServiceError('IncompleteSignatureException', message, 400),
  /** Unknown access key id. AWS: 403 UnrecognizedClientException with this text. */
  unrecognizedClient: () => new AwsServiceError('UnrecognizedClientException', 'The security token included in the request is invalid.', 403),
  /**
   * A client certificate the service does not accept (unregistered, not ACTIVE, untrusted chain,
   * expired) on an unsigned request. AWS's data plane answers 403 ForbiddenException.
   */
  certificateNotAccepted: () => new AwsServiceError('ForbiddenException', 'Forbidden', 403),
  /** Signature mismatch, expired or not-yet-current signature, wrong scope. AWS: 403 InvalidSignatureException. */
  invalidSignature: (message: string) => new AwsServiceError('InvalidSignatureException', message, 403),
  /** No operation of any registered service has this method and path. */
  unknownOperation: (method: string, path: string) =>
    new AwsServiceError('UnknownOperationException', `No AWS operation is served at ${method} ${path}`, 404),
  /** The route exists in the AWS model but Thingport has no handler for it yet. */
  notImplemented: (serviceId: string, operation: string) =>
    new AwsServiceError('NotImplementedException', `Thingport does not implement the ${serviceId} operation ${operation} yet`, 501),
  /** A body that is not valid JSON. AWS JSON services answer SerializationException, 400. */
  serialization: (message: string) => new AwsServiceError('SerializationException', message, 400),
  /** A body over the configured limit. */
  tooLarge: (limit: number) => new AwsServiceError('RequestEntityTooLargeException', `The request body is larger than the limit of ${limit} bytes`, 413),
} as const;
