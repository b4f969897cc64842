/**
 * The registry's error catalog (STYLE.md #7): one error class with a dotted code and an HTTP
 * status; messages name the resource or the field. The HTTP adapter maps codes to AWS error
 * types in one table (http.ts), other adapters (CLI, MQTT) to their own.
 */

export const REGISTRY_ERROR_STATUS = {
  'registry.not_found': 404,
  'registry.already_exists': 409,
  'registry.invalid_request': 400,
  'registry.version_conflict': 409,
} as const;

export type RegistryErrorCode = keyof typeof REGISTRY_ERROR_STATUS;

/** A registry resource kind, as it appears in messages. */
export type ResourceKind = 'Thing' | 'Thing type' | 'Thing group' | 'Billing group';

export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  readonly status: number;

  constructor(
    readonly code: RegistryErrorCode,
    message: string,
    /** Extra fields adapters may pass on (AWS puts `resourceId`/`resourceArn` on ResourceAlreadyExists). */
    readonly details?: Record<string, string>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = REGISTRY_ERROR_STATUS[code];
  }
}

/** Constructors for every error the registry raises, so messages stay uniform. */
export const registryErrors = {
  notFound: (kind: ResourceKind, name: string) => new RegistryError('registry.not_found', `${kind} ${name} does not exist`),
  alreadyExists: (kind: ResourceKind, name: string, id: string, arn: string) =>
    new RegistryError('registry.already_exists', `${kind} ${name} already exists with a different configuration`, { resourceId: id, resourceArn: arn }),
  /** A bad input value; `field` is the request member at fault, e.g. `attributePayload.attributes`. */
  invalid: (field: string, message: string) => new RegistryError('registry.invalid_request', `${field}: ${message}`),
  /** A request that is well formed but not allowed in the current state. */
  refused: (message: string) => new RegistryError('registry.invalid_request', message),
  versionConflict: (kind: ResourceKind, name: string, expected: number, actual: number) =>
    new RegistryError('registry.version_conflict', `The version for ${kind.toLowerCase()} ${name} does not match the expected version (expected ${expected}, current ${actual})`),
} as const;
