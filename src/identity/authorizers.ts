/**
 * Custom authorizers (AWS IoT developer guide, config-custom-auth.html): the authorizer resources
 * with their default, and `authorize`, the one path that both a connecting client and
 * TestInvokeAuthorizer take — find the token, verify its signature (unless signing is disabled;
 * "If verification fails, AWS IoT Core stops the request without invoking the Lambda function",
 * custom-authorizer.html), build the event, call the function, validate its answer.
 *
 * Rules from the guide and the API reference:
 *  - signing is enabled by default; then `tokenKeyName` and `tokenSigningPublicKeys` are required,
 *    and the signing requirement cannot change after creation (UpdateAuthorizer has no such field);
 *  - public keys are RSA, at least 2,048 bits;
 *  - DeleteAuthorizer refuses an ACTIVE authorizer (DeleteConflictException); Thingport also
 *    refuses to delete the default authorizer (clear it first);
 *  - the default authorizer is used "if a device doesn't pass AWS IoT Core credentials and
 *    doesn't specify an authorizer".
 */
import { randomUUID } from 'node:crypto';
import { arn } from '../core/index.js';
import {
  SIGNATURE_KEY,
  buildAuthorizerEvent,
  createTokenVerifier,
  findCredential,
  parseAuthorizerResponse,
  publicKeyProblem,
  type AuthorizerDecision,
  type AuthorizerEvent,
  type AuthorizerInput,
} from './authorizers-event.js';
import type { AuthorizerFunctions } from './authorizers-invoke.js';
import type { AuthorizerListWindow, AuthorizerRecord, AuthorizerStatus, AuthorizerStore } from './authorizers-store.js';
import { IdentityError } from './errors.js';

const NAME = /^[\w=,@-]{1,128}$/;
const TOKEN_KEY_NAME = /^[a-zA-Z0-9_-]{1,128}$/;
const KEY_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;
const MAX_FUNCTION_ARN = 2048;

export interface AuthorizerServiceDeps {
  store: AuthorizerStore;
  functions: AuthorizerFunctions;
  region: string;
  accountId: string;
  /** Smallest TTL a function may answer (AWS: 300 s). */
  minTtlSeconds: number;
  now: () => number;
}

export interface CreateAuthorizerInput {
  authorizerName: string;
  authorizerFunctionArn: string;
  tokenKeyName?: string;
  tokenSigningPublicKeys?: Record<string, string>;
  status?: AuthorizerStatus;
  signingDisabled?: boolean;
  enableCachingForHttp?: boolean;
  tags?: Array<{ Key: string; Value?: string }>;
}

export type UpdateAuthorizerInput = Partial<Pick<CreateAuthorizerInput, 'authorizerFunctionArn' | 'tokenKeyName' | 'tokenSigningPublicKeys' | 'status' | 'enableCachingForHttp'>>;

/** The result of `authorize`, with the event that was sent (for logs and tests). */
export interface AuthorizerOutcome {
  decision: AuthorizerDecision;
  event: AuthorizerEvent;
}

const bad = (message: string): IdentityError => new IdentityError('request.invalid', message);

export class AuthorizerService {
  private readonly verify = createTokenVerifier();

  constructor(private readonly deps: AuthorizerServiceDeps) {}

  arnOf(name: string): string {
    return arn(this.deps.region, this.deps.accountId, `authorizer/${name}`);
  }

  create(input: CreateAuthorizerInput): AuthorizerRecord {
    checkName(input.authorizerName);
    const now = this.deps.now();
    const rec: AuthorizerRecord = {
      authorizerName: input.authorizerName,
      authorizerFunctionArn: input.authorizerFunctionArn,
      tokenKeyName: input.tokenKeyName ?? null,
      tokenSigningPublicKeys: { ...(input.tokenSigningPublicKeys ?? {}) },
      status: input.status ?? 'ACTIVE',
      signingDisabled: input.signingDisabled === true,
      enableCachingForHttp: input.enableCachingForHttp === true,
      tags: input.tags ?? [],
      createdAt: now,
      lastModifiedAt: now,
    };
    checkRecord(rec);
    if (!this.deps.store.insertAuthorizer(rec)) {
      throw new IdentityError('authorizer.already_exists', `Authorizer ${rec.authorizerName} already exists`, {
        fields: { resourceId: rec.authorizerName, resourceArn: this.arnOf(rec.authorizerName) },
      });
    }
    return rec;
  }

  describe(name: string): AuthorizerRecord {
    const rec = this.deps.store.getAuthorizer(name);
    if (rec === null) throw new IdentityError('authorizer.not_found', `Authorizer ${name} does not exist`);
    return rec;
  }

  /** The authorizer, or null (the connect path asks without throwing). */
  describeOrNull(name: string): AuthorizerRecord | null {
    return this.deps.store.getAuthorizer(name);
  }

  /** Changes what is given; the signing requirement stays as created. */
  update(name: string, input: UpdateAuthorizerInput): AuthorizerRecord {
    const old = this.describe(name);
    const rec: AuthorizerRecord = {
      ...old,
      authorizerFunctionArn: input.authorizerFunctionArn ?? old.authorizerFunctionArn,
      tokenKeyName: input.tokenKeyName ?? old.tokenKeyName,
      tokenSigningPublicKeys: input.tokenSigningPublicKeys !== undefined ? { ...input.tokenSigningPublicKeys } : old.tokenSigningPublicKeys,
      status: input.status ?? old.status,
      enableCachingForHttp: input.enableCachingForHttp ?? old.enableCachingForHttp,
      lastModifiedAt: this.deps.now(),
    };
    checkRecord(rec);
    this.deps.store.updateAuthorizer(rec);
    return rec;
  }

  list(window: AuthorizerListWindow): { items: AuthorizerRecord[]; more: boolean } {
    return this.deps.store.listAuthorizers(window);
  }

  delete(name: string): void {
    const rec = this.describe(name);
    if (rec.status === 'ACTIVE') {
      throw new IdentityError('authorizer.delete_conflict', `Authorizer ${name} is ACTIVE; set its status to INACTIVE (UpdateAuthorizer) before deleting it`);
    }
    if (this.deps.store.getDefaultAuthorizer() === name) {
      throw new IdentityError('authorizer.delete_conflict', `Authorizer ${name} is the default authorizer; clear it (ClearDefaultAuthorizer) before deleting it`);
    }
    this.deps.store.deleteAuthorizer(name);
  }

  setDefault(name: string): AuthorizerRecord {
    const rec = this.describe(name);
    this.deps.store.setDefaultAuthorizer(name);
    return rec;
  }

  /** The default authorizer, or null when none is set. */
  defaultAuthorizer(): AuthorizerRecord | null {
    const name = this.deps.store.getDefaultAuthorizer();
    return name === null ? null : this.deps.store.getAuthorizer(name);
  }

  clearDefault(): void {
    if (this.deps.store.getDefaultAuthorizer() === null) throw new IdentityError('authorizer.not_found', 'No default authorizer is set');
    this.deps.store.setDefaultAuthorizer(null);
  }

  /**
   * Runs `rec` on what a client offers. `explicit` (TestInvokeAuthorizer's `token` and
   * `tokenSignature`) wins over what is found in `input`. Throws IdentityError:
   * `authorizer.signature_invalid` (the function was not called), `authorizer.function_unavailable`,
   * `authorizer.function_failed`, `authorizer.invalid_response`.
   */
  async authorize(rec: AuthorizerRecord, input: AuthorizerInput, explicit: { token?: string; signature?: string } = {}): Promise<AuthorizerOutcome> {
    const token = explicit.token ?? (rec.tokenKeyName !== null ? findCredential(input, rec.tokenKeyName) : undefined);
    if (!rec.signingDisabled) {
      const why = (m: string): IdentityError => new IdentityError('authorizer.signature_invalid', `Authorizer ${rec.authorizerName} requires a signed token: ${m}`);
      if (token === undefined) throw why(`the token '${rec.tokenKeyName}' is missing`);
      const signature = explicit.signature ?? findCredential(input, SIGNATURE_KEY);
      if (signature === undefined) throw why(`the signature (${SIGNATURE_KEY}) is missing`);
      if (!this.verify(token, signature, rec.tokenSigningPublicKeys)) throw why("the token's signature does not verify with any of its public keys");
    }
    const event = buildAuthorizerEvent(input, token, !rec.signingDisabled, randomUUID());
    const raw = await this.deps.functions.invoke(rec.authorizerFunctionArn, event);
    return { decision: parseAuthorizerResponse(raw, { minTtlSeconds: this.deps.minTtlSeconds }), event };
  }
}

function checkName(name: string): void {
  if (!NAME.test(name)) throw bad(`Invalid authorizerName '${name.slice(0, 140)}': 1-128 characters of letters, digits, _, =, ',', @ and -`);
}

/** Validates a record as it would be stored (create and update). */
function checkRecord(rec: AuthorizerRecord): void {
  if (rec.authorizerFunctionArn === '' || rec.authorizerFunctionArn.length > MAX_FUNCTION_ARN) {
    throw bad(`authorizerFunctionArn must be 1-${MAX_FUNCTION_ARN} characters`);
  }
  if (rec.tokenKeyName !== null && !TOKEN_KEY_NAME.test(rec.tokenKeyName)) {
    throw bad(`Invalid tokenKeyName '${rec.tokenKeyName.slice(0, 140)}': 1-128 characters of letters, digits, _ and -`);
  }
  for (const [name, pem] of Object.entries(rec.tokenSigningPublicKeys)) {
    if (!KEY_NAME.test(name)) throw bad(`Invalid key name '${name.slice(0, 140)}' in tokenSigningPublicKeys: 1-128 characters of letters, digits, :, _ and -`);
    const problem = publicKeyProblem(pem);
    if (problem !== null) throw bad(`tokenSigningPublicKeys '${name}' ${problem}`);
  }
  if (!rec.signingDisabled) {
    // config-custom-auth.html: "They are required values if signing is enabled."
    if (rec.tokenKeyName === null) throw bad('tokenKeyName is required when signing is enabled (signingDisabled is false)');
    if (Object.keys(rec.tokenSigningPublicKeys).length === 0) throw bad('tokenSigningPublicKeys is required when signing is enabled (signingDisabled is false)');
  }
}
