/**
 * The shadow error catalog (STYLE.md #7): a dotted code, the HTTP status AWS uses, and AWS's own
 * message text. MQTT requests get these on `…/rejected` as `{"code":status,"message":text,…}`;
 * the HTTP data plane maps the code to an AWS error type (http.ts, one table).
 *
 * Texts: AWS IoT developer guide, "Device Shadow error messages"
 * (device-shadow-error-messages.html) — including its spelling "Unsupported documented encoding".
 */

export const SHADOW_ERRORS = {
  'shadow.invalid_json': { status: 400, message: 'Invalid JSON' },
  'shadow.missing_state': { status: 400, message: 'Missing required node: state' },
  'shadow.state_not_object': { status: 400, message: 'State node must be an object' },
  'shadow.desired_not_object': { status: 400, message: 'Desired node must be an object' },
  'shadow.reported_not_object': { status: 400, message: 'Reported node must be an object' },
  'shadow.invalid_version': { status: 400, message: 'Invalid version' },
  'shadow.invalid_client_token': { status: 400, message: 'Invalid clientToken' },
  'shadow.too_deep': { status: 400, message: 'JSON contains too many levels of nesting; maximum is 6' },
  'shadow.invalid_node': { status: 400, message: 'State contains an invalid node' },
  'shadow.unauthorized': { status: 401, message: 'Unauthorized' },
  'shadow.forbidden': { status: 403, message: 'Forbidden' },
  'shadow.thing_not_found': { status: 404, message: 'Thing not found' },
  'shadow.not_found': { status: 404, message: 'No shadow exists with name: ' },
  'shadow.version_conflict': { status: 409, message: 'Version conflict' },
  'shadow.too_large': { status: 413, message: 'The payload exceeds the maximum size allowed' },
  'shadow.unsupported_encoding': { status: 415, message: 'Unsupported documented encoding; supported encoding is UTF-8' },
  'shadow.too_many_requests': { status: 429, message: 'Too Many Requests' },
  'shadow.internal': { status: 500, message: 'Internal service failure' },
} as const;

export type ShadowErrorCode = keyof typeof SHADOW_ERRORS;

export class ShadowError extends Error {
  override readonly name = 'ShadowError';
  readonly status: number;

  constructor(
    readonly code: ShadowErrorCode,
    message?: string,
    /** The request's clientToken, echoed on `…/rejected` when it was readable. */
    readonly clientToken?: string,
    options?: { cause?: unknown },
  ) {
    super(message ?? SHADOW_ERRORS[code].message, options);
    this.status = SHADOW_ERRORS[code].status;
  }
}

/**
 * 404 for a missing shadow. AWS quotes the name: `No shadow exists with name: 'lamp-1'` (the
 * thing name for the classic shadow), as seen in AWS's own device SDK sample output.
 */
export function shadowNotFound(thingName: string, shadowName: string | null, clientToken?: string): ShadowError {
  return new ShadowError('shadow.not_found', `${SHADOW_ERRORS['shadow.not_found'].message}'${shadowName ?? thingName}'`, clientToken);
}
