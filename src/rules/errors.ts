/**
 * The rules engine's error catalog (STYLE.md #7): a dotted code and an HTTP status; the HTTP
 * adapter maps codes to AWS error types in one table (http.ts).
 */
export const RULES_ERROR_STATUS = {
  'rules.not_found': 404,
  'rules.already_exists': 409,
  'rules.invalid_request': 400,
  'rules.sql_parse': 400,
  /** AWS answers GetTopicRule & co. for an unknown rule with UnauthorizedException (401). */
  'rules.unauthorized': 401,
  'rules.conflict': 409,
} as const;

export type RulesErrorCode = keyof typeof RULES_ERROR_STATUS;

export class RulesError extends Error {
  override readonly name = 'RulesError';
  readonly status: number;
  constructor(
    readonly code: RulesErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = RULES_ERROR_STATUS[code];
  }
}

export const rulesErrors = {
  invalid: (msg: string) => new RulesError('rules.invalid_request', msg),
  /** AWS does not say "not found" for topic rules: Get/Replace/Delete/Enable/Disable of an unknown rule is 401. */
  noSuchRule: (name: string) => new RulesError('rules.unauthorized', `Rule ${name} does not exist`),
  alreadyExists: (name: string) => new RulesError('rules.already_exists', `Rule ${name} already exists`),
  sql: (msg: string, cause: unknown) => new RulesError('rules.sql_parse', msg, { cause }),
  destinationNotFound: (arn: string) => new RulesError('rules.invalid_request', `Topic rule destination ${arn} does not exist`),
};
